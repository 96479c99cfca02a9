"""Replay trade-off: continued pretraining at several replay ratios, same compute, German and English bits per byte.

Each ratio's token folder is what `pipelines/tokenize_chunk.py` writes with `tokenize.replay.ratio` set to it
(train.npy with the replay blocks mixed in; val.npy and general_val.npy are the same for every ratio: the general
held-out split does not depend on the ratio). Every run trains the same number of steps on the same number of
blocks (`--max-steps` x `--batch-size` blocks: same compute), from the same base, with the pretrain params of
params.yaml otherwise; then the merged model is scored like the evaluate stage (langcpt.evaluation.score).

    python pipelines/tokenize_chunk.py      # once per ratio (tokenize.replay.ratio, max_train_blocks = steps x batch)
    python benchmarks/replay_sweep.py --base models/base --tokens DIR --ratios 0,0.05,0.2 --max-steps 500 \
        --batch-size 16 --out results/replay     # DIR/ratio_<r>/{train,val,general_val}.npy

Writes OUT/replay_sweep.json and OUT/replay_sweep.csv (ratio, target/general bits per byte, their change
against the base model). The results of the run reported in README ("Replay") are benchmarks/results/replay_*.
"""
import argparse
import csv
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("LANGCPT_MLFLOW", "0")
os.environ.setdefault("LANGCPT_BACKEND", "hf")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from langcpt.params import load_params, section  # noqa: E402


def score_model(model_dir, target, general, batch_size):
    import torch

    from langcpt.evaluation import load_model, score, token_text_sizes

    model, tok = load_model(Path(model_dir))
    sizes = token_text_sizes(tok)
    t = score(model, tok, target, batch_size, sizes)
    g = score(model, tok, general, batch_size, sizes)
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {"target_bpb": t["bits_per_byte"], "general_bpb": g["bits_per_byte"],
            "target_perplexity": t["perplexity"], "general_perplexity": g["perplexity"],
            "target_bytes": t["bytes"], "general_bytes": g["bytes"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="models/base")
    ap.add_argument("--tokens", required=True, help="folder with ratio_<r>/ token folders")
    ap.add_argument("--ratios", default="0,0.05,0.2")
    ap.add_argument("--max-steps", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--eval-blocks", type=int, default=256, help="held-out blocks per set for bits per byte")
    ap.add_argument("--work", default="/tmp/replay_sweep")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from langcpt.cpt import continued_pretraining
    from langcpt.packing import load_blocks

    cfg = {**section(load_params(validate=False), "pretrain"), "max_steps": args.max_steps,
           "batch_size": args.batch_size, "eval_steps": args.max_steps, "eval_blocks": 16, "save_steps": 10 ** 9, "backend": "hf"}
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    ratios = [r.strip() for r in args.ratios.split(",")]
    first = Path(args.tokens) / f"ratio_{ratios[0]}"
    target = load_blocks(first / "val.npy")[: args.eval_blocks]
    general = load_blocks(first / "general_val.npy")[: args.eval_blocks]
    rows = {"base": score_model(args.base, target, general, 16)}
    print("base", rows["base"], flush=True)
    for r in ratios:
        tokens = Path(args.tokens) / f"ratio_{r}"
        for f in ("val.npy", "general_val.npy"):  # the held-out sets must be the same for every ratio
            assert (tokens / f).read_bytes() == (first / f).read_bytes(), f"{tokens / f} differs from {first / f}"
        shutil.rmtree(work / r, ignore_errors=True)
        start = time.time()
        metrics = continued_pretraining(cfg, "hf", Path(args.base), tokens / "train.npy", tokens / "val.npy",
                                        out_dir=work / r / "model", checkpoint_dir=work / r / "ckpt",
                                        curves_dir=work / r / "curves")
        report = json.loads((tokens / "tokenize.json").read_text()) if (tokens / "tokenize.json").exists() else {}
        rows[r] = {"ratio": float(r), **score_model(work / r / "model", target, general, 16),
                   "train_steps": metrics["steps"], "train_tokens": metrics["train_tokens"],
                   "train_seconds": round(time.time() - start, 1), "replay_share": report.get("replay_share")}
        print(r, rows[r], flush=True)
    base = rows["base"]
    for r in ratios:
        for k in ("target", "general"):
            rows[r][f"{k}_bpb_change"] = round(rows[r][f"{k}_bpb"] / base[f"{k}_bpb"] - 1, 4)
    (out / "replay_sweep.json").write_text(json.dumps({"args": vars(args), "pretrain": cfg, "results": rows},
                                                      indent=2) + "\n")
    with open(out / "replay_sweep.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ratio", "target_bpb", "general_bpb", "target_bpb_change", "general_bpb_change"])
        w.writerow(["base", base["target_bpb"], base["general_bpb"], 0, 0])
        for r in ratios:
            w.writerow([r] + [rows[r][k] for k in ("target_bpb", "general_bpb", "target_bpb_change",
                                                   "general_bpb_change")])
    print((out / "replay_sweep.csv").read_text())


if __name__ == "__main__":
    main()
