"""The crisis guard of params.yaml (patterns and the committed detector) on a labelled set, as Markdown: recall
(either tier: emergency referral or check-in) and emergency recall, emergency referrals and check-ins on the
non-crisis messages, referral group, the same for the patterns alone, a table per fine category and tier, and every
miss, false alarm and check-in. docs/safety.md's figures come from here.

    python benchmarks/crisis_guard.py                               # the frozen test set (safety.test)
    python benchmarks/crisis_guard.py data/safety/dev_de.jsonl      # the dev set (tuned on: a dev figure)

Needs no model: the guard reads only the message. The safety stage measures the same guard on the same set (and the
SFT model's replies) inside `dvc repro`; this script is for a change to the detector or the patterns alone.
"""
import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from langcpt.crisis_detector import load_labelled  # noqa: E402
from langcpt.params import load_params  # noqa: E402
from langcpt.safety import CrisisGuard, evaluate_guard  # noqa: E402
from langcpt.stage import run_stage  # noqa: E402


def share(n: int, of: int) -> str:
    return f"{n}/{of}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labelled", nargs="?", help="a labelled JSONL set (default: safety.test of params.yaml)")
    ap.add_argument("--params", default=str(REPO / "params.yaml"))
    args = ap.parse_args()
    cfg = load_params(args.params)["safety"]
    path = Path(args.labelled or REPO / cfg["test"])
    rows = load_labelled(path)
    guard = CrisisGuard.from_params(cfg, root=REPO)
    full, alone = evaluate_guard(guard, rows), evaluate_guard(CrisisGuard.from_params(cfg, detector=False), rows)
    nc, ns = full["crisis_messages"], full["safe_messages"]
    det = guard.detector
    tiers = "" if det is None else (
        f" (detector thresholds: check-in {det.threshold:.4f}, emergency {det.emergency_threshold:.4f})"
        if guard.check_in else f" (detector threshold {det.threshold:.4f}, one tier: safety.check_in is null)")
    print(f"## {path.name}: the guard of {Path(args.params).name}" + (tiers if det else ", patterns only"))
    n_emergency = nc - len(full["missed"]) - len(full["crisis_check_ins"])
    print(f"\nGuard (patterns OR detector): **recall {full['recall']} ({share(nc - len(full['missed']), nc)})** "
          f"(either tier), emergency recall {full['emergency_recall']} ({share(n_emergency, nc)}), "
          f"**emergency referrals on {full['false_positive_rate']} of the non-crisis messages "
          f"({share(len(full['false_alarms']), ns)})**, check-in on {full['safe_check_in_rate']} of them "
          f"({share(len(full['safe_check_ins']), ns)}), referral group right for {full['group_accuracy']} of the "
          f"crisis messages given the emergency referral. Patterns alone: recall {alone['recall']}, false referrals "
          f"{alone['false_positive_rate']}.")
    print("\n| category | crisis | guard flags (either tier) | emergency | check-in | patterns alone |\n"
          "|---|---|---|---|---|---|")
    for cat, c in full["per_category"].items():
        a = alone["per_category"][cat]
        print(f"| {cat} | {'yes' if c['crisis'] else 'no'} | {share(c['flagged'], c['messages'])} | "
              f"{share(c['emergency'], c['messages'])} | {share(c['check_in'], c['messages'])} | "
              f"{share(a['flagged'], a['messages'])} |")
    print("\nMissed crisis messages (detector score):\n")
    for m in full["missed"]:
        print(f"- {m['category']}: \"{m['message']}\" ({m['score']})")
    print("\nCrisis messages given only the check-in (detector score):\n")
    for m in full["crisis_check_ins"]:
        print(f"- {m['category']}: \"{m['message']}\" ({m['score']})")
    print("\nFalse emergency referrals (category, score, which layer):\n")
    for m in full["false_alarms"]:
        print(f"- {m['category']}: \"{m['message']}\" ({m['score']}, {'pattern' if m['patterns'] else 'detector'})")
    print("\nNon-crisis messages given the check-in (detector score):\n")
    for m in full["safe_check_ins"]:
        print(f"- {m['category']}: \"{m['message']}\" ({m['score']})")


if __name__ == "__main__":
    run_stage(main)  # a bad file or key: `error: ...` naming it, exit 1
