"""The worker pools of ingest and dedup_clean, side by side in one run: multiprocessing.Pool (what the stages used
until its terminate() hung CI after a full-disk error) against langcpt.parallel.ordered_map (what they use now).

  ingest   langcpt.ingest._parse_file over --files synthetic German text files ("auto" format), 2 workers:
           Pool.imap(chunksize=4) vs ordered_map (ingest's batches of 4 files per task, 2 x workers ahead)
  clean    langcpt.clean._process_chunk over the clean stage's chunks of --docs documents (default rules), 2
           "spawn" workers: Pool.apply_async with 2 x workers in flight vs ordered_map

Each variant runs --repeats times, alternating; reported: the median wall seconds and ordered_map / Pool.

    python benchmarks/pool_map.py                         # -> benchmarks/results/pool_map.json
    python benchmarks/pool_map.py --files 8000 --docs 4000 --repeats 5
"""
from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

from langcpt import clean
from langcpt.ingest import PARSE_BATCH, _parse_batch, _parse_file
from langcpt.parallel import ordered_map

WORDS = ("der die das und ist nicht ein eine mit auf für von dem den zu sich auch wie noch nach bei aus "
         "Haus Garten Sonne Winter Stadt Fahrrad Brot Schule Freund Nachbar Morgen Abend Buch Zug").split()


def text(i: int, words: int) -> str:
    return " ".join(WORDS[(i * 7 + k * k) % len(WORDS)] for k in range(words)).capitalize() + f". Nummer {i}."


def ingest_pool(jobs, workers):
    with multiprocessing.Pool(workers) as pool:
        return sum(len(entries) for entries, _ in pool.imap(_parse_file, jobs, chunksize=4))


def ingest_ordered(jobs, workers):
    batches = [jobs[i:i + PARSE_BATCH] for i in range(0, len(jobs), PARSE_BATCH)]
    return sum(len(entries) for _, batch in ordered_map(_parse_batch, batches, workers) for entries, _ in batch)


def clean_pool(chunks, p, workers):
    n = 0
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pending = collections.deque()
        for chunk in chunks:
            pending.append(pool.apply_async(clean._process_chunk, (([d["text"] for d in chunk], p),)))
            if len(pending) >= 2 * workers:
                n += len(pending.popleft().get()[0])
        while pending:
            n += len(pending.popleft().get()[0])
    return n


def clean_ordered(chunks, p, workers):
    return sum(len(rows) for _, (rows, _) in ordered_map(
        clean._process_chunk, chunks, workers, args_of=lambda chunk: ([d["text"] for d in chunk], p),
        mp_context=multiprocessing.get_context("spawn")))


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4000)
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/pool_map.json")
    a = ap.parse_args()
    results = {"workers": a.workers, "files": a.files, "docs": a.docs, "repeats": a.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.files):
            Path(tmp, f"doc{i:05d}.txt").write_text(text(i, 40 + i % 200), encoding="utf-8")
        jobs = [(str(Path(tmp, f"doc{i:05d}.txt")), "auto", None) for i in range(a.files)]
        docs = [{"text": text(i, 60 + i % 400), "source": "bench"} for i in range(a.docs)]
        chunks = list(clean._chunks(docs))
        p = clean.validate_cfg({"workers": a.workers})
        runs = {"ingest": (lambda: timed(ingest_pool, jobs, a.workers), lambda: timed(ingest_ordered, jobs, a.workers)),
                "clean": (lambda: timed(clean_pool, chunks, p, a.workers),
                          lambda: timed(clean_ordered, chunks, p, a.workers))}
        for name, (pool_run, ordered_run) in runs.items():
            secs = {"pool": [], "ordered_map": []}
            for _ in range(a.repeats):
                for variant, run in (("pool", pool_run), ("ordered_map", ordered_run)):
                    s, n = run()
                    secs[variant].append(s)
                    assert n == (a.files if name == "ingest" else a.docs), (name, variant, n)
            med = {k: statistics.median(v) for k, v in secs.items()}
            results[name] = {"seconds": secs, "median_s": med, "ordered_map_over_pool": med["ordered_map"] / med["pool"]}
            print(f"{name:7s} Pool {med['pool']:.2f} s   ordered_map {med['ordered_map']:.2f} s   "
                  f"ratio {results[name]['ordered_map_over_pool']:.3f}", flush=True)
    Path(a.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
