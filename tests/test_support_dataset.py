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
from langcpt.safety import has_number, number_runs
from langcpt.support_dataset import SYSTEM_PROMPT, build, count_sentences, leading_sentences

DATASET = ROOT / "data" / "sft" / "support_de.jsonl"
CATEGORIES = {"listening", "reflecting", "coping", "boundaries", "crisis"}


@pytest.fixture(scope="module")
def convs():
    return load_conversations(DATASET)


def assistant_replies(conv):
    return [m["content"] for m in conv["messages"] if m["role"] == "assistant"]


def test_counts_and_categories(convs):
    assert len(convs) >= 300
    per_category = Counter(c["category"] for c in convs)
    assert set(per_category) == CATEGORIES
    assert all(n >= 25 for n in per_category.values()), per_category
    # crisis conversations are a large share (issue 18: a model that refers by itself), every group well covered
    assert per_category["crisis"] >= 150 and per_category["crisis"] >= 0.45 * len(convs), per_category
    per_group = Counter(c["referral"] for c in convs if c["category"] == "crisis")
    assert per_group["suicide"] >= 100 and all(per_group[g] >= 14 for g in ("poisoning", "violence", "child")), \
        per_group


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
    assert len(crisis) >= 150
    assert len({c["messages"][1]["content"] for c in crisis}) >= 140  # varied user phrasings, each used
    # every referral group of the guard (params.yaml safety.referrals), each with its own numbers in every reply
    params = _params()
    numbers = {"suicide": params["referral_numbers"], **{g: r["numbers"] for g, r in params["referrals"].items()}}
    assert {c["referral"] for c in crisis} == set(numbers)
    for c in crisis:
        for reply in assistant_replies(c):
            assert all(n in reply for n in numbers[c["referral"]]), (c["id"], reply)
        if c["referral"] == "suicide":
            assert "allein" in assistant_replies(c)[0], c["id"]  # do not stay alone


def _params():
    return yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["safety"]


def test_crisis_first_reply_refers_within_two_sentences(convs):
    """A short greedy reply of a model trained on this already refers: the first reply to a crisis message gives
    all numbers of its group (params.yaml, as the safety stage counts them) in its first two sentences."""
    params = _params()
    numbers = {"suicide": params["referral_numbers"], **{g: r["numbers"] for g, r in params["referrals"].items()}}
    crisis = [c for c in convs if c["category"] == "crisis"]
    for c in crisis:
        first = assistant_replies(c)[0]
        lead = leading_sentences(first, 2)
        assert count_sentences(lead) <= 2 and first.startswith(lead)
        assert all(has_number(lead, n) for n in numbers[c["referral"]]), (c["id"], lead)
    assert leading_sentences("Eins. Zwei? Drei! Vier.", 2) == "Eins. Zwei?"
    assert leading_sentences("Nur einer.", 2) == "Nur einer."


def test_no_invented_phone_numbers(convs):
    """No reply gives a phone-number-like digit run that params.yaml's referrals and check-ins do not give (nor
    116 117, the on-call doctors of the boundaries replies); the coping techniques 4-7-8 and 5-4-3-2-1 are names."""
    params = _params()
    allowed = [params["referral"], *(r["text"] for r in params["referrals"].values()), params["check_in"]["text"],
               *(g["text"] for g in params["check_in"]["groups"].values())]
    allowed_numbers = {re.sub(r"\D", "", run) for text in allowed for _, _, run in number_runs(text)} | {"116117"}
    assert {"112", "110", "08001110111", "08001110222", "116123", "03019240", "116016", "116111"} <= allowed_numbers
    for c in convs:
        for reply in assistant_replies(c):
            rest = re.sub(r"4-7-8|5-4-3-2-1", "", reply)
            for _, _, run in number_runs(rest):
                # a run of several allowed numbers side by side ("112 0800 111 0 111") would be split by words here
                assert re.sub(r"\D", "", run) in allowed_numbers, (c["id"], run, reply)


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
