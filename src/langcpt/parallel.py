"""An ordered process-pool map that a stage can stop at any time without hanging.

`multiprocessing.Pool` leaves its `with` block through `Pool.terminate()`, which can deadlock: its task-handler
thread, blocked on the input queue's lock, is joined forever (seen as a hung CI run after a full-disk error in
ingest, about 1 try in 7 on 2 cores). Here only a few tasks are ever submitted ahead, and stopping early (the
consumer closes the generator, a write fails, max_docs is reached) cancels what has not started, waits for the
few that have, and shuts a `concurrent.futures.ProcessPoolExecutor` down the documented way.
"""
from __future__ import annotations

import collections
import itertools
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable, items: Iterable[T], workers: int, args_of: Callable[[T], object] | None = None,
                ahead: int | None = None, mp_context=None) -> Iterator[tuple[T, R]]:
    """Yield (item, fn(args_of(item))) for each item, in input order, computed in `workers` processes.

    fn must be a module-level function (it is pickled); args_of (default: the item itself) picks what is sent to
    it, so an item may carry data the workers never see. At most `ahead` items (default 2 x workers) are
    submitted before their results are taken, so memory stays bounded and `items` may be a lazy stream.
    An exception raised by fn is raised here, for its item."""
    args_of = args_of or (lambda item: item)
    ahead = ahead or 2 * workers
    source = iter(items)
    pending: collections.deque = collections.deque()
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=mp_context)
    try:
        for item in itertools.islice(source, ahead):
            pending.append((item, executor.submit(fn, args_of(item))))
        while pending:
            item, future = pending.popleft()
            result = future.result()
            for nxt in itertools.islice(source, 1):
                pending.append((nxt, executor.submit(fn, args_of(nxt))))
            yield item, result
    finally:  # normal end, an error, or close(): nothing new starts, the running few finish, workers exit
        executor.shutdown(wait=True, cancel_futures=True)
