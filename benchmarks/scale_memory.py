"""Does the corpus stream? Peak memory and wall time of dedup_clean and tokenize_chunk on the default raw corpus (1x)
and on a corpus N times its size (default 10x), side by side in one run.

The Nx corpus is built from data/raw/{target,general}.jsonl so that it is real text of the same language and the
same document-length profile, but not N copies (exact or near copies would be removed by dedup, and tokenize_chunk
would only see 1x): copy 0 is the original corpus; copy k >= 1 takes the corpus's non-empty lines in a random order
(seed k) and deals them out to documents shaped like the originals (document i gets as many lines as original
document i, at least 2), so every synthetic document mixes lines of different original documents. The text is
real German/English line by line, but a synthetic document is not a coherent text; a few may still collide with
each other in near-dedup (the stage reports how many it kept).

Each stage runs as `python pipelines/<stage>.py` in a temp folder (params.yaml of this checkout, models/base linked,
the langcpt of this working tree) under `/usr/bin/time -v`; reported per stage and scale: wall seconds, the peak
RSS of the largest single process (time -v), and the peak of the summed RSS of the stage's whole process tree
(sampled every 0.1 s with psutil: the worker pool of dedup_clean counts too).

    python benchmarks/scale_memory.py                  # 1x and 10x
    python benchmarks/scale_memory.py --scales 1,3     # quicker
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procmem import run_sampling_rss  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STAGES = ("dedup_clean", "tokenize_chunk")


def build_corpus(src: Path, dst: Path, scale: int) -> tuple[int, int]:
    """Write `scale` versions of the JSONL corpus `src` to `dst` (see the module doc); return (docs, chars)."""
    docs = [json.loads(line) for line in src.open(encoding="utf-8") if line.strip()]
    shapes = [max(2, sum(1 for x in d["text"].split("\n") if x.strip())) for d in docs]
    lines = [x for d in docs for x in d["text"].split("\n") if x.strip()]
    n_docs = n_chars = 0
    with dst.open("w", encoding="utf-8") as f:
        for k in range(scale):
            if k == 0:
                versions = docs
            else:
                order = random.Random(k).sample(lines, len(lines))
                pos, versions = 0, []
                for d, n in zip(docs, shapes):
                    picked = [order[(pos + j) % len(order)] for j in range(n)]
                    pos += n
                    versions.append({**d, "text": "\n".join(picked), "path": f"{d.get('path', '')}~{k}"})
            for d in versions:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
                n_docs += 1
                n_chars += len(d["text"])
    return n_docs, n_chars


def run_stage(stage: str, cwd: Path) -> dict:
    """Run one stage under /usr/bin/time -v; return wall seconds, max single-process RSS and peak tree RSS (MiB)."""
    cmd = ["/usr/bin/time", "-v", sys.executable, str(REPO / "pipelines" / f"{stage}.py")]
    t0 = time.perf_counter()
    proc, out, err, peak = run_sampling_rss(cmd, cwd=cwd, interval=0.1)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{stage} failed in {cwd} (exit {proc.returncode}):\n{err[-3000:]}")
    maxrss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    return {"wall_s": round(wall, 1), "max_process_rss_mib": round(maxrss_kb / 1024),
            "peak_tree_rss_mib": round(peak / 2**20), "stdout": out.strip().splitlines()[-3:]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="1,10", help="comma-separated corpus multiples (default 1,10)")
    ap.add_argument("--raw", type=Path, default=REPO / "data" / "raw")
    ap.add_argument("--keep", action="store_true", help="keep the temp folders (printed)")
    args = ap.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    load = os.getloadavg()
    results = []
    for scale in scales:
        root = Path(tempfile.mkdtemp(prefix=f"scale{scale}x."))
        try:
            (root / "data" / "raw").mkdir(parents=True)
            (root / "models").mkdir()
            os.symlink((REPO / "models" / "base").resolve(), root / "models" / "base")
            shutil.copy(REPO / "params.yaml", root / "params.yaml")
            corpus = {split: build_corpus(args.raw / f"{split}.jsonl", root / "data" / "raw" / f"{split}.jsonl", scale)
                      for split in ("target", "general")}
            row = {"scale": scale, "raw_docs": {k: v[0] for k, v in corpus.items()},
                   "raw_chars": {k: v[1] for k, v in corpus.items()},
                   "raw_mib": round(sum((root / "data/raw" / f"{s}.jsonl").stat().st_size for s in corpus) / 2**20)}
            print(f"{scale}x corpus: {row['raw_docs']} docs, {row['raw_mib']} MiB raw JSONL", flush=True)
            for stage in STAGES:
                row[stage] = run_stage(stage, root)
                print(f"  {stage}: {row[stage]}", flush=True)
            clean = json.loads((root / "reports" / "clean.json").read_text())
            row["clean_kept"] = {k: clean[k].get("kept_docs") for k in ("target", "general") if k in clean}
            tok = json.loads((root / "reports" / "tokenize.json").read_text())
            row["train_tokens"] = tok["train_tokens"]
            results.append(row)
        finally:
            if args.keep:
                print(f"  kept {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)
    print(f"\ncommand: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15-min), cores: {len(os.sched_getaffinity(0))}")
    print(f"{'scale':>5} {'stage':<15} {'raw docs':>9} {'kept':>8} {'train tok':>11} {'wall s':>7} "
          f"{'max proc RSS':>12} {'peak tree RSS':>13}")
    for r in results:
        for stage in STAGES:
            s = r[stage]
            print(f"{r['scale']:>4}x {stage:<15} {sum(r['raw_docs'].values()):>9} "
                  f"{sum(v or 0 for v in r['clean_kept'].values()):>8} {r['train_tokens']:>11,} {s['wall_s']:>7} "
                  f"{s['max_process_rss_mib']:>8} MiB {s['peak_tree_rss_mib']:>9} MiB")
    if len(results) > 1:
        a, b = results[0], results[-1]
        for stage in STAGES:
            print(f"{stage}: {b['scale']}x/{a['scale']}x  wall {b[stage]['wall_s'] / a[stage]['wall_s']:.1f}x, "
                  f"max process RSS {b[stage]['max_process_rss_mib'] / a[stage]['max_process_rss_mib']:.2f}x, "
                  f"peak tree RSS {b[stage]['peak_tree_rss_mib'] / a[stage]['peak_tree_rss_mib']:.2f}x")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
