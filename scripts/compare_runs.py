"""Side by side: the summary metrics of two pipeline runs (`dvc exp show`-style), e.g. the committed CPU default
(reports/summary.json) against the GPU profile's run kept under reports/gpu/ (its dvc.lock is not the default's,
so it is kept as files, not as the workspace's metrics).

    python scripts/compare_runs.py reports/summary.json reports/gpu/summary.json --names cpu gpu \\
        [--extra reports/gpu/chat_cpu.json reports/gpu/chat_gpu.json] [--out reports/gpu/comparison.md]

--extra: one more flat JSON per run (benchmarks/chat_behaviour.py's report: its numbers are added as rows).
A key one run lacks shows as "-".
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def flat_numbers(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if isinstance(v, (int, float, bool)) or v is None}


def table(runs: list[dict], names: list[str]) -> str:
    keys = list(dict.fromkeys(k for run in runs for k in run))
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join("-" if run.get(k) is None else str(run[k]) for run in runs) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summaries", nargs="+", type=Path)
    ap.add_argument("--names", nargs="+")
    ap.add_argument("--extra", nargs="*", type=Path, default=[])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    names = args.names or [str(p.parent) for p in args.summaries]
    if len(names) != len(args.summaries) or (args.extra and len(args.extra) != len(args.summaries)):
        ap.error("give one --names entry (and one --extra file, if any) per summary")
    runs = [flat_numbers(p) for p in args.summaries]
    for run, extra in zip(runs, args.extra):
        run.update({f"chat_{k}": v for k, v in flat_numbers(extra).items()})
    text = table(runs, names)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
