"""CPU generation speed: llama.cpp (each GGUF quantization) against transformers, same model, same prompts, one run.

Both sides generate greedily exactly --tokens new tokens after each chat prompt (the prompts are the SFT model's chat
template applied to params.yaml's gate and evaluate chat prompts, with the Modelfile system prompt) with the same
number of threads. Generation tokens/s counts decoding only: transformers' time for --tokens tokens minus its time for
one token (the prompt pass), llama.cpp's time from the first sampled token to the last. Each side runs in its own
process, so its peak RSS is its own.

    python benchmarks/gguf_speed.py                       # models/sft + models/gguf, types f16,q8_0,q5_k_m,q4_k_m
    python benchmarks/gguf_speed.py --threads 2 --tokens 64 --out benchmarks/results/gguf_speed.json

A type without a file in --gguf-dir is quantized from its model-f16.gguf into --work (a temp dir by default);
--gguf-dir and --sft are only read.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def prompts(sft: Path, n: int) -> list[str]:
    import yaml
    from transformers import AutoTokenizer

    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    system = params["gguf"]["modelfile"]["system"]
    users = [params["gguf"]["gate_prompt"], *params["evaluate"]["chat_prompts"], *params["evaluate"]["prompts"]][:n]
    tok = AutoTokenizer.from_pretrained(sft)
    return [tok.apply_chat_template([{"role": "system", "content": system}, {"role": "user", "content": u}],
                                    tokenize=False, add_generation_prompt=True) for u in users]


def worker_hf(sft: Path, texts: list[str], tokens: int, threads: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(sft)
    model = AutoModelForCausalLM.from_pretrained(sft).eval()  # the checkpoint's own dtype

    def timed(ids, n):
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                                 do_sample=False, pad_token_id=tok.pad_token_id or 0)
        assert out.shape[1] - ids.shape[1] == n
        return time.perf_counter() - t0

    per = []
    timed(tok(texts[0], return_tensors="pt", add_special_tokens=False).input_ids, 4)  # warm-up
    for text in texts:
        ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
        first, full = timed(ids, 1), timed(ids, tokens)
        per.append((tokens - 1) / max(full - first, 1e-9))
    return {"dtype": str(model.dtype), "tokens_per_s": per}


def worker_gguf(path: Path, texts: list[str], tokens: int, threads: int) -> dict:
    from langcpt.gguf_export import decode_speed, load

    llm = load(path, n_ctx=1024, n_threads=threads)
    try:
        decode_speed(llm, texts[0], 4)  # warm-up
        per = [decode_speed(llm, t, tokens) for t in texts]
    finally:
        llm.close()
    return {"file": path.name, "size_mb": round(path.stat().st_size / 2**20, 1), "tokens_per_s": per}


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM; unlike ru_maxrss it is not inherited from the parent across fork+exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def run_side(args, side: str, texts: list[str]) -> dict:
    """Run one side in a child process; its result plus the child's own peak RSS."""
    cmd = [sys.executable, __file__, "--worker", side, "--sft", str(args.sft), "--tokens", str(args.tokens),
           "--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    out, _ = proc.communicate(json.dumps(texts))
    if proc.returncode:
        raise SystemExit(f"{side} failed ({proc.returncode})")
    res = json.loads(out.strip().splitlines()[-1])
    res["peak_rss_mib"] = res.pop("_rss_mib")
    per = res["tokens_per_s"]
    res["tokens_per_s"] = round(sum(per) / len(per), 2)
    res["per_prompt"] = [round(x, 2) for x in per]
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sft", type=Path, default=REPO / "models/sft")
    ap.add_argument("--gguf-dir", type=Path, default=REPO / "models/gguf")
    ap.add_argument("--types", default="f16,q8_0,q5_k_m,q4_k_m")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompts", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3, help="each side once per round; medians over rounds")
    ap.add_argument("--work", type=Path, default=None, help="where missing quantizations are written (temp dir)")
    ap.add_argument("--out", type=Path, default=None, help="JSON results (e.g. benchmarks/results/gguf_speed.json)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:  # child: texts on stdin, one JSON line on stdout
        texts = json.loads(sys.stdin.read())
        res = (worker_hf(args.sft, texts, args.tokens, args.threads) if args.worker == "transformers"
               else worker_gguf(Path(args.worker), texts, args.tokens, args.threads))
        res["_rss_mib"] = peak_rss_mib()
        print(json.dumps(res))
        return

    from langcpt.gguf_export import quantize

    texts = prompts(args.sft, args.prompts)
    work = Path(args.work or tempfile.mkdtemp(prefix="gguf-speed-"))
    files = {}
    for q in args.types.split(","):
        path = args.gguf_dir / f"model-{q}.gguf"
        if not path.is_file():
            path = quantize(args.gguf_dir / "model-f16.gguf", work / f"model-{q}.gguf", q)
        files[q] = path
    load_before = os.getloadavg()
    sides = {"transformers": "transformers", **{q: str(p) for q, p in files.items()}}
    rounds = []  # every round runs every side once, so a change of machine load hits all sides alike
    for i in range(args.rounds):
        rounds.append({name: run_side(args, side, texts) for name, side in sides.items()})
        print(f"round {i + 1}: " + ", ".join(f"{k} {v['tokens_per_s']:.1f}" for k, v in rounds[-1].items()),
              flush=True)
    results = {}
    for name in sides:
        runs = [r[name] for r in rounds]
        results[name] = {**runs[0], "tokens_per_s": round(statistics.median(r["tokens_per_s"] for r in runs), 2),
                         "per_round": [r["tokens_per_s"] for r in runs],
                         "peak_rss_mib": max(r["peak_rss_mib"] for r in runs)}
        results[name].pop("per_prompt", None)
    for name, r in results.items():  # ratio per round, then the median: robust to load drifting between rounds
        r["x_transformers"] = round(statistics.median(
            x[name]["tokens_per_s"] / x["transformers"]["tokens_per_s"] for x in rounds), 2)
    report = {"command": "python " + " ".join([os.path.relpath(__file__, REPO), *sys.argv[1:]]),
              "threads": args.threads, "new_tokens": args.tokens, "prompts": len(texts), "rounds": args.rounds, "cpu": platform.processor()
              or platform.machine(), "cores": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
              "loadavg_after": [round(x, 2) for x in os.getloadavg()], "results": results}
    print(f"{'side':<14}{'tokens/s':>10}{'x transformers':>16}{'peak RSS MiB':>14}{'size MiB':>10}")
    for name, r in results.items():
        print(f"{name:<14}{r['tokens_per_s']:>10.1f}{r['x_transformers']:>16.2f}{r['peak_rss_mib']:>14.0f}"
              f"{r.get('size_mb', ''):>10}")
    print(f"load average before {report['loadavg_before']}, after {report['loadavg_after']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"-> {args.out}")


if __name__ == "__main__":
    main()
