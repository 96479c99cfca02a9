"""The committed German support dataset (data/sft/support_de.jsonl) and its generator."""
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
from langcpt.conversations import load_conversations
from langcpt.support_dataset import SYSTEM_PROMPT, build, count_sentences  # noqa: E402

DATASET = ROOT / "data" / "sft" / "support_de.jsonl"
CATEGORIES = {"listening", "reflecting", "coping", "boundaries", "crisis"}


@pytest.fixture(scope="module")
def convs():
    return load_conversations(DATASET)


def assistant_replies(conv):
    return [m["content"] for m in conv["messages"] if m["role"] == "assistant"]


def test_counts_and_categories(convs):
    assert len(convs) >= 180
    per_category = Counter(c["category"] for c in convs)
    assert set(per_category) == CATEGORIES
    assert all(n >= 25 for n in per_category.values()), per_category


def test_ids_unique_sorted_and_named_after_category(convs):
    ids = [c["id"] for c in convs]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for c in convs:
        assert re.fullmatch(rf"{c['category']}-\d{{3}}", c["id"]), c["id"]


def test_structure(convs):
    for c in convs:
        messages = c["messages"]
        assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
        rest = [m["role"] for m in messages[1:]]
        assert rest == ["user", "assistant"] * (len(rest) // 2) and len(rest) % 2 == 0, c["id"]
        assert 1 <= len(rest) // 2 <= 4, c["id"]
        assert all(m["content"].strip() for m in messages), c["id"]


def test_multi_turn_share(convs):
    multi = sum(len(c["messages"]) > 3 for c in convs)
    assert multi / len(convs) >= 0.4


def test_no_duplicate_conversations(convs):
    keys = [json.dumps(c["messages"], ensure_ascii=False) for c in convs]
    assert len(set(keys)) == len(keys)


def test_system_prompt_is_german_and_sets_limits():
    for phrase in ("einfühlsam", "kein Ersatz für eine Therapie", "keine Diagnosen", "112", "0800 111 0 111"):
        assert phrase in SYSTEM_PROMPT


def test_crisis_replies_refer_to_help(convs):
    crisis = [c for c in convs if c["category"] == "crisis"]
    assert len(crisis) >= 25
    assert len({c["messages"][1]["content"] for c in crisis}) >= 15  # varied user phrasings
    # every referral group of the guard (params.yaml safety.referrals), each with its own numbers in every reply
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["safety"]
    numbers = {"suicide": params["referral_numbers"], **{g: r["numbers"] for g, r in params["referrals"].items()}}
    assert {c["referral"] for c in crisis} == set(numbers)
    for c in crisis:
        for reply in assistant_replies(c):
            assert all(n in reply for n in numbers[c["referral"]]), (c["id"], reply)
        if c["referral"] == "suicide":
            assert "allein" in assistant_replies(c)[0], c["id"]  # do not stay alone


def test_boundary_replies_decline_and_refer(convs):
    for c in convs:
        if c["category"] != "boundaries":
            continue
        first = assistant_replies(c)[0]
        assert re.search(r"kein (Arzt|Therapeut)|weder Arzt noch Therapeut", first), (c["id"], first)
        assert re.search(r"ärztin|arzt|psychotherapeut|apotheke|116 117", first, re.I), (c["id"], first)


def test_coping_covers_the_techniques(convs):
    text = " ".join(r for c in convs if c["category"] == "coping" for r in assistant_replies(c))
    for technique in ("4-7-8", "5-4-3-2-1", "Spaziergang|Runde draußen", "aufzuschreiben", "vertrau",
                      "Abendroutine|Schlafzimmer", "kleine(n)? (Schritt|Aufgabe)"):
        assert re.search(technique, text), technique


def test_reflecting_mirrors_feelings(convs):
    for c in convs:
        if c["category"] == "reflecting":
            first = assistant_replies(c)[0]
            assert re.search(r"Es klingt, als|Es hört sich an, als|Ich höre heraus", first), (c["id"], first)


def test_replies_are_short_and_varied(convs):
    replies = [r for c in convs for r in assistant_replies(c)]
    assert all(1 <= count_sentences(r) <= 5 for r in replies)
    firsts = [assistant_replies(c)[0] for c in convs]
    assert len(set(firsts)) >= 0.9 * len(firsts)
    assert len(set(replies)) >= 0.6 * len(replies)


def test_file_is_utf8_with_real_umlauts():
    raw = DATASET.read_text(encoding="utf-8")
    assert "\\u00" not in raw  # written with ensure_ascii=False
    assert all(ch in raw for ch in "äöüß")
    lines = raw.splitlines()
    rows = [json.loads(line) for line in lines]
    assert all(list(r) == ["id", "category", "messages"] + (["referral"] if r["category"] == "crisis" else [])
               for r in rows)


def test_count_sentences():
    assert count_sentences("Hallo.") == 1
    assert count_sentences("Wie geht es dir? Ich bin da. Erzähl ruhig!") == 3
    assert count_sentences("Du kannst sagen: „Mir geht es nicht gut.“ Das reicht.") == 2
    assert count_sentences("Ruf die 0800 111 0 111 an") == 0


def test_build_is_deterministic():
    assert build() == build()


def test_regenerating_gives_identical_bytes(tmp_path):
    out = tmp_path / "support_de.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run([sys.executable, "-m", "langcpt.support_dataset", str(out)], check=True, cwd=tmp_path, env=env,
                   capture_output=True)
    assert out.read_bytes() == DATASET.read_bytes()
