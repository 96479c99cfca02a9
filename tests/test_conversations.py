"""langcpt.conversations: loading, validation errors naming file:line, ShareGPT rows, train/holdout split."""
import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
from langcpt.conversations import load_conversations, split_conversations
from langcpt.fileio import InputError  # noqa: E402

DATASET = ROOT / "data" / "sft" / "support_de.jsonl"

GOOD = {
    "id": "x-001",
    "category": "listening",
    "messages": [
        {"role": "system", "content": "Sei freundlich."},
        {"role": "user", "content": "Mir geht es nicht gut."},
        {"role": "assistant", "content": "Das tut mir leid. Magst du erzählen, was los ist?"},
    ],
}


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def dumps(row) -> str:
    return json.dumps(row, ensure_ascii=False)


def msgs(*pairs):
    return [{"role": r, "content": c} for r, c in pairs]


def test_loads_good_rows_and_keeps_other_keys(tmp_path):
    second = {"messages": msgs(("user", "Hallo"), ("assistant", "Hallo! Schön, dass du da bist.")), "extra": 1}
    path = write(tmp_path / "good.jsonl", [dumps(GOOD), "", "   ", dumps(second)])
    convs = load_conversations(path)
    assert convs == [GOOD, second]


def test_accepts_crlf_bom_and_umlauts(tmp_path):
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(("\ufeff" + dumps(GOOD) + "\r\n" + dumps(GOOD) + "\r\n").encode("utf-8"))
    convs = load_conversations(path)
    assert len(convs) == 2 and convs[0]["messages"][2]["content"].endswith("erzählen, was los ist?")


BAD_ROWS = [
    ("missing messages", {"id": "a"}, "missing 'messages'"),
    ("messages not a list", {"messages": "Hallo"}, "'messages' must be a list"),
    ("message not an object", {"messages": ["Hallo", {"role": "assistant", "content": "Hi"}]},
     "messages[0] needs string 'role' and 'content'"),
    ("message without role", {"messages": [{"content": "Hallo"}, {"role": "assistant", "content": "Hi"}]},
     "messages[0] needs string 'role' and 'content'"),
    ("role not a string", {"messages": [{"role": 1, "content": "Hallo"}, {"role": "assistant", "content": "Hi"}]},
     "messages[0] needs string 'role' and 'content'"),
    ("content not a string", {"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "Hi"}]},
     "messages[0] needs string 'role' and 'content'"),
    ("unknown role", {"messages": msgs(("user", "Hallo"), ("tool", "{}"), ("assistant", "Hi"))},
     "messages[1] has unknown role 'tool'"),
    ("empty assistant turn", {"messages": msgs(("user", "Hallo"), ("assistant", ""))},
     "messages[1] is an empty assistant turn"),
    ("whitespace-only assistant turn", {"messages": msgs(("user", "Hallo"), ("assistant", " \n\t "))},
     "messages[1] is an empty assistant turn"),
    ("no assistant turn", {"messages": msgs(("system", "S"), ("user", "Hallo"))}, "no assistant turn"),
    ("empty messages", {"messages": []}, "no assistant turn"),
    ("system not first", {"messages": msgs(("user", "Hallo"), ("system", "S"), ("assistant", "Hi"))},
     "messages[1] is a system message"),
    ("sharegpt not a list", {"conversations": {"from": "human"}}, "'conversations' must be a list"),
    ("sharegpt turn without value", {"conversations": [{"from": "human"}, {"from": "gpt", "value": "Hi"}]},
     "conversations[0] needs string 'from' and 'value'"),
    ("sharegpt unknown from", {"conversations": [{"from": "human", "value": "Hallo"}, {"from": "bot", "value": "Hi"}]},
     "conversations[1] has unknown 'from' 'bot'"),
    ("sharegpt empty gpt turn", {"conversations": [{"from": "human", "value": "Hallo"}, {"from": "gpt", "value": " "}]},
     "messages[1] is an empty assistant turn"),
]


@pytest.mark.parametrize("name,row,expected", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_bad_row_names_file_and_line(tmp_path, name, row, expected):
    # line 1 good, line 2 blank, line 3 bad, line 4 good: the error must point at line 3
    path = write(tmp_path / "convs.jsonl", [dumps(GOOD), "", dumps(row), dumps(GOOD)])
    with pytest.raises(InputError) as e:
        load_conversations(path)
    message = str(e.value)
    assert f"{path}:3:" in message
    assert expected in message


@pytest.mark.parametrize("line,expected", [
    ('{"messages": [', "not valid JSON"),
    ("[1, 2, 3]", "expected a JSON object, got list"),
    ('"just a string"', "expected a JSON object, got str"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, expected):
    path = write(tmp_path / "broken.jsonl", [dumps(GOOD), dumps(GOOD), "", "", line])
    with pytest.raises(InputError) as e:
        load_conversations(path)
    assert f"{path}:5:" in str(e.value) and expected in str(e.value)


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes((dumps(GOOD) + "\n").encode("utf-8") + '{"messages": "Gr\xfc\xdfe"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match="not valid UTF-8") as e:
        load_conversations(path)
    assert f"{path}:2:" in str(e.value)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file_is_an_error(tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_conversations(path)
    assert str(path) in str(e.value) and "no conversations" in str(e.value)


def test_missing_file_is_an_input_error(tmp_path):
    path = tmp_path / "nope.jsonl"
    with pytest.raises(InputError) as e:
        load_conversations(path)
    assert str(path) in str(e.value)


def test_sharegpt_rows_are_normalised(tmp_path):
    sharegpt = {
        "id": "s-001",
        "conversations": [
            {"from": "system", "value": "Sei freundlich."},
            {"from": "human", "value": "Ich kann nicht schlafen."},
            {"from": "gpt", "value": "Das klingt anstrengend. Was geht dir nachts durch den Kopf?"},
            {"from": "Human", "value": "Die Arbeit."},
            {"from": "gpt", "value": "Das kann ich gut verstehen."},
        ],
    }
    path = write(tmp_path / "sharegpt.jsonl", [dumps(sharegpt), dumps(GOOD)])
    first, second = load_conversations(path)
    assert first == {
        "id": "s-001",
        "messages": msgs(
            ("system", "Sei freundlich."),
            ("user", "Ich kann nicht schlafen."),
            ("assistant", "Das klingt anstrengend. Was geht dir nachts durch den Kopf?"),
            ("user", "Die Arbeit."),
            ("assistant", "Das kann ich gut verstehen."),
        ),
    }
    assert second == GOOD


def test_committed_dataset_loads():
    convs = load_conversations(DATASET)
    assert len(convs) >= 180
    # crisis conversations also name their referral group (langcpt.safety: safety.referrals)
    assert all(set(c) == {"id", "category", "messages"} | ({"referral"} if c["category"] == "crisis" else set())
               for c in convs)


# ---- split ----------------------------------------------------------------------------------------------------


def _rows(counts: dict) -> list[dict]:
    rows = []
    for category, n in counts.items():
        for i in range(n):
            row = {"id": f"{category}-{i}", "messages": msgs(("user", "u"), ("assistant", "a"))}
            if category != "none":
                row["category"] = category
            rows.append(row)
    return rows


def test_split_is_deterministic_and_a_partition():
    convs = load_conversations(DATASET)
    train, holdout = split_conversations(convs, 0.1, seed=7)
    again = split_conversations(convs, 0.1, seed=7)
    assert (train, holdout) == again
    assert split_conversations(convs, 0.1, seed=8) != (train, holdout)
    ids = [c["id"] for c in train + holdout]
    assert sorted(ids) == sorted(c["id"] for c in convs) and len(set(ids)) == len(convs)
    # both parts keep the input order
    order = {c["id"]: i for i, c in enumerate(convs)}
    assert [order[c["id"]] for c in train] == sorted(order[c["id"]] for c in train)
    assert [order[c["id"]] for c in holdout] == sorted(order[c["id"]] for c in holdout)


def test_split_is_stratified_by_category():
    convs = load_conversations(DATASET)
    train, holdout = split_conversations(convs, 0.1, seed=0)
    total = Counter(c["category"] for c in convs)
    held = Counter(c["category"] for c in holdout)
    assert set(held) == set(total)
    for category, n in total.items():
        assert held[category] == max(1, round(n * 0.1))


def test_split_small_groups():
    convs = _rows({"a": 1, "b": 2, "c": 5, "none": 3, "d": 40})
    train, holdout = split_conversations(convs, 0.1, seed=3)
    held = Counter(c.get("category", "none") for c in holdout)
    assert held == {"b": 1, "c": 1, "none": 1, "d": 4}  # a single-item group stays in train
    assert "a-0" in [c["id"] for c in train]
    # a large fraction still leaves every group of >= 2 with at least one training row
    train, holdout = split_conversations(convs, 0.9, seed=3)
    assert Counter(c.get("category", "none") for c in train) == {"a": 1, "b": 1, "c": 1, "none": 1, "d": 4}


@pytest.mark.parametrize("fraction", [0, 0.0, 1, 1.0, -0.1, 1.5, float("nan"), True, "0.1", None])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(InputError, match="holdout_fraction"):
        split_conversations(_rows({"a": 4}), fraction, seed=0)
