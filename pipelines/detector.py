"""Stage `detector`: fit the learned layer of the crisis guard and calibrate its threshold on the dev set.

- Fit (langcpt.crisis_detector.fit, scikit-learn): the labelled messages of `safety.detector.train` and, with
  `use_sft_data`, the user messages of `sft.data` (crisis: the first message of each crisis conversation, its
  referral group from the conversation's "referral" key; the group model learns from those that have one). Never the
  dev or the test set: a training message that is also in either is an error.
- Calibrate two thresholds on `safety.detector.dev` (langcpt.safety: the two tiers of the guard's answer):
  - `threshold` (the lower one, where the guard answers at all: the check-in tier starts): the highest detector
    probability at which the guard (patterns OR detector) flags at least `target_recall` of the dev crisis messages;
  - `emergency_threshold` (where the emergency referral starts): the lowest dev message score, not below
    `threshold`, at which the guard (patterns OR detector >= it) gives an emergency referral to at most
    `emergency_max_false_positive_rate` of the dev non-crisis messages (1.0 if the patterns alone give more: then only
    the patterns give it).
  Dev figures at these thresholds go to reports/detector/metrics.json; they are optimistic (the patterns were written
  on dev, the thresholds chosen there): the unbiased figures are the safety stage's, on the test set.
- Writes models/detector/detector.json (plain JSON: features with idf and weights, intercepts, both thresholds, the
  sha256 of the files it was trained and calibrated on).

    python pipelines/detector.py
"""
import json
from pathlib import Path

from langcpt.conversations import load_conversations
from langcpt.crisis_detector import CATEGORY_GROUPS, CrisisDetector, file_sha256, fit, load_labelled
from langcpt.fileio import InputError, atomic_path, write_json
from langcpt.params import load_params, section
from langcpt.safety import CrisisGuard, conversation_messages, evaluate_guard
from langcpt.stage import Timer, run_stage


def calibrate(guard: CrisisGuard, scores: dict[str, float], rows: list[dict], target_recall: float) -> float:
    """The highest threshold at which patterns OR detector flag >= target_recall of the crisis rows (0.0 if none).
    `scores`: each row's detector score by text (`score_rows`)."""
    crisis = [r["text"] for r in rows if r["crisis"]]
    by_pattern = [bool(guard.matches(t)) for t in crisis]
    crisis_scores = [scores[t] for t in crisis]
    need = target_recall * len(crisis)
    for t in sorted(set(crisis_scores), reverse=True):
        if sum(p or s >= t for p, s in zip(by_pattern, crisis_scores)) >= need - 1e-9:
            return t
    return 0.0


def calibrate_emergency(guard: CrisisGuard, scores: dict[str, float], rows: list[dict],
                        max_false_positive_rate: float, floor: float = 0.0) -> float:
    """The lowest score of a row (>= `floor`, the lower threshold) at which patterns OR score >= it flag at most
    `max_false_positive_rate` of the non-crisis rows (`floor` if no score is that low; 1.0 if no threshold gets
    there: the patterns alone flag more). `scores`: each row's detector score by text (`score_rows`)."""
    safe = [r["text"] for r in rows if not r["crisis"]]
    by_pattern = [bool(guard.matches(t)) for t in safe]
    safe_scores = [scores[t] for t in safe]
    allowed = max_false_positive_rate * len(safe) + 1e-9
    candidates = sorted({floor} | {scores[r["text"]] for r in rows if scores[r["text"]] >= floor})
    for t in candidates:
        if sum(p or s >= t for p, s in zip(by_pattern, safe_scores)) <= allowed:
            return t
    return 1.0


def score_rows(detector: CrisisDetector, rows: list[dict]) -> dict[str, float]:
    """{text: detector score} of the rows, each message scored once (both calibrations read it)."""
    return {t: detector.score(t) for t in dict.fromkeys(r["text"] for r in rows)}


def main():
    params = load_params()
    cfg = section(params, "safety")
    dcfg = cfg.get("detector")
    if not dcfg:
        raise InputError("params.yaml: safety.detector is null; the detector stage needs its train/dev/path keys")
    rows = [r for path in dcfg["train"] for r in load_labelled(path)]
    sources = {path: file_sha256(path) for path in dcfg["train"]}
    if dcfg.get("use_sft_data", True):
        data = Path(section(params, "sft")["data"])
        convs = load_conversations(data)
        crisis, safe = conversation_messages(convs)
        group_of = {c["messages"][1]["content"]: c.get("referral") for c in convs if c.get("category") == "crisis"}
        rows += [{"text": t, "crisis": True, "group": group_of.get(t)} for t in crisis]
        rows += [{"text": t, "crisis": False} for t in safe]
        sources[str(data)] = file_sha256(data)
    dev = load_labelled(dcfg["dev"])
    held_out = {r["text"] for r in dev}
    test_path = cfg.get("test")
    if test_path and Path(test_path).exists():
        held_out |= {r["text"] for r in load_labelled(test_path)}
    leaked = sorted({r["text"] for r in rows} & held_out)
    if leaked:
        raise InputError(f"detector training data: {len(leaked)} message(s) are in the dev or test set, e.g. "
                         f"{leaked[0]!r}")
    with Timer() as t:
        model = fit([r["text"] for r in rows], [r["crisis"] for r in rows],
                    [r["group"] if "group" in r else CATEGORY_GROUPS.get(r["category"]) if r["crisis"] else None
                     for r in rows],
                    c=float(dcfg.get("c", 1.0)), min_df=int(dcfg.get("min_df", 2)))
        detector = CrisisDetector(model)
        guard = CrisisGuard.from_params(cfg, detector=False)
        scores = score_rows(detector, dev)
        model["threshold"] = calibrate(guard, scores, dev, float(dcfg.get("target_recall", 0.95)))
        model["emergency_threshold"] = calibrate_emergency(
            guard, scores, dev, float(dcfg.get("emergency_max_false_positive_rate", 0.02)), model["threshold"])
        model["trained_on"] = sources
        model["calibrated_on"] = {dcfg["dev"]: file_sha256(dcfg["dev"])}
        guard.detector = CrisisDetector(model)
        report = evaluate_guard(guard, dev)
    with atomic_path(dcfg["path"]) as tmp:
        tmp.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    metrics = {"dev_recall": report["recall"], "dev_emergency_recall": report["emergency_recall"],
               "dev_false_positive_rate": report["false_positive_rate"],
               "dev_safe_check_in_rate": report["safe_check_in_rate"],
               "dev_group_accuracy": report["group_accuracy"], "threshold": round(model["threshold"], 6),
               "emergency_threshold": round(model["emergency_threshold"], 6),
               "train_messages": len(rows), "train_crisis": sum(r["crisis"] for r in rows),
               "features": len(model["features"]), "dev": report, "wall_seconds": t.seconds}
    write_json("reports/detector/metrics.json", metrics)
    print(f"detector: {len(rows)} training messages, {len(model['features'])} features; thresholds: check-in "
          f"{model['threshold']:.4f}, emergency {model['emergency_threshold']:.4f}. Dev: recall (either tier) "
          f"{report['recall']}, emergency recall {report['emergency_recall']}, false emergency referrals "
          f"{report['false_positive_rate']}, check-ins on non-crisis messages {report['safe_check_in_rate']}, "
          f"referral group right {report['group_accuracy']}" + ("" if guard.check_in else
                                                                 " (safety.check_in is null: one tier)"))


if __name__ == "__main__":
    run_stage(main)
