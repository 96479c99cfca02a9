"""One bigger base-model shape through the pipeline's stages on a CUDA machine: a random-init stand-in of a published
shape (langcpt.model_shapes; docs/models.md) as `base.source: local`, profiles/gpu.yaml + profiles/gpu-shapes.yaml,
then the commands of dvc.yaml's stages base .. gguf in order (the order `dvc repro gguf` runs them), MLflow off.

    python scripts/shape_e2e.py --shape qwen2.5-0.5b --out reports/gpu/shapes/qwen2.5-0.5b.json

It runs in a scratch folder (--workdir; default a new temporary one) holding a copy of the stage scripts, params,
dvc.yaml, the SFT and safety data and models/detector, with data/clean (stage dedup_clean: `dvc pull` or
`dvc repro dedup_clean` first) and data/cache linked: the repository's own models/, reports/ and params.yaml are not
touched. DVC itself is not needed, for machines without it; with DVC, `dvc repro` after the same two profiles does the
same (docs/models.md). Writes per stage: exit code and wall seconds, then the base/pretrain/sft/evaluate/safety/gguf
metrics; exit 1 when a stage failed (the stages after it are not run). The JSON is rewritten after every stage, and
`--from STAGE --workdir W --out F` goes on in the folder W of an earlier run from STAGE (a run cut short by a time
limit, or a stage fixed since), keeping F's entries for the stages before; `--to STAGE` stops after STAGE (a run split
over calls of a time-limited machine: `--to sft`, then `--from evaluate`).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
STAGES = ("base", "extend_vocab", "tokenize_chunk", "pretrain", "sft", "eval_data", "evaluate", "safety", "gguf")
COPIED = ("pipelines", "profiles", "dvc.yaml", "params.yaml", "data/sft", "data/safety", "models/detector")
LINKED = ("data/clean", "data/cache")
REPORTS = {"base": "reports/base.json", "pretrain": "reports/pretrain/metrics.json", "sft": "reports/sft/metrics.json",
           "evaluate": "reports/evaluate/metrics.json", "safety": "reports/safety/metrics.json",
           "gguf": "reports/gguf.json"}


def main() -> int:
    from langcpt.model_shapes import SHAPES
    from langcpt.params import load_params, merge

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("--tokenizer", type=Path, default=None, help="HF folder with the SmolLM2 tokenizer (random_init_model)")
    ap.add_argument("--out", type=Path, required=True, help="the JSON summary")
    ap.add_argument("--scale", default="full", choices=("full", "tiny"), help="tiny: a CPU-sized body (smoke test)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="params after the profiles, e.g. pretrain.max_steps=2 (VALUE is YAML)")
    ap.add_argument("--workdir", type=Path, default=None, help="scratch folder (must not exist, but with --from; default: a new one)")
    ap.add_argument("--from", dest="start", choices=STAGES, default=None,
                    help="go on in an earlier run's --workdir from this stage (its --out JSON keeps the stages before)")
    ap.add_argument("--to", dest="stop", choices=STAGES, default=None, help="stop after this stage")
    args = ap.parse_args()
    args.out = args.out.resolve()
    args.tokenizer = args.tokenizer.resolve() if args.tokenizer else None
    args.workdir = args.workdir.resolve() if args.workdir else None
    if args.start:
        if args.set or args.scale != "full" or args.tokenizer:
            sys.exit("error: --from goes on with the earlier run's params and model: --set, --scale and --tokenizer "
                     "do not apply")
        earlier = json.loads(args.out.read_text()) if args.out.is_file() else None
        if earlier is not None and earlier.get("shape") != args.shape:
            sys.exit(f"error: --from: {args.out} is a run of {earlier.get('shape')}, not {args.shape}")
        return run_stages(args, args.workdir, earlier)
    if not (REPO / "data/clean/target.jsonl").is_file():
        sys.exit(f"error: {REPO / 'data/clean/target.jsonl'} is missing: run `dvc pull` or `dvc repro dedup_clean` first")
    work = args.workdir or Path(tempfile.mkdtemp(prefix=f"shape-{args.shape}-")) / "repo"
    work.mkdir(parents=True)
    for rel in COPIED:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (REPO / rel).is_dir() else shutil.copy2)(REPO / rel, work / rel)
    for rel in LINKED:
        (REPO / rel).mkdir(parents=True, exist_ok=True)
        (work / rel).symlink_to(REPO / rel)
    os.chdir(work)
    print(f"working in {work}", file=sys.stderr, flush=True)
    model = Path("models/random") / args.shape
    cmd = [sys.executable, str(REPO / "scripts/random_init_model.py"), "--shape", args.shape, str(model), "--scale", args.scale]
    made = subprocess.run(cmd + (["--tokenizer", str(args.tokenizer)] if args.tokenizer else []),
                          capture_output=True, text=True)
    if made.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)}: {made.stderr.strip()[-2000:]}")
    summary = json.loads(made.stdout)
    params = load_params()
    for profile in ("profiles/gpu.yaml", "profiles/gpu-shapes.yaml"):
        params = merge(params, yaml.safe_load(Path(profile).read_text()))
    params["base"].update(source="local", path=str(model))
    params["tokenize"]["separator_token"] = summary["separator_token"]
    for item in args.set:
        key, sep, value = item.partition("=")
        *parents, leaf = key.split(".")
        node = params
        for k in parents:
            node = node.get(k) if isinstance(node, dict) else None
        if not sep or not isinstance(node, dict) or leaf not in node:
            sys.exit(f"error: --set {item}: expected KEY=VALUE with a KEY of params.yaml")
        node[leaf] = yaml.safe_load(value)
    result = {"shape": args.shape, "model": summary, "stages": {}}
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    return run_stages(args, work, result)


def run_stages(args, work: Path | None, result: dict | None) -> int:
    """The stages from args.start (default: the first) in `work`; the JSON is rewritten after each stage, so a run
    cut short (a call's time limit) keeps what finished."""
    if work is None or not (work / "params.yaml").is_file() or result is None:
        sys.exit("error: --from needs the --workdir and --out of an earlier run")
    os.chdir(work)
    commands = {name: st["cmd"] for name, st in yaml.safe_load(Path("dvc.yaml").read_text())["stages"].items()}
    env = {**os.environ, "LANGCPT_MLFLOW": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    todo = STAGES[STAGES.index(args.start):] if args.start else STAGES
    todo = todo[:todo.index(args.stop) + 1] if args.stop in todo else todo
    for stage in todo:
        result["stages"].pop(stage, None)
    for stage in todo:
        argv = commands[stage].split()
        argv[0] = sys.executable if argv[0] == "python" else argv[0]
        t0 = time.time()
        print(f"+ {stage}: {' '.join(argv)}", file=sys.stderr, flush=True)
        proc = subprocess.run(argv, env=env)
        result["stages"][stage] = {"exit": proc.returncode, "wall_s": round(time.time() - t0, 1)}
        if proc.returncode == 0 and stage in REPORTS and Path(REPORTS[stage]).is_file():
            result["stages"][stage]["metrics"] = json.loads(Path(REPORTS[stage]).read_text())
        write(args.out, result)
        if proc.returncode != 0:
            break
    print(json.dumps({s: v["exit"] for s, v in result["stages"].items()}), flush=True)
    ran_ok = all(result["stages"][s]["exit"] == 0 for s in todo if s in result["stages"])
    return 0 if ran_ok and (result["passed"] or args.stop) else 1  # --to: the stages asked for passed


def write(out: Path, result: dict) -> None:
    result["passed"] = all(result["stages"].get(s, {}).get("exit") == 0 for s in STAGES)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str) + "\n")


if __name__ == "__main__":
    sys.exit(main())
