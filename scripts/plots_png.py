"""Render the `dvc plots` of this repository as PNG files, offline (vl-convert, no browser, no network).

    python scripts/plots_png.py                      # the workspace's plots -> reports/plots/<name>.png
    python scripts/plots_png.py HEAD~1 workspace     # `dvc plots diff HEAD~1 workspace`: one PNG per plot, both runs
    python scripts/plots_png.py --out DIR --scale 2  # another folder, 2x pixels

The specs are DVC's own (`dvc plots show --json` / `dvc plots diff --json`: Vega-Lite with the data inlined), so the
PNGs show what `dvc plots show` shows in HTML. A plot whose file is missing (a stage not run yet) is skipped.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import vl_convert


def plot_specs(revisions: list[str]) -> dict[str, dict]:
    """{plot id: Vega-Lite spec} from `dvc plots show --json` (no revisions) or `dvc plots diff --json REV...`."""
    cmd = ["dvc", "plots", "diff", *revisions, "--json"] if revisions else ["dvc", "plots", "show", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{proc.stderr}")
    data = json.loads(proc.stdout or "{}").get("data", {})  # {} when the repo defines no plot
    return {plot_id: entries[0]["content"] for plot_id, entries in data.items()
            if entries and entries[0].get("type") == "vega"}


def file_name(plot_id: str) -> str:
    """reports/pretrain/eval_loss.csv -> pretrain_eval_loss.png; pretrain_loss -> pretrain_loss.png."""
    stem = re.sub(r"\.(csv|json|tsv|yaml)$", "", plot_id.removeprefix("reports/"))
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) + ".png"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("revisions", nargs="*", help="git revisions to compare (dvc plots diff); none: the workspace")
    ap.add_argument("--out", type=Path, default=Path("reports/plots"), help="folder of the PNGs (reports/plots)")
    ap.add_argument("--scale", type=float, default=1.0, help="pixel scale (default 1; 2: sharp on high-DPI screens)")
    args = ap.parse_args(argv)
    specs = plot_specs(args.revisions)
    if not specs:
        sys.exit("error: no plot to render (run the pipeline first: dvc repro)")
    args.out.mkdir(parents=True, exist_ok=True)
    for plot_id, spec in specs.items():
        path = args.out / file_name(plot_id)
        tmp = path.with_suffix(".png.tmp")
        tmp.write_bytes(vl_convert.vegalite_to_png(spec, scale=args.scale))
        tmp.replace(path)
        print(path)


if __name__ == "__main__":
    main()
