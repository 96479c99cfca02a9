"""The German gain against the English loss of a swept param, from `dvc exp show --json`: a CSV, a PNG, a table.

    python scripts/sweep_tradeoff.py --name replay                 # tokenize.replay.ratio over HEAD's experiments
    python scripts/sweep_tradeoff.py -A --param pretrain.lora.r --name lora-r   # every commit and its experiments
    python scripts/sweep_tradeoff.py --rev main --experiments exp-a exp-b      # only these (and the baseline)
    python scripts/sweep_tradeoff.py --json exp_show.json --name replay        # a saved `dvc exp show --json`

Every row of `dvc exp show` (the workspace, the baseline commits and their experiments) that has the param becomes one
point: bits per byte of the German (target) and the general-English held-out sets, of the base model and after CPT
and SFT, from `reports/evaluate/metrics.json` (the evaluate stage), and their change against the base in %.
Writes (atomically) reports/sweeps/<name>.csv and reports/sweeps/<name>.png (x: general-English change after CPT,
y: German change after CPT; `--after sft` plots after SFT) and prints the table as markdown.

Rows with the same param value are one point: a finished experiment is kept before the workspace, the workspace
before a commit, the newest before older ones; the others are named in the CSV's `duplicates` column and on stderr.
Queued, running and failed experiments are skipped (named on stderr). reports/summary.json is only a fallback: a
sweep queued with target `evaluate` does not rerun the summary stage, so that file is the baseline's there.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

EVALUATE = "reports/evaluate/metrics.json"
SUMMARY = "reports/summary.json"
# CSV/summary suffix (reports/summary.json: target_bpb_after_cpt ...) -> model key in reports/evaluate/metrics.json
MODELS = {"base": "base", "after_cpt": "pretrained", "after_sft": "sft"}
SETS = {"target": "German (target)", "general": "general English"}
NOT_RESULTS = {"queued", "running", "failed"}  # executor states whose metrics are not this experiment's
BPB = [f"{s}_bpb_{suffix}" for suffix in MODELS for s in SETS]
KIND_RANK = {"experiment": 0, "workspace": 1, "commit": 2}  # which duplicate is kept: lower first


class SweepError(Exception):
    """Missing input: the message names what (param, experiment, metrics file, key)."""


def exp_show_json(all_commits: bool, revs: list[str]) -> list:
    cmd = [sys.executable, "-m", "dvc", "exp", "show", "--json", *(["-A"] if all_commits else []),
           *[a for r in revs for a in ("--rev", r)]]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SweepError(f"{' '.join(cmd[2:])} failed ({proc.returncode}):\n{proc.stderr.strip()}")
    return json.loads(proc.stdout or "[]")


def rows_of(exp_show: list) -> list[dict]:
    """Flatten dvc 3's `exp show --json`: [{rev, name, data, error, experiments: [{name, executor, revs: [...]}]}]
    into [{name, rev, kind, state, timestamp, params, metrics, error}] (params/metrics: {file: data})."""
    if not isinstance(exp_show, list):
        raise SweepError("not the JSON of `dvc exp show --json` (dvc 3: a list of commits)")

    def row(entry: dict, kind: str, state: str | None) -> dict:
        data = entry.get("data") or {}
        files = {group: {f: (v or {}).get("data") or {} for f, v in (data.get(group) or {}).items()}
                 for group in ("params", "metrics")}
        error = entry.get("error") or {}
        rev = entry.get("rev") or ""
        return {"name": entry.get("name") or (rev if rev == "workspace" else rev[:7]), "rev": rev,
                "kind": kind, "state": state, "timestamp": data.get("timestamp") or "", **files,
                "error": error.get("msg") if isinstance(error, dict) else str(error) if error else None}

    rows = []
    for commit in exp_show:
        rows.append(row(commit, "workspace" if commit.get("rev") == "workspace" else "commit", None))
        for exp in commit.get("experiments") or []:
            state = ((exp.get("executor") or {}).get("state") or "success").lower()
            for rev in (exp.get("revs") or [])[:1]:  # revs[0]: the experiment's result (later ones: checkpoints)
                rows.append(row({**rev, "name": rev.get("name") or exp.get("name")}, "experiment", state))
    return rows


def param_value(params: dict, dotted: str):
    """The value of `dotted` (tokenize.replay.ratio) in any params file; KeyError when absent."""
    for data in params.values():
        node = data
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            return node
    raise KeyError(dotted)


def bits_per_byte(metrics: dict) -> tuple[dict, str, list[str]]:
    """{"target_bpb_base": ..., "general_bpb_after_cpt": ...} of one row, the file it came from and the keys missing
    there. reports/evaluate/metrics.json first; reports/summary.json only when the evaluate file is absent."""
    ev = metrics.get(EVALUATE)
    if ev:
        got = {f"{s}_bpb_{suffix}": (ev.get(model) or {}).get(f"{s}_bpb") for suffix, model in MODELS.items()
               for s in SETS}
        missing = [f"{model}.{s}_bpb" for suffix, model in MODELS.items() for s in SETS
                   if got[f"{s}_bpb_{suffix}"] is None]
        return got, EVALUATE, missing
    summary = metrics.get(SUMMARY) or {}
    got = {f"{s}_bpb_{suffix}": summary.get(f"{s}_bpb_{suffix}") for suffix in MODELS for s in SETS}
    return got, SUMMARY if summary else f"{EVALUATE} (nor {SUMMARY})", [k for k, v in got.items() if v is None]


def change_pct(after: float | None, before: float | None) -> float | None:
    if after is None or not before:
        return None
    return round(100.0 * (after - before) / before, 4)


def sort_key(value):
    """Numbers by value (0 and 0.0 are one value), then anything else by its text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, json.dumps(value, sort_keys=True))


def collect(rows: list[dict], param: str, experiments: list[str] | None, log=print) -> list[dict]:
    """One record per param value (duplicates folded), sorted by value. Raises SweepError when nothing is left."""
    if experiments:
        names = {r["name"] for r in rows}
        unknown = [e for e in experiments if e not in names]
        if unknown:
            raise SweepError(f"no experiment named {', '.join(unknown)} in `dvc exp show` "
                             f"(known: {', '.join(sorted(n for n in names if n)) or 'none'})")
        rows = [r for r in rows if r["kind"] != "experiment" or r["name"] in experiments]
    with_param, records, problems = [], [], []
    for r in rows:
        try:
            value = param_value(r["params"], param)
        except KeyError:
            continue
        with_param.append(r["name"])
        where = f"{r['kind']} {r['name']!r}" + (f" ({r['rev'][:7]})" if r["kind"] == "experiment" else "")
        if r["state"] in NOT_RESULTS:
            log(f"note: skipped {where}: {r['state']}", file=sys.stderr)
            continue
        bpb, source, missing = bits_per_byte(r["metrics"])
        if missing:
            problem = f"{where}: {source} lacks {', '.join(missing)}" + (f" ({r['error']})" if r["error"] else "")
            if r["kind"] == "experiment":  # a finished experiment without them: the sweep did not measure it
                raise SweepError(f"{problem}; run the sweep up to the evaluate stage "
                                 f"(dvc exp run --queue evaluate -S {param}=...)")
            problems.append(problem)
            log(f"note: skipped {problem}", file=sys.stderr)
            continue
        rec = {"param": param, "value": value, "experiment": r["name"], "rev": r["rev"], "kind": r["kind"],
               "timestamp": r["timestamp"], "source": source, **bpb}
        for s in SETS:
            for suffix in ("after_cpt", "after_sft"):
                rec[f"{s}_bpb_change_{suffix}_pct"] = change_pct(bpb[f"{s}_bpb_{suffix}"], bpb[f"{s}_bpb_base"])
        records.append(rec)
    if not with_param:
        raise SweepError(f"no row of `dvc exp show` has the param {param!r} (in params.yaml or another params file); "
                         f"rows: {', '.join(r['name'] for r in rows) or 'none'}")
    if not records:
        raise SweepError(f"no row with {param!r} has bits-per-byte metrics ({EVALUATE}: base/pretrained/sft "
                         f"target_bpb, general_bpb): "
                         f"{'; '.join(problems) or 'every experiment with it is queued, running or failed'}")
    return fold_duplicates(records, log)


def fold_duplicates(records: list[dict], log=print) -> list[dict]:
    """One record per param value: a finished experiment before the workspace before a commit, newest first; the
    others are named in its `duplicates`. Warns when two values have the very same results (metrics not rerun)."""
    groups: dict[tuple, list[dict]] = {}
    for rec in records:
        groups.setdefault(sort_key(rec["value"]), []).append(rec)
    kept = []
    for group in groups.values():
        group.sort(key=lambda r: r["timestamp"] or "", reverse=True)  # newest first, then by kind (stable sort)
        group.sort(key=lambda r: KIND_RANK[r["kind"]])
        keep, dropped = group[0], group[1:]
        keep["duplicates"] = " ".join(f"{d['kind']}:{d['experiment']}" for d in dropped)
        if dropped:
            same = all(all(d[k] == keep[k] for k in BPB) for d in dropped)
            log(f"note: {keep['param']}={keep['value']}: kept {keep['kind']} {keep['experiment']!r}, dropped "
                + ", ".join(f"{d['kind']} {d['experiment']!r}" for d in dropped)
                + (" (same value, same bits per byte)" if same else " (same value, other bits per byte)"),
                file=sys.stderr)
        kept.append(keep)
    for a, b in [(a, b) for i, a in enumerate(kept) for b in kept[i + 1:] if all(a[k] == b[k] for k in BPB)]:
        log(f"warning: {a['experiment']!r} ({a['value']}) and {b['experiment']!r} ({b['value']}) have identical "
            f"bits per byte: were pretrain and evaluate rerun for both (queue with target evaluate)?", file=sys.stderr)
    return sorted(kept, key=lambda r: sort_key(r["value"]))


COLUMNS = ["param", "value", "experiment", "kind", "rev",
           "target_bpb_base", "target_bpb_after_cpt", "target_bpb_after_sft",
           "general_bpb_base", "general_bpb_after_cpt", "general_bpb_after_sft",
           "target_bpb_change_after_cpt_pct", "general_bpb_change_after_cpt_pct",
           "target_bpb_change_after_sft_pct", "general_bpb_change_after_sft_pct", "source", "duplicates"]


def write_csv(records: list[dict], path: Path) -> None:
    from langcpt.fileio import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for rec in records:
            w.writerow({k: "" if rec.get(k) is None else rec[k] for k in COLUMNS})


def write_png(records: list[dict], path: Path, param: str, after: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from langcpt.fileio import atomic_path

    stage = after.upper()
    xs = [r[f"general_bpb_change_after_{after}_pct"] for r in records]
    ys = [r[f"target_bpb_change_after_{after}_pct"] for r in records]
    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    ax.plot(xs, ys, color="0.7", lw=0.8, zorder=1)  # in param order
    ax.scatter(xs, ys, c=range(len(records)), cmap="viridis", s=40, zorder=2)
    for i, (r, x, y) in enumerate(zip(records, xs, ys)):  # labels above / below in turn: close points stay readable
        ax.annotate(f"{r['value']} ({r['experiment']})", (x, y), textcoords="offset points",
                    xytext=(6, 6 if i % 2 == 0 else -12), fontsize=8)
    ax.set_xlabel(f"general-English bits per byte after {stage}, change vs base (%)\n(left: less forgetting)")
    ax.set_ylabel(f"German bits per byte after {stage}, change vs base (%)\n(down: more learned)")
    ax.set_title(f"{param}: German gain against English loss\n(bits per byte after {stage}; base model = 0, 0)",
                 fontsize=10)
    ax.grid(True, color="0.92", lw=0.6)
    ax.margins(0.2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def fmt(v, pct=False) -> str:
    if v is None:
        return ""
    return f"{v:+.2f}%" if pct else f"{v:.5g}" if isinstance(v, float) else str(v)


def markdown(records: list[dict], param: str) -> str:
    head = [param, "experiment", "German bpb base", "after CPT", "change", "after SFT", "change",
            "English bpb base", "after CPT", "change", "after SFT", "change"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        cells = [fmt(r["value"]), r["experiment"]]
        for s in SETS:
            cells += [fmt(r[f"{s}_bpb_base"])]
            for k in ("after_cpt", "after_sft"):
                cells += [fmt(r[f"{s}_bpb_{k}"]), fmt(r[f"{s}_bpb_change_{k}_pct"], pct=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--param", default="tokenize.replay.ratio", help="the swept param (default tokenize.replay.ratio)")
    ap.add_argument("--name", help="output name: reports/sweeps/<name>.csv/.png (default: the param, dots as _)")
    ap.add_argument("--out", type=Path, default=Path("reports/sweeps"), help="output folder (reports/sweeps)")
    ap.add_argument("--json", type=Path, help="read this `dvc exp show --json` output instead of running it")
    ap.add_argument("-A", "--all-commits", action="store_true", help="dvc exp show -A: every commit's experiments")
    ap.add_argument("--rev", action="append", default=[], help="dvc exp show --rev (repeatable)")
    ap.add_argument("--experiments", nargs="+", metavar="NAME", help="only these experiments (baselines stay)")
    ap.add_argument("--after", choices=["cpt", "sft"], default="cpt", help="the plotted model (default cpt)")
    args = ap.parse_args(argv)
    try:
        if args.json:
            if args.all_commits or args.rev:
                raise SweepError("--json reads a saved output: -A / --rev apply to `dvc exp show` only")
            try:
                data = json.loads(args.json.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise SweepError(f"{args.json}: {e}") from None
        else:
            data = exp_show_json(args.all_commits, args.rev)
        records = collect(rows_of(data), args.param, args.experiments)
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    name = args.name or args.param.replace(".", "_")
    csv_path, png_path = args.out / f"{name}.csv", args.out / f"{name}.png"
    write_csv(records, csv_path)
    write_png(records, png_path, args.param, args.after)
    print(markdown(records, args.param))
    print(f"\n{csv_path}\n{png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
