"""The committed German support dataset (data/sft/support_de.jsonl), its fragments (data/sft/support_de/*.yaml) and
stage `sft_data` (pipelines/sft_data.py, langcpt.sft_data) that composes it: the file is byte-identical to what the
fragments give, so they never drift apart."""
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
from langcpt.conversations import load_conversations
from langcpt.safety import has_number, number_runs
from langcpt.sft_data import build, count_sentences, leading_sentences, load_fragments

DATASET = ROOT / "data" / "sft" / "support_de.jsonl"
FRAGMENTS = ROOT / "data" / "sft" / "support_de"
SCRIPT = ROOT / "pipelines" / "sft_data.py"
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
    system_prompt = load_fragments(FRAGMENTS)["system_prompt"]
    for c in convs:
        messages = c["messages"]
        assert messages[0] == {"role": "system", "content": system_prompt}
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
    system_prompt = load_fragments(FRAGMENTS)["system_prompt"]
    for phrase in ("einfühlsam", "kein Ersatz für eine Therapie", "keine Diagnosen", "112", "0800 111 0 111"):
        assert phrase in system_prompt


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
    fragments = load_fragments(FRAGMENTS)
    assert build(fragments) == build(fragments)


def run_script(*args):
    """The stage script from the repository root (it checks params.yaml first, as every stage)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_stage_builds_the_committed_file_byte_for_byte(tmp_path):
    out = tmp_path / "support_de.jsonl"
    r = run_script("--fragments", str(FRAGMENTS), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == DATASET.read_bytes(), "data/sft/support_de.jsonl differs from its fragments: " \
        "run `dvc repro sft_data` (or python pipelines/sft_data.py) and commit both"


@pytest.mark.parametrize("file, edit, message", [
    ("crisis.yaml", lambda d: d["scenarios"]["direct"].pop("refers"), "scenarios.direct.refers: missing"),
    ("topics.yaml", lambda d: d["topics"]["arbeit"].update(acks="nur ein Satz"),
     "topics.arbeit.acks: expected a non-empty list"),
    ("common.yaml", lambda d: d.update(seed="1234"), "seed: expected an integer"),
    ("crisis.yaml", lambda d: d["scenarios"]["harm"].update(cares="care_nobody"),
     "scenarios.harm.cares: no piece 'care_nobody'"),
])
def test_a_bad_fragment_names_file_and_key_and_writes_nothing(tmp_path, file, edit, message):
    fragments = tmp_path / "fragments"
    shutil.copytree(FRAGMENTS, fragments)
    data = yaml.safe_load((fragments / file).read_text(encoding="utf-8"))
    edit(data)
    (fragments / file).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    r = run_script("--fragments", str(fragments), "--out", str(out))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"error: {fragments / file}: ") and message in r.stderr, r.stderr
    assert out.read_text(encoding="utf-8") == "previous\n"  # the previous output stays, no temp files beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fragments", "out.jsonl"]
