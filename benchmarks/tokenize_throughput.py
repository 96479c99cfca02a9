"""Tokenize/chunk throughput against the fast tokenizer's raw batch encode, side by side in one run.

On the same texts (default: the cleaned corpus, data/clean/target.jsonl + general.jsonl) and the same tokenizer
(models/base, SmolLM2 byte-level BPE), in rounds (each path once per round, `--repeat` rounds), best time of each kept:
  raw_call     tokenizer(batch, add_special_tokens=False)["input_ids"]         (the transformers API)
  raw_fast     tokenizer._tokenizer.encode_batch_fast(batch, add_special_tokens=False) -> ids (no offsets)
  pack         langcpt.packing.tokenize_and_pack (encode + separator + packing into block_size blocks)
  stage        `python pipelines/tokenize_chunk.py` in a temp folder on the same files, caps off, its own
               wall_seconds (reading JSONL, split, encode, pack, writing .npy; not the Python start-up and
               tokenizer load); its peak RSS from `/usr/bin/time -v`
Tokens/s counts every token encoded (documents + one separator each), the same number for every line.
Ratios are against the faster raw encode. TOKENIZERS_PARALLELISM is on (the tokenizer uses every core).

    python benchmarks/tokenize_throughput.py                     # block_size 2048, batches of 1000 documents
    python benchmarks/tokenize_throughput.py --block-size 256 --repeat 5
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from langcpt.fileio import read_jsonl  # noqa: E402
from langcpt.packing import batched, tokenize_and_pack  # noqa: E402


def run_stage(files: list[Path], tokenizer_dir: Path, block_size: int, batch_size: int) -> float:
    with tempfile.TemporaryDirectory(prefix="tokbench.") as tmp:
        root = Path(tmp)
        (root / "data" / "clean").mkdir(parents=True)
        (root / "models").mkdir()
        os.symlink(tokenizer_dir.resolve(), root / "models" / "base")
        for name, f in zip(("target", "general"), files):
            os.symlink(f.resolve(), root / "data" / "clean" / f"{name}.jsonl")
        (root / "params.yaml").write_text(json.dumps({"tokenize": {
            "block_size": block_size, "validation_fraction": 0.05, "seed": 0, "separator_token": None,
            "max_train_blocks": None, "max_val_blocks": None, "batch_size": batch_size}}))
        proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, str(REPO / "pipelines" / "tokenize_chunk.py")],
                              cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
        return json.loads((root / "reports" / "tokenize.json").read_text())["wall_seconds"], rss_kb


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", type=Path, default=REPO / "data/clean/target.jsonl")
    ap.add_argument("--general", type=Path, default=REPO / "data/clean/general.jsonl")
    ap.add_argument("--tokenizer", type=Path, default=REPO / "models/base")
    ap.add_argument("--block-size", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    sep = tok.convert_tokens_to_ids(tok.eos_token)
    texts = [d["text"] for f in (args.target, args.general) for d in read_jsonl(f)]
    batches = list(batched(texts, args.batch_size))
    n_tokens = sum(len(ids) + 1 for b in batches for ids in tok(b, add_special_tokens=False)["input_ids"])
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    backend = tok._tokenizer
    runs = {
        "raw_call": lambda: [tok(b, add_special_tokens=False)["input_ids"] for b in batches],
        "raw_fast": lambda: [[e.ids for e in backend.encode_batch_fast(b, add_special_tokens=False)] for b in batches],
        "pack": lambda: tokenize_and_pack(texts, tok, args.block_size, sep, batch_size=args.batch_size),
    }
    seconds, rss_stage = {name: [] for name in [*runs, "stage"]}, 0
    for _ in range(args.repeat):  # rounds interleave the paths, so a change of machine load hits them all
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - t0)
        stage_s, rss_kb = run_stage([args.target, args.general], args.tokenizer, args.block_size, args.batch_size)
        rss_stage = max(rss_stage, rss_kb)
        seconds["stage"].append(stage_s)
    seconds = {name: min(s) for name, s in seconds.items()}
    rss_inproc = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    raw = min(seconds["raw_call"], seconds["raw_fast"])
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load before: {load:.2f} (1-min average), cores: {len(os.sched_getaffinity(0))}, "
          f"TOKENIZERS_PARALLELISM={os.environ['TOKENIZERS_PARALLELISM']}")
    print(f"texts: {len(texts)} documents, {sum(map(len, texts)):,} chars, {n_tokens:,} tokens (with separators); "
          f"block_size {args.block_size}, batch_size {args.batch_size}, best of {args.repeat}")
    print(f"{'path':<10} {'seconds':>8} {'tokens/s':>12} {'vs raw':>7}")
    for name, s in seconds.items():
        print(f"{name:<10} {s:8.2f} {n_tokens / s:12,.0f} {raw / s:7.1%}")
    print(f"peak RSS: {rss_loaded / 1024:.0f} MiB after loading texts+tokenizer, {rss_inproc / 1024:.0f} MiB after "
          f"the in-process runs; the stage process (time -v) {rss_stage / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
