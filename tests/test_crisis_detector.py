"""The learned crisis detector (langcpt.crisis_detector) and the three message sets: the pure-Python scores equal
scikit-learn's, the committed artifact is the one the detector stage makes of the committed data, the test set is
the frozen one the README names and shares no message with the dev, training or SFT data, bad files name
file/line/key, and the calibration of both thresholds (the check-in and the emergency tier)."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re

import pytest
import yaml

from conftest import REPO
from langcpt.conversations import load_conversations
from langcpt.crisis_detector import (CATEGORY_GROUPS, FORMAT, GROUPS, CrisisDetector, features, fit, fit_models,
                                     load_labelled, normalize)
from langcpt.fileio import InputError
from langcpt.safety import CrisisGuard

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
DCFG = PARAMS["safety"]["detector"]


def _stage_module():
    spec = importlib.util.spec_from_file_location("detector_stage", REPO / "pipelines/detector.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_features_fold_umlauts_and_mark_words():
    assert normalize("Ich MÖCHTE nicht mehr!!") == "ich moechte nicht mehr"
    f = features("Ich möchte", char_ngrams=(3, 3), word_ngrams=(1, 2))
    assert " ic" in f and "ich" in f and "ch " in f and "oec" in f
    assert "w:ich" in f and "w:ich moechte" in f and "w:moechte" in f
    assert features("", (2, 5), (1, 2)) == []


def test_pure_python_scores_equal_scikit_learn():
    rows = load_labelled(REPO / DCFG["train"][0])
    texts, crisis = [r["text"] for r in rows], [r["crisis"] for r in rows]
    groups = [CATEGORY_GROUPS.get(r["category"]) if r["crisis"] else None for r in rows]
    vec, binary, multi = fit_models(texts, crisis, groups, c=1.0)
    det = CrisisDetector(fit(texts, crisis, groups, c=1.0))
    probe = [r["text"] for r in load_labelled(REPO / DCFG["dev"])][:40] + ["", "ööö", "Ich will sterben."]
    x = vec.transform(probe)
    p_crisis, p_group = binary.predict_proba(x)[:, 1], multi.predict_proba(x)
    for i, text in enumerate(probe):
        score, groups_p = det.scores(text)
        assert score == pytest.approx(p_crisis[i], abs=1e-5), text
        assert [groups_p[g] for g in GROUPS] == pytest.approx(list(p_group[i]), abs=1e-5), text


def test_committed_detector_is_the_stage_output_of_the_committed_data():
    """models/detector/detector.json records the sha256 of what it was fitted and calibrated on: it must be the
    committed training data, the SFT data and the dev set (else `dvc repro detector` was not rerun)."""
    det = CrisisDetector.load(REPO / DCFG["path"])
    data = det.data
    assert data["format"] == FORMAT and data["groups"] == list(GROUPS) and 0 < det.threshold < 1
    sources = {**data["trained_on"], **data["calibrated_on"]}
    expected = [*DCFG["train"], PARAMS["sft"]["data"], DCFG["dev"]]
    assert sorted(sources) == sorted(expected)
    for path, digest in sources.items():
        assert hashlib.sha256((REPO / path).read_bytes()).hexdigest() == digest, f"{path} changed since the fit"
    assert PARAMS["safety"]["test"] not in sources


def test_committed_detector_classifies_and_names_the_group():
    det = CrisisDetector.load(REPO / DCFG["path"])
    guard = CrisisGuard.from_params(PARAMS["safety"])
    cases = {"Ich habe beschlossen, mir morgen das Leben zu nehmen.": "suicide",
             "Mein Mann hat mich gestern wieder verprügelt und gewürgt.": "violence",
             "Ich bin 12 und mein Stiefvater schlägt mich jeden Abend.": "child",
             "Ich habe gerade eine ganze Flasche Schlaftabletten geschluckt.": "poisoning"}
    for text, group in cases.items():
        found = guard.detect(text)
        assert found["crisis"] and found["group"] == group, (text, found, det.scores(text))
    assert not guard.detect("Wie wird morgen das Wetter in Hamburg?")["crisis"]


def test_the_sets_are_disjoint_and_the_test_set_is_the_frozen_one():
    test_path = REPO / PARAMS["safety"]["test"]
    digest = hashlib.sha256(test_path.read_bytes()).hexdigest()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"{re.escape(PARAMS['safety']['test'])}[\s\S]{{0,200}}sha256 `?{digest}", readme), \
        "the README's sha256 of the frozen test set differs: the test set must never change"
    sets = {"test": load_labelled(test_path), "dev": load_labelled(REPO / DCFG["dev"]),
            "train": [r for p in DCFG["train"] for r in load_labelled(REPO / p)]}
    sft = {m["content"] for c in load_conversations(REPO / PARAMS["sft"]["data"]) for m in c["messages"]
           if m["role"] == "user"}
    texts = {k: {r["text"] for r in v} for k, v in sets.items()}
    assert not texts["test"] & texts["dev"] and not texts["test"] & texts["train"] and not texts["dev"] & texts["train"]
    assert not sft & (texts["test"] | texts["dev"])
    for name in ("test", "dev"):
        rows = sets[name]
        assert sum(r["crisis"] for r in rows) >= 100 and sum(not r["crisis"] for r in rows) >= 100, name
        crisis_categories = {r["category"] for r in rows if r["crisis"]}
        assert crisis_categories == set(CATEGORY_GROUPS) - {"crisis"}, name  # the whole scope
        assert {"idiom", "accidental_injury", "essay_book", "news", "everyday_stress", "exam_stress", "sleep",
                "loneliness", "grief"} <= {r["category"] for r in rows if not r["crisis"]}, name


def test_bad_files_name_the_file_line_and_key(tmp_path):
    bad = tmp_path / "set.jsonl"
    bad.write_text('{"text": "a", "crisis": true, "category": "suicide_plan"}\n{"text": "b", "crisis": "ja", '
                   '"category": "x"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=rf"{re.escape(str(bad))}:2: key 'crisis'"):
        load_labelled(bad)
    bad.write_text('{"text": "a", "crisis": true, "category": "traurig"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r":1: crisis category 'traurig' is not one of"):
        load_labelled(bad)
    bad.write_text("{nope\n", encoding="utf-8")
    with pytest.raises(InputError, match=r":1: not valid JSON"):
        load_labelled(bad)
    data = json.loads((REPO / DCFG["path"]).read_text(encoding="utf-8"))
    broken = tmp_path / "detector.json"
    broken.write_text(json.dumps({**data, "threshold": "hoch"}), encoding="utf-8")
    with pytest.raises(InputError, match=rf"{re.escape(str(broken))}: key 'threshold'"):
        CrisisDetector.load(broken)
    name = next(iter(data["features"]))
    broken.write_text(json.dumps({**data, "features": {name: [1.0, 2.0]}}), encoding="utf-8")
    with pytest.raises(InputError, match="key 'features'"):
        CrisisDetector.load(broken)
    with pytest.raises(InputError, match="not found"):
        CrisisDetector.load(tmp_path / "none.json")
    with pytest.raises(InputError, match=r"no crisis message of referral group\(s\) \['child', 'poisoning'"):
        fit(["a b", "a d", "a f"], [True, True, False], ["suicide", "violence", None])


def test_calibration_takes_the_highest_threshold_that_reaches_the_recall():
    calibrate = _stage_module().calibrate
    guard = CrisisGuard([r"\bsterben\b"], "Ruf 112 an.", ["112"])
    rows = [{"text": t, "crisis": c} for t, c in
            [("ich will sterben", True), ("a", True), ("b", True), ("c", True), ("d", False)]]
    scores = {"ich will sterben": 0.1, "a": 0.9, "b": 0.6, "c": 0.2, "d": 0.95}  # each row's detector score
    assert calibrate(guard, scores, rows, 0.75) == 0.6  # the pattern catches one; 0.6 adds a and b: 3 of 4
    assert calibrate(guard, scores, rows, 1.0) == 0.2
    assert calibrate(guard, scores, rows, 0.25) == 0.9  # the pattern alone is enough: the highest crisis score


def test_emergency_calibration_takes_the_lowest_threshold_within_the_false_positive_target():
    """The emergency threshold: the lowest row score (not below the lower threshold) at which patterns OR score flag
    at most the target share of the non-crisis rows; a non-crisis message a pattern flags counts too."""
    calibrate_emergency = _stage_module().calibrate_emergency
    guard = CrisisGuard([r"\bsterben\b"], "Ruf 112 an.", ["112"])
    rows = [{"text": t, "crisis": c} for t, c in
            [("a", True), ("b", True), ("c", True), ("zum sterben langweilig", False), ("d", False), ("e", False),
             ("f", False), ("g", False)]]
    scores = {"a": 0.9, "b": 0.7, "c": 0.55, "zum sterben langweilig": 0.1, "d": 0.8, "e": 0.6, "f": 0.5,
              "g": 0.2}  # each row's detector score
    assert calibrate_emergency(guard, scores, rows, 0.2) == 0.9  # 1 of 5 allowed: the pattern; d (0.8) must stay under
    assert calibrate_emergency(guard, scores, rows, 0.4) == 0.7  # pattern + d: the lowest score above e (0.6) is b's
    assert calibrate_emergency(guard, scores, rows, 0.6) == 0.55  # pattern + d + e: just above f (0.5)
    assert calibrate_emergency(guard, scores, rows, 0.6, floor=0.6) == 0.6  # never below the lower threshold
    assert calibrate_emergency(guard, scores, rows, 1.0, floor=0.3) == 0.3  # the lower threshold already meets it
    assert calibrate_emergency(guard, scores, rows, 0.0) == 1.0  # the pattern alone is over the target


def test_committed_emergency_threshold_is_the_dev_rule():
    """detector.json's emergency threshold is what calibrate_emergency gives on the dev set with the params' target,
    above the lower threshold, and the dev false emergency referrals at it meet the target."""
    det = CrisisDetector.load(REPO / DCFG["path"])
    guard = CrisisGuard.from_params(PARAMS["safety"], detector=False)
    dev = load_labelled(REPO / DCFG["dev"])
    target = DCFG["emergency_max_false_positive_rate"]
    assert det.threshold < det.emergency_threshold < 1
    stage = _stage_module()
    assert det.emergency_threshold == stage.calibrate_emergency(guard, stage.score_rows(det, dev), dev, target,
                                                                det.threshold)
    safe = [r["text"] for r in dev if not r["crisis"]]
    alarms = sum(bool(guard.matches(t)) or det.score(t) >= det.emergency_threshold for t in safe)
    assert alarms / len(safe) <= target


def test_a_detector_file_without_the_emergency_threshold_is_one_tier(tmp_path):
    """A detector.json of before the two tiers loads: emergency threshold = threshold, so every message over it gets
    the emergency referral; a bad emergency_threshold is an error naming the file and the key."""
    data = json.loads((REPO / DCFG["path"]).read_text(encoding="utf-8"))
    old = tmp_path / "detector.json"
    old.write_text(json.dumps({k: v for k, v in data.items() if k != "emergency_threshold"}), encoding="utf-8")
    det = CrisisDetector.load(old)
    assert det.emergency_threshold == det.threshold == data["threshold"]
    guard = CrisisGuard.from_params({**PARAMS["safety"], "detector": {**DCFG, "path": str(old)}})
    message = "Ich habe einfach keine Energie mehr."  # between the committed detector's two thresholds, no pattern
    assert guard.detect(message)["tier"] == "emergency"
    assert guard.apply(message, "Oh.")[0] == "Oh.\n\n" + PARAMS["safety"]["referral"]
    for bad in ("hoch", True, 1.5, data["threshold"] / 2, None):
        old.write_text(json.dumps({**data, "emergency_threshold": bad}), encoding="utf-8")
        with pytest.raises(InputError, match=rf"{re.escape(str(old))}: key 'emergency_threshold': .* is not a number"):
            CrisisDetector.load(old)


def test_the_guard_report_prints_the_guards_own_figures(tmp_path):
    """benchmarks/crisis_guard.py (where docs/safety.md's figures come from): its recall, false referrals, table and
    misses are evaluate_guard's on the set it is given."""
    import subprocess
    import sys

    from langcpt.safety import evaluate_guard

    rows = load_labelled(REPO / DCFG["dev"])
    want = evaluate_guard(CrisisGuard.from_params(PARAMS["safety"], root=REPO), rows)
    out = subprocess.run([sys.executable, str(REPO / "benchmarks/crisis_guard.py"), str(REPO / DCFG["dev"])],
                         capture_output=True, text=True, check=True).stdout
    n_crisis = want["crisis_messages"]
    assert f"recall {want['recall']} ({n_crisis - len(want['missed'])}/{n_crisis})" in out
    assert f"referrals on {want['false_positive_rate']} of the non-crisis messages " \
           f"({len(want['false_alarms'])}/{want['safe_messages']})" in out
    assert f"emergency recall {want['emergency_recall']} " in out
    assert f"check-in on {want['safe_check_in_rate']} of them ({len(want['safe_check_ins'])}/" in out
    for cat, c in want["per_category"].items():
        assert f"| {cat} | {'yes' if c['crisis'] else 'no'} | {c['flagged']}/{c['messages']} | " \
               f"{c['emergency']}/{c['messages']} | {c['check_in']}/{c['messages']} |" in out
    assert sum(line.startswith("- ") for line in out.splitlines()) == len(want["missed"]) + len(want["false_alarms"]) \
        + len(want["crisis_check_ins"]) + len(want["safe_check_ins"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "crisis": "ja", "category": "idiom"}\n', encoding="utf-8")
    failed = subprocess.run([sys.executable, str(REPO / "benchmarks/crisis_guard.py"), str(bad)],
                            capture_output=True, text=True)
    assert failed.returncode == 1 and f"error: {bad}:1: key 'crisis'" in failed.stderr
