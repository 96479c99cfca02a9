"""What CPU determinism costs in tokens/s, side by side in one run: the pretrain stage's own training loop
(langcpt.cpt.continued_pretraining: hf backend, the committed params' LoRA/embedding recipe; no eval, no checkpoint,
no merge) on the same random token blocks, same seed and steps, in two modes, in alternating processes (A B A B ...:
the machine's load drifts alike over both):

  deterministic   the committed params: `threads` fixed, `deterministic: true` (torch.use_deterministic_algorithms,
                  which also fills every uninitialised tensor torch allocates with NaN)
  default         what torch does unasked: its default thread count, deterministic algorithms off

Both seed every RNG (free, and needed for any equality). Reported per run: steady tokens/s (median step, first 3
left out), the training loss, an md5 of the loss curve and one of the trained weights, so the run also shows
whether repeats of a mode train the same bits.

    python benchmarks/determinism_cpu.py --model-dir models/base --out benchmarks/results/determinism_cpu.json
    python benchmarks/determinism_cpu.py --model-dir models/base --seq 64 --bs 2 --steps 12   # the tiny profile's shape
    python benchmarks/determinism_cpu.py --shape small --tokenizer models/base    # a random-init 4-layer model

`--shape` trains a random-init model of that shape (the real tokenizer's vocabulary from `--tokenizer`) instead of
`--model-dir`: smollm2-135m is the default profile's model (30 layers, 576 wide), small a quick stand-in.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHAPES = {"smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                                num_key_value_heads=3),
          "small": dict(hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=4,
                        num_key_value_heads=2)}
MODES = {"deterministic": None, "default": {"threads": None, "deterministic": False}}  # None: the committed params


def worker(args) -> None:
    import hashlib

    import numpy as np
    import torch

    from langcpt.params import load_params

    cfg = dict(load_params(REPO / "params.yaml")["pretrain"])
    cfg.update(MODES[args.mode] or {})
    cfg.update(max_steps=args.steps, batch_size=args.bs, gradient_accumulation_steps=1, logging_steps=1,
               eval_steps=10**9, save_steps=10**9, backend="hf")
    os.environ["LANGCPT_BACKEND"] = "hf"
    from langcpt import cpt

    captured = {}
    merge = cpt.train_and_merge

    def keep_model(model, *a, **kw):  # the trained adapter's weights, for the md5
        out = merge(model, *a, **kw)
        captured["md5"] = hashlib.md5(b"".join(
            p.detach().float().numpy().tobytes() for _, p in sorted(model.named_parameters()) if p.requires_grad)
        ).hexdigest()
        return out

    cpt.train_and_merge = keep_model
    tmp = Path(tempfile.mkdtemp(prefix="determinism-"))
    vocab = json.loads((Path(args.model_dir) / "config.json").read_text())["vocab_size"]
    rng = np.random.default_rng(0)
    np.save(tmp / "train.npy", rng.integers(3, vocab, size=(args.steps * args.bs, args.seq), dtype=np.uint16))
    np.save(tmp / "val.npy", np.empty((0, args.seq), dtype=np.uint16))
    m = cpt.continued_pretraining(cfg, "hf", Path(args.model_dir), tmp / "train.npy", tmp / "val.npy", out_dir=None,
                                  checkpoint_dir=tmp / "ckpt", curves_dir=tmp)
    losses = (tmp / "train_loss.csv").read_text()
    print(json.dumps({"mode": args.mode, "threads": m["threads"], "deterministic": m["deterministic"],
                      "tokens_per_s": m["steady_tokens_per_second"], "step_s": m["step_seconds_median"],
                      "train_loss": m["train_loss"], "curve_md5": hashlib.md5(losses.encode()).hexdigest(),
                      "weights_md5": captured["md5"], "torch": torch.__version__}), flush=True)


def random_model(shape: str, tokenizer_dir: Path, dst: Path) -> Path:
    """A random-init Llama of `shape` with the tokenizer of `tokenizer_dir`, saved as safetensors in `dst`."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), max_position_embeddings=2048, tie_word_embeddings=True,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, **SHAPES[shape])
    LlamaForCausalLM(config).save_pretrained(dst, safe_serialization=True)
    tok.save_pretrained(dst)
    return dst


def run_worker(args, mode: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", mode, "--model-dir", args.model_dir, "--seq", str(args.seq),
           "--bs", str(args.bs), "--steps", str(args.steps)]
    t = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "LANGCPT_MLFLOW": "0"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    row = json.loads(lines[-1])
    row["process_s"] = round(time.time() - t, 1)
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default=str(REPO / "models/base"))
    ap.add_argument("--shape", choices=sorted(SHAPES), help="a random-init model of this shape instead of --model-dir")
    ap.add_argument("--tokenizer", default=str(REPO / "models/base"), help="the tokenizer folder for --shape")
    ap.add_argument("--seq", type=int, default=256, help="tokens per block (default profile: 256)")
    ap.add_argument("--bs", type=int, default=4, help="blocks per step (default profile: 4)")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=2, help="runs per mode, alternating")
    ap.add_argument("--out", type=Path, default=None, help="write the rows and the summary as JSON here")
    ap.add_argument("--worker", choices=sorted(MODES), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.mode = args.worker
        return worker(args)
    tmp = tempfile.TemporaryDirectory(prefix="determinism-model-")
    if args.shape:
        args.model_dir = str(random_model(args.shape, Path(args.tokenizer), Path(tmp.name)))
    rows = [run_worker(args, mode) for _ in range(args.repeats) for mode in MODES]
    tmp.cleanup()
    summary = {}
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        summary[mode] = {"tokens_per_s_median": statistics.median(r["tokens_per_s"] for r in mine),
                         "tokens_per_s": [r["tokens_per_s"] for r in mine], "threads": mine[0]["threads"],
                         "repeats_bit_equal": len({(r["weights_md5"], r["curve_md5"]) for r in mine}) == 1}
    summary["deterministic_over_default"] = round(
        summary["deterministic"]["tokens_per_s_median"] / summary["default"]["tokens_per_s_median"], 3)
    result = {"command": " ".join(["python", "benchmarks/determinism_cpu.py"] + sys.argv[1:]),
              "model": args.shape or args.model_dir,
              "seq": args.seq, "bs": args.bs, "steps": args.steps, "cpus": os.cpu_count(), "rows": rows,
              "summary": summary}
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
