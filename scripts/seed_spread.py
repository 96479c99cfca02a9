"""Run-to-run spread of every metric over runs that differ only in their seed (issues 21 and 22).

    python scripts/seed_spread.py reports/gpu/seeds/42 reports/gpu/seeds/43 reports/gpu/seeds/44 \
        --out reports/gpu/seeds/spread

Each RUN folder holds the stages' reports as the pipeline writes them (`<stage>/metrics.json`, e.g. copies of
reports/pretrain, reports/sft, reports/evaluate, reports/safety of one run). Every numeric leaf becomes a dotted
key (`<stage>.<path>`, as MLflow logs them); for each key the output gives n, mean, sample standard deviation, min,
max and spread (max - min). `--out` writes spread.json (every key) and spread.md (the keys named in HEADLINE,
PROFICIENCY and OTHER, and for each proficiency measure whether the CPT model beats the base model by more than the
spread of the CPT runs).
"""
import argparse
import json
import math
import statistics
from pathlib import Path

from langcpt.tracking import flatten

HEADLINE = ["evaluate.{m}.target_bpb", "evaluate.{m}.general_bpb", "evaluate.{m}.target_perplexity"]
PROFICIENCY = ["translation_chrf_greedy", "translation_chrf_sampled", "translation_chat_chrf_greedy",
               "translation_chat_chrf_sampled", "continuation_dictionary_greedy",
               "continuation_dictionary_sampled", "continuation_language_share_sampled", "chat_language_share_sampled",
               "chat_dictionary_sampled", "continuation_distinct_2_sampled", "continuation_repetition_4_sampled"]
OTHER = ["pretrain.eval_loss", "pretrain.eval_perplexity", "pretrain.tokens_per_second", "sft.heldout_loss",
         "safety.sft_crisis_referral_rate", "safety.sft_crisis_any_referral_rate",
         "safety.guarded_crisis_referral_rate"]


def load_run(folder: Path) -> dict[str, float]:
    flat = {}
    for metrics in sorted(folder.glob("*/metrics.json")):
        for k, v in flatten(json.loads(metrics.read_text()), metrics.parent.name + ".").items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                flat[k] = float(v)
    if not flat:
        raise SystemExit(f"{folder}: no <stage>/metrics.json here")
    return flat


def spread(runs: list[dict[str, float]]) -> dict[str, dict]:
    keys = sorted(set().union(*runs))
    out = {}
    for k in keys:
        vals = [r[k] for r in runs if k in r]
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        out[k] = {"n": len(vals), "mean": statistics.fmean(vals), "sd": sd,
                  "min": min(vals), "max": max(vals), "spread": max(vals) - min(vals), "values": vals}
    return out


def fmt(s: dict | None) -> str:
    if s is None:
        return "-"
    return f"{s['mean']:.4g} ± {s['sd']:.2g} ({s['min']:.4g}–{s['max']:.4g})"


def markdown(stats: dict, names: list[str]) -> str:
    lines = [f"Runs: {', '.join(names)} (mean ± sample sd (min–max) over {len(names)} runs)", "",
             "| metric | base | after CPT | after SFT |", "|---|---|---|---|"]
    for h in HEADLINE:
        lines.append(f"| {h.split('.')[-1]} | " + " | ".join(fmt(stats.get(h.format(m=m))) for m in
                                                            ("base", "pretrained", "sft")) + " |")
    for p in PROFICIENCY:
        lines.append(f"| {p} | " + " | ".join(fmt(stats.get(f"evaluate.proficiency.{m}.{p}")) for m in
                                             ("base", "pretrained", "sft")) + " |")
    lines += ["", "| metric | over the runs |", "|---|---|"]
    lines += [f"| {k} | {fmt(stats[k])} |" for k in OTHER if k in stats]
    lines += ["", "CPT against the base model, per proficiency measure: is the gain larger than the spread (max - min) "
              "of the CPT runs? (higher is better for every measure here but repetition_4)", "",
              "| measure | base | CPT mean | gain | CPT spread | beyond the spread |", "|---|---|---|---|---|---|"]
    for p in PROFICIENCY:
        b, c = stats.get(f"evaluate.proficiency.base.{p}"), stats.get(f"evaluate.proficiency.pretrained.{p}")
        if b and c:
            gain = (c["mean"] - b["mean"]) * (-1 if "repetition" in p else 1)
            lines.append(f"| {p} | {b['mean']:.4g} | {c['mean']:.4g} | {gain:+.4g} | {c['spread']:.4g} | "
                         f"{'yes' if gain > c['spread'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    stats = spread([load_run(r) for r in args.runs])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "spread.json").write_text(json.dumps({"runs": [str(r) for r in args.runs], "metrics": stats},
                                                     indent=1) + "\n")
    md = markdown(stats, [r.name for r in args.runs])
    (args.out / "spread.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
