"""GPU throughput of the pipeline's own pretrain loop against standalone Unsloth, side by side in one run.

For each model shape (random-init weights of public configs: SmolLM2-135M, Llama-3.2-1B), in separate processes
(Unsloth patches transformers globally):
  probe   ../shared/tools/cpt_throughput_probe.py --backend unsloth: a bare training loop, same LoRA CPT recipe
  ours    langcpt.cpt.continued_pretraining (the stage's code: backend auto -> Unsloth, EmbeddingLRTrainer,
          fused AdamW, checkpoints off, no eval) at the probe's batch size, then at a batch size tuned for the card
  padded  (with --doc-tokens) the probe's bare Unsloth loop, same recipe, on unpacked documents: one document per
          row, padded to the longest in its batch, pads masked out of attention and loss (what Unsloth's CPT
          notebook does with packing=False). Document lengths are drawn from the real corpus
          (results/doc_tokens_de.npy: base-tokenizer tokens + 1 separator per German document of the default
          corpus); only real tokens are counted, so this is the throughput packing is measured against.
Reported: steady tokens/s (median step, first 3 steps left out), peak GPU memory, ratio to the probe, MFU.

    python benchmarks/gpu_throughput.py --probe ../shared/tools/cpt_throughput_probe.py --out results/
    python benchmarks/gpu_throughput.py --shapes 135m --tuned-bs 32 --out /tmp/r
    python benchmarks/gpu_throughput.py --doc-tokens benchmarks/results/doc_tokens_de.npy --out /tmp/r  # + padded
    python benchmarks/gpu_throughput.py --shapes 135m --nproc 1 2 --bs 16 --out /tmp/r   # data parallel: the stage

FLOPs per token (LoRA on all linear layers of a frozen base, trainable embed_tokens/lm_head, causal attention;
L layers, d hidden, s sequence length, V vocab, N_lin = weights of the decoder's linear layers,
N_lora = sum over adapted linears of r*(in+out)):
  model FLOPs/token    = 4*N_lin                (forward 2N + input-gradient 2N; frozen weights get no weight-gradient)
                       + 6*N_lora               (adapters: forward 2, input-gradient 2, weight-gradient 2)
                       + 6*V*d                  (trained lm_head: forward, input- and weight-gradient;
                                                 embed_tokens is a lookup/scatter: ~0)
                       + 6*L*s*d                (attention scores and values: forward 2*L*s*d with the causal half,
                                                 backward twice that)
  hardware FLOPs/token = model FLOPs + 2*N_lin + 2*N_lora + 2*L*s*d   (recomputation of the checkpointed layers)
MFU = tokens/s * model FLOPs/token / peak; HFU the same with hardware FLOPs; peak = 790e12 (dense bf16 measured
on the H200, shared/GPU.md).
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
PEAK_FLOPS = 790e12
TUNED_BS = {"135m": 32, "1b": 16}


def flops_per_token(config: dict, seq: int, r: int) -> dict:
    d, L, V = config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]
    ff = config["intermediate_size"]
    head_dim = config.get("head_dim") or d // config["num_attention_heads"]
    kv = config["num_key_value_heads"] * head_dim
    linears = [(d, d), (d, kv), (d, kv), (d, d), (d, ff), (d, ff), (ff, d)]  # q k v o gate up down
    n_lin = L * sum(i * o for i, o in linears)
    n_lora = L * sum(r * (i + o) for i, o in linears)
    attn = L * seq * d  # causal: half of the 4*L*s*d of full attention per token, forward
    model = 4 * n_lin + 6 * n_lora + 6 * V * d + 6 * attn
    hardware = model + 2 * n_lin + 2 * n_lora + 2 * attn
    return {"n_linear": n_lin, "n_lora": n_lora, "model_flops_per_token": model, "hardware_flops_per_token": hardware}


def worker(args) -> None:
    """One measurement of the pipeline's pretrain loop (runs in its own process)."""
    import numpy as np
    import yaml

    from langcpt.params import load_params, merge

    params = merge(load_params(REPO / "params.yaml"), yaml.safe_load((REPO / "profiles/gpu.yaml").read_text()))
    cfg = dict(params["pretrain"])
    cfg.update(max_steps=args.steps, batch_size=args.bs, gradient_accumulation_steps=1, logging_steps=5,
               eval_steps=10**9, save_steps=10**9, warmup_ratio=0.1, backend=args.backend or cfg["backend"])
    os.environ["LANGCPT_BACKEND"] = cfg["backend"]
    from langcpt.cpt import continued_pretraining  # imports Unsloth first when CUDA is present
    from langcpt.training import choose_backend

    backend = choose_backend(cfg["backend"])
    tmp = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    np.save(tmp / "train.npy", rng.integers(3, 4000, size=(args.steps * args.bs, args.seq), dtype=np.uint16))
    np.save(tmp / "val.npy", np.empty((0, args.seq), dtype=np.uint16))
    m = continued_pretraining(cfg, backend, Path(args.model_dir), tmp / "train.npy", tmp / "val.npy", out_dir=None,
                              checkpoint_dir=tmp / "ckpt", curves_dir=tmp / "curves")
    import torch

    if int(os.environ.get("RANK", "0")) != 0:
        return
    print(json.dumps({"runner": "ours", "processes": m["processes"], "backend": backend, "bs": args.bs, "seq": args.seq,
                      "tokens_per_s": m["steady_tokens_per_second"], "step_s": m["step_seconds_median"],
                      "peak_gib": m.get("peak_gpu_gib"), "trainable": m["trainable_parameters"],
                      "lora_r": cfg["lora"]["r"], "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}), flush=True)


def padded_worker(args) -> None:
    """The probe's bare Unsloth loop and recipe on unpacked documents (see the module docstring); real tokens/s."""
    os.environ.update(HF_HUB_OFFLINE="1", UNSLOTH_DISABLE_STATISTICS="1")
    import unsloth  # noqa: F401 - first, as in the probe
    import numpy as np
    import torch
    from unsloth import FastLanguageModel

    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "embed_tokens", "lm_head"]
    model, _ = FastLanguageModel.from_pretrained(model_name=args.model_dir, max_seq_length=args.seq,
                                                 dtype=torch.bfloat16, load_in_4bit=False)
    model = FastLanguageModel.get_peft_model(model, r=128, lora_alpha=32, lora_dropout=0, target_modules=targets,
                                             use_rslora=True, use_gradient_checkpointing="unsloth", random_state=0)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5, fused=True)
    lengths = np.minimum(np.load(args.doc_tokens), args.seq)  # an unpacked run truncates at the context length
    rng = np.random.default_rng(0)

    def step() -> tuple[int, int]:
        b = rng.choice(lengths, args.bs)
        width = int(b.max())
        ids = torch.randint(3, 4000, (args.bs, width), device="cuda")
        mask = torch.arange(width, device="cuda")[None] < torch.as_tensor(b, device="cuda")[:, None]
        out = model(input_ids=ids, attention_mask=mask.long(), labels=ids.masked_fill(~mask, -100))
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return int(b.sum()), args.bs * width

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.time()
    counts = [step() for _ in range(args.steps)]
    torch.cuda.synchronize()
    dt = time.time() - t
    real, padded = sum(c[0] for c in counts), sum(c[1] for c in counts)
    print(json.dumps({"runner": "padded", "bs": args.bs, "seq": args.seq, "tokens_per_s": round(real / dt),
                      "padded_tokens_per_s": round(padded / dt), "real_token_share": round(real / padded, 3),
                      "steps": args.steps, "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
                      "gpu": torch.cuda.get_device_name()}), flush=True)


def run_json(cmd: list[str], timeout: int) -> dict:
    print("+", " ".join(cmd), flush=True)
    t = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(proc.stdout[-3000:], proc.stderr[-6000:], sep="\n", flush=True)
        return {"error": f"exit {proc.returncode}", "cmd": " ".join(cmd)}
    out = json.loads(lines[-1])
    out["process_s"] = round(time.time() - t, 1)
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="+", default=["135m", "1b"])
    ap.add_argument("--probe", default=str(REPO.parent / "shared/tools/cpt_throughput_probe.py"))
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--bs", type=int, default=8, help="the probe's batch size (and ours, side by side)")
    ap.add_argument("--tuned-bs", type=int, nargs="*", default=None, help="ours at these batch sizes too")
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--backend", default=None, help="override pretrain.backend for ours (auto, unsloth, hf)")
    ap.add_argument("--nproc", type=int, nargs="+", default=None,
                    help="data-parallel scaling instead: the pretrain stage with pretrain.processes = each of these")
    ap.add_argument("--doc-tokens", default=None, help="document lengths (.npy): add the padded, unpacked baseline")
    ap.add_argument("--padded-steps", type=int, default=60, help="steps of the padded baseline (batches vary)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--padded-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.padded_worker:
        return padded_worker(args)

    if args.nproc:
        return scaling(args)
    rows = []
    for shape in args.shapes:
        probe = run_json([sys.executable, args.probe, "--backend", "unsloth", "--shape", shape, "--seq", str(args.seq),
                          "--bs", str(args.bs), "--steps", str(args.steps - 3)], timeout=400)
        probe.update(runner="probe", shape=shape)
        rows.append(probe)
        for bs in [args.bs] + (args.tuned_bs if args.tuned_bs is not None else [TUNED_BS[shape]]):
            ours = run_json([sys.executable, __file__, "--worker", "--model-dir", f"/tmp/model-{shape}",
                             "--seq", str(args.seq), "--bs", str(bs), "--steps", str(args.steps)], timeout=400)
            ours.update(shape=shape)
            rows.append(ours)
        if args.doc_tokens:
            for bs in [args.bs] + (args.tuned_bs if args.tuned_bs is not None else [TUNED_BS[shape]]):
                padded = run_json([sys.executable, __file__, "--padded-worker", "--model-dir", f"/tmp/model-{shape}",
                                   "--doc-tokens", args.doc_tokens, "--seq", str(args.seq), "--bs", str(bs),
                                   "--steps", str(args.padded_steps)], timeout=400)
                padded.update(shape=shape)
                rows.append(padded)
    for row in rows:
        cfgp = Path(f"/tmp/model-{row['shape']}/config.json")
        if "tokens_per_s" not in row or not cfgp.exists() or row["runner"] == "padded":
            continue
        f = flops_per_token(json.loads(cfgp.read_text()), args.seq, 128)
        row["mfu"] = round(row["tokens_per_s"] * f["model_flops_per_token"] / PEAK_FLOPS, 4)
        row["hfu"] = round(row["tokens_per_s"] * f["hardware_flops_per_token"] / PEAK_FLOPS, 4)
        row["model_gflops_per_token"] = round(f["model_flops_per_token"] / 1e9, 3)
        base = next((r for r in rows if r["runner"] == "probe" and r["shape"] == row["shape"]
                     and "tokens_per_s" in r), None)
        if base:
            row["vs_probe"] = round(row["tokens_per_s"] / base["tokens_per_s"], 3)
            row["peak_vs_probe"] = round(row["peak_gib"] / base["peak_gib"], 3)
        padded = next((r for r in rows if r["runner"] == "padded" and r["shape"] == row["shape"]
                       and r["bs"] == row["bs"] and "tokens_per_s" in r), None)
        if padded:
            row["vs_padded"] = round(row["tokens_per_s"] / padded["tokens_per_s"], 3)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_throughput.json").write_text(json.dumps(rows, indent=1))
    lines = ["| shape | runner | batch | tokens/s | × probe | × padded (same batch) | peak GiB | peak × probe | MFU | HFU |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "tokens_per_s" not in r:
            lines.append(f"| {r['shape']} | {r['runner']} | | error: {r.get('error')} | | | | | | |")
            continue
        note = f" ({r['real_token_share']:.0%} real)" if r["runner"] == "padded" else ""
        lines.append(f"| {r['shape']} | {r['runner']} | {r['bs']} | {r['tokens_per_s']:,.0f}{note} | {r.get('vs_probe', '')} "
                     f"| {r.get('vs_padded', '')} | {r['peak_gib']} | {r.get('peak_vs_probe', '')} "
                     f"| {r.get('mfu', 0):.1%} | {r.get('hfu', 0):.1%} |")
    (args.out / "gpu_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def stage_run(args, shape: str, processes: int, backend: str) -> dict:
    """`python pipelines/pretrain.py` itself (the DVC stage's command) in a scratch folder: params.yaml = default +
    profiles/gpu.yaml with pretrain.processes/backend/batch set, models/base = the random-init model of `shape`,
    random token blocks. With processes > 1 the stage re-runs itself under torchrun (rank 0 writes the metrics)."""
    import shutil

    import numpy as np
    import yaml

    from langcpt.params import load_params, merge

    work = Path(tempfile.mkdtemp(prefix=f"stage-{shape}-{processes}-"))
    params = merge(load_params(REPO / "params.yaml"), yaml.safe_load((REPO / "profiles/gpu.yaml").read_text()))
    params["pretrain"].update(max_steps=args.steps, batch_size=args.bs, processes=processes, backend=backend,
                              gradient_accumulation_steps=1, eval_steps=10**9, save_steps=10**9, eval_blocks=8,
                              logging_steps=5)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    shutil.copytree(REPO / "pipelines", work / "pipelines")
    (work / "models").mkdir()
    (work / "models/base").symlink_to(f"/tmp/model-{shape}")
    (work / "data/tokens").mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(work / "data/tokens/train.npy",
            rng.integers(3, 4000, size=(args.steps * args.bs * processes, args.seq), dtype=np.uint16))
    np.save(work / "data/tokens/val.npy", rng.integers(3, 4000, size=(8, args.seq), dtype=np.uint16))
    print(f"+ (cd {work} && python pipelines/pretrain.py)  # pretrain.processes={processes}", flush=True)
    t = time.time()
    proc = subprocess.run([sys.executable, "pipelines/pretrain.py"], cwd=work, capture_output=True, text=True,
                          timeout=540)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-6000:], sep="\n", flush=True)
        return {"error": f"exit {proc.returncode}"}
    m = json.loads((work / "reports/pretrain/metrics.json").read_text())
    row = {"runner": "stage", "processes": m["processes"], "backend": m["backend"], "bs": args.bs,
           "tokens_per_s": m["steady_tokens_per_second"], "step_s": m["step_seconds_median"],
           "peak_gib": m.get("peak_gpu_gib"), "stage_s": round(time.time() - t, 1),
           "merge_max_logit_diff": m.get("merge_max_logit_diff")}
    print(json.dumps(row), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return row


def scaling(args) -> None:
    """tokens/s of the pretrain stage on N GPUs (pretrain.processes = N: DDP through torchrun, hf backend) against
    N = 1 with the same backend, and against one process of the default GPU backend (auto: Unsloth)."""
    rows = []
    for shape in args.shapes:
        if not Path(f"/tmp/model-{shape}/config.json").exists():  # the probe builds the random-init model
            run_json([sys.executable, args.probe, "--backend", "hf", "--shape", shape, "--steps", "1"], timeout=400)
        for n in args.nproc:
            row = stage_run(args, shape, n, "hf")
            row.update(shape=shape, nproc=n)
            rows.append(row)
        row = stage_run(args, shape, 1, "auto")
        row.update(shape=shape, nproc=1)
        rows.append(row)
    lines = ["| shape | GPUs | backend | batch per GPU | tokens/s | × 1 GPU (hf) | peak GiB (rank 0) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        one = next((o for o in rows if o["shape"] == r["shape"] and o["nproc"] == 1 and o.get("backend") == "hf"
                    and "tokens_per_s" in o), None)
        if "tokens_per_s" in r and one:
            r["vs_1gpu"] = round(r["tokens_per_s"] / one["tokens_per_s"], 3)
        lines.append(f"| {r['shape']} | {r['nproc']} | {r.get('backend', '')} | {args.bs} "
                     f"| {r.get('tokens_per_s', r.get('error'))} | {r.get('vs_1gpu', '')} | {r.get('peak_gib', '')} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_scaling.json").write_text(json.dumps(rows, indent=1))
    (args.out / "gpu_scaling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
