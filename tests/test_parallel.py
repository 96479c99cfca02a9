"""langcpt.parallel.ordered_map: ordered results, lazy input, errors per item, and an early stop that cancels
what has not started and leaves no worker process behind."""
import multiprocessing
import time
from pathlib import Path

import pytest

from langcpt.parallel import ordered_map


def _square(x: int) -> int:
    return x * x


def _touch_then_sleep(args: tuple[str, int]) -> int:
    folder, i = args
    Path(folder, f"{i}.started").touch()
    time.sleep(0.2)
    return i


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x


def test_results_come_in_input_order_with_their_items():
    items = [{"id": i, "payload": "not sent to the workers"} for i in range(50)]
    out = list(ordered_map(_square, items, workers=2, args_of=lambda item: item["id"]))
    assert [item for item, _ in out] == items
    assert [r for _, r in out] == [i * i for i in range(50)]


def test_the_input_is_read_only_a_few_items_ahead():
    taken = []

    def source():
        for i in range(1000):
            taken.append(i)
            yield i

    results = ordered_map(_square, source(), workers=2, ahead=3)
    assert next(results) == (0, 0)
    assert len(taken) == 4  # the 3 submitted first, then one more for the result taken
    results.close()


def test_closing_early_cancels_the_rest_and_stops_the_workers(tmp_path):
    results = ordered_map(_touch_then_sleep, range(40), workers=2, args_of=lambda i: (str(tmp_path), i), ahead=4)
    assert next(results)[1] == 0
    results.close()
    started = sorted(int(p.stem) for p in tmp_path.glob("*.started"))
    assert started == list(range(len(started))) and len(started) <= 6  # only what was already in flight
    assert multiprocessing.active_children() == []


def test_an_error_in_a_worker_is_raised_for_its_item_and_the_workers_stop():
    seen = []
    with pytest.raises(ValueError, match="bad item 3"):
        for item, result in ordered_map(_fail_on_three, range(20), workers=2):
            seen.append(result)
    assert seen == [0, 1, 2]
    assert multiprocessing.active_children() == []


def test_spawn_context_works_for_module_level_functions():
    out = list(ordered_map(_square, range(10), workers=2, mp_context=multiprocessing.get_context("spawn")))
    assert [r for _, r in out] == [i * i for i in range(10)]
