"""Near-dedup throughput side by side in one run: langcpt's dedup_clean vs datatrove's MinHash dedup pipeline.

The corpus is dedup_accuracy.py's injected corpus at a larger size: the distinct documents and ~30-word
paragraphs of --corpus (default data/clean/target.jsonl) plus --per-kind copies of every kind per length
bucket (exact, 5-20% word edits, boilerplate variants, and 30%-edited negatives), written as JSONL. Every
variant runs in its own process on 2 worker processes; each reports docs/s (input docs / wall seconds of its
work, reading the JSONL and writing the kept documents included) and its precision / recall / F1 against the
injected copies; the parent samples the resident memory of the variant's whole process tree every 20 ms
(peak RSS = the largest sum seen).

  ours_dedup   clean_stream (the dedup_clean library call) with only the dedup rules on (unicode/whitespace
               repair always runs: ftfy is most of its time), workers 2
  ours_all     clean_stream with every default rule on (language ID, quality, PII, ...), workers 2
  ours_core    langcpt.dedup alone: normalise + signatures in a pool of 2 processes, LSH pass in the parent
  datasketch   the previous langcpt.dedup, i.e. plain datasketch: xxh32 per shingle + MinHash.update_batch
               (pool of 2), then MinHashLSH query + LeanMinHash + insertion session per document
  datatrove    datatrove's four MinHash stages (signature, buckets, cluster, filter) with LocalPipelineExecutor,
               tasks/workers 2, JsonlReader/JsonlWriter, spaCy German word tokenizer

Matched between langcpt and datatrove: the n-gram size in words (when shingle_words is set; datatrove cannot do
character n-grams), 32-bit xxhash shingle hashes, the number of hashes and the LSH bands x rows (datatrove's
num_buckets x hashes_per_bucket = datasketch's optimal (b, r) for our threshold and num_perm). Not matched:
datatrove normalises text its own way (punctuation removed, numbers and diacritics normalised, spaCy tokens)
and has no Jaccard check: every bucket collision is a duplicate, clusters are transitive (union-find), and it
keeps one document per cluster; langcpt removes a document only when its estimated Jaccard with an earlier
kept document is >= threshold.

    python benchmarks/dedup_throughput.py                      # dedup params from params.yaml's clean: section
    python benchmarks/dedup_throughput.py --per-kind 150 --variants ours_dedup,datatrove
    python benchmarks/dedup_throughput.py --paragraphs --per-bucket 6000   # paragraphs instead of whole documents
    python benchmarks/dedup_throughput.py --shingle-words 2 --threshold 0.4 --num-perm 128

Needs the bench extra: pip install -e .[bench]  (datatrove + spaCy).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import dedup_accuracy as acc  # noqa: E402  (the corpus builder and scorer: same corpus, same scoring)

VARIANTS = ("ours_dedup", "ours_all", "ours_core", "datasketch", "datatrove")
DEDUP_KEYS = ("shingle_chars", "shingle_words", "num_perm", "threshold", "seed")
WORKERS = 2


# ------------------------------------------------------------------------------------------------ variants


def _read_jsonl(path: Path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def _kept_ids(path: Path) -> set[str]:
    return {d["id"] for d in _read_jsonl(path)}


def run_ours(corpus: Path, work: Path, dedup_p: dict, all_rules: bool) -> set[str]:
    from langcpt import clean

    cfg = {**dedup_p, "workers": WORKERS, "parallel_min_docs": 1}
    if not all_rules:
        cfg = {**acc.DEDUP_ONLY, **cfg}
    out = work / "kept.jsonl"
    clean.clean_stream(_read_jsonl(corpus), out, cfg)
    return _kept_ids(out)


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _core_chunk(args):
    from langcpt import dedup

    texts, p = args
    return dedup.signatures([dedup.normalize_for_dedup(t) for t in texts], p)


def run_core(corpus: Path, work: Path, p: dict) -> set[str]:
    import numpy as np

    from langcpt import dedup

    docs = list(_read_jsonl(corpus))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        sigs = np.concatenate(pool.map(_core_chunk, [(c, p) for c in _chunks([d["text"] for d in docs], 500)]))
    verdicts = dedup.near_duplicates(sigs, p)
    with open(work / "kept.jsonl", "w", encoding="utf-8") as f:
        for d, v in zip(docs, verdicts):
            if v is None:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    return {d["id"] for d, v in zip(docs, verdicts) if v is None}


def _plain_chunk(args):
    """The previous langcpt.dedup.signature: xxh32 per shingle string, datasketch MinHash.update_batch."""
    import numpy as np
    import xxhash

    from langcpt import dedup

    texts, p = args
    template = dedup.minhash_template(p["num_perm"], p["seed"])
    rows = []
    for t in texts:
        sh = dedup.shingles(dedup.normalize_for_dedup(t), p["shingle_chars"], p["shingle_words"])
        m = template.copy()
        m.update_batch(list(map(xxhash.xxh32_intdigest, map(str.encode, sh))))
        rows.append(m.hashvalues)
    return np.array(rows, dtype=np.uint32).reshape(len(rows), p["num_perm"])


def run_datasketch(corpus: Path, work: Path, p: dict) -> set[str]:
    import numpy as np
    from datasketch import LeanMinHash, MinHashLSH

    docs = list(_read_jsonl(corpus))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        sigs = np.concatenate(pool.map(_plain_chunk, [(c, p) for c in _chunks([d["text"] for d in docs], 500)]))
    lsh = MinHashLSH(threshold=p["threshold"], num_perm=p["num_perm"])
    kept, keep = {}, []
    with lsh.insertion_session() as session:
        for i, sig in enumerate(sigs):
            mh = LeanMinHash(seed=p["seed"], hashvalues=sig, scheme="affine32")
            if any(mh.jaccard(kept[k]) >= p["threshold"] for k in lsh.query(mh)):
                continue
            kept[i] = mh
            session.insert(i, mh, check_duplication=False)
            keep.append(i)
    with open(work / "kept.jsonl", "w", encoding="utf-8") as f:
        for i in keep:
            f.write(json.dumps(docs[i], ensure_ascii=False) + "\n")
    return {docs[i]["id"] for i in keep}


def lsh_bands(p: dict) -> tuple[int, int]:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=p["threshold"], num_perm=p["num_perm"])
    return lsh.b, lsh.r


def _xxh32(text: str) -> int:
    """datatrove 0.10.1 passes str to xxhash.xxh32_intdigest, which xxhash 4 refuses: encode first (same hash)."""
    import xxhash

    return xxhash.xxh32_intdigest(text.encode("utf-8"))


def run_datatrove(shards: Path, work: Path, p: dict, n_grams: int) -> set[str]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    b, r = lsh_bands(p)
    cfg = MinhashConfig(n_grams=n_grams, num_buckets=b, hashes_per_bucket=r, seed=p["seed"],
                        hash_config=HashConfig(precision=32, hash_fc="xxhash"))
    logs = str(work / "logs")
    signature = MinhashDedupSignature(output_folder=str(work / "sigs"), config=cfg, language="deu")
    signature._hash_func = _xxh32
    stages = [
        LocalPipelineExecutor(pipeline=[JsonlReader(str(shards), id_key="id"), signature],
                              tasks=WORKERS, workers=WORKERS, logging_dir=f"{logs}/1", skip_completed=False),
        LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=str(work / "sigs"),
                                                            output_folder=str(work / "buckets"), config=cfg)],
                              tasks=b, workers=WORKERS, logging_dir=f"{logs}/2", skip_completed=False),
        LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=str(work / "buckets"),
                                                            output_folder=str(work / "remove"), config=cfg)],
                              tasks=1, workers=1, logging_dir=f"{logs}/3", skip_completed=False),
        LocalPipelineExecutor(pipeline=[JsonlReader(str(shards), id_key="id"),
                                        MinhashDedupFilter(input_folder=str(work / "remove")),
                                        JsonlWriter(str(work / "kept"), compression=None)],
                              tasks=WORKERS, workers=WORKERS, logging_dir=f"{logs}/4", skip_completed=False),
    ]
    for stage in stages:
        stage.run()
    kept = set()
    for path in sorted((work / "kept").glob("*.jsonl")):
        kept |= _kept_ids(path)
    return kept


def child(args) -> int:
    """One variant, in this process: prints {"seconds", "kept"} as JSON."""
    p = json.loads(args.p)
    work = Path(args.work)
    t0 = time.perf_counter()
    if args.variant in ("ours_dedup", "ours_all"):
        kept = run_ours(work / "corpus.jsonl", work, p, args.variant == "ours_all")
    elif args.variant == "ours_core":
        kept = run_core(work / "corpus.jsonl", work, p)
    elif args.variant == "datasketch":
        kept = run_datasketch(work / "corpus.jsonl", work, p)
    else:
        kept = run_datatrove(work / "shards", work, p, args.n_grams)
    dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "kept": sorted(kept)}))
    return 0


# ---------------------------------------------------------------------------------------------- the parent


def run_variant(variant: str, work: Path, p: dict, n_grams: int) -> dict:
    """Run one variant in a child process; sample its process tree's RSS; return its report."""
    from procmem import run_sampling_rss

    cmd = [sys.executable, __file__, "--child", variant, "--work", str(work), "--p", json.dumps(p),
           "--n-grams", str(n_grams)]
    proc, out, err, peak = run_sampling_rss(cmd)
    if proc.returncode != 0:
        sys.exit(f"error: variant {variant} failed:\n{err[-3000:]}")
    rep = json.loads(out.strip().splitlines()[-1])
    rep["peak_rss_mib"] = peak / 2**20
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO / "data" / "clean" / "target.jsonl",
                    help="JSONL corpus with a 'text' field (default: %(default)s; fortunes-de when absent)")
    ap.add_argument("--cache-dir", type=Path, default=REPO / "data" / "cache" / "fortunes-de")
    ap.add_argument("--per-bucket", type=int, default=10**9,
                    help="originals per length bucket (default: all distinct documents and paragraphs)")
    ap.add_argument("--paragraphs", action="store_true",
                    help="use the corpus' paragraphs (8+ words, split at blank lines) as the documents")
    ap.add_argument("--per-kind", type=int, default=150, help="copies per kind and length bucket (default: %(default)s)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma list of %s" % ", ".join(VARIANTS))
    ap.add_argument("--seed", type=int, default=0)
    for key, typ in (("shingle-chars", int), ("shingle-words", int), ("num-perm", int), ("threshold", float)):
        ap.add_argument("--" + key, type=typ, default=None, help="override params.yaml clean." + key.replace("-", "_"))
    ap.add_argument("--datatrove-ngrams", type=int, default=5,
                    help="datatrove's n_grams when our shingling is by characters (default: %(default)s)")
    ap.add_argument("--child", choices=VARIANTS, dest="variant", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--p", help=argparse.SUPPRESS)
    ap.add_argument("--n-grams", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.variant:
        return child(args)

    from langcpt import clean

    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["clean"]
    dedup_p = {k: params[k] for k in DEDUP_KEYS if k in params}
    for key in ("shingle_chars", "shingle_words", "num_perm", "threshold"):
        if getattr(args, key) is not None:
            dedup_p[key] = getattr(args, key)
    p = {k: v for k, v in clean.validate_cfg({**acc.DEDUP_ONLY, **dedup_p}).items() if k in DEDUP_KEYS}
    n_grams = p["shingle_words"] or args.datatrove_ngrams
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]

    rng = random.Random(args.seed)
    texts, source = acc.load_texts(args.corpus, args.cache_dir)
    if args.paragraphs:
        texts = [para for t in texts for para in t.split("\n\n") if len(para.split()) >= 8]
        source += " (paragraphs)"
    originals, skipped = acc.distinct_originals(texts, rng, args.per_bucket)
    docs, labels = acc.build_corpus(originals, args.per_kind, rng)
    b, r = lsh_bands(p)
    shingling = f"word {p['shingle_words']}-grams" if p["shingle_words"] else f"character {p['shingle_chars']}-grams"
    print(f"corpus: {source}: {len(originals)} distinct originals + {len(docs) - len(originals)} injected "
          f"= {len(docs)} docs, {sum(len(d['text']) for d in docs) / 1e6:.1f} M characters")
    print(f"dedup: {shingling}, num_perm {p['num_perm']}, threshold {p['threshold']} -> LSH {b} bands x {r} rows; "
          f"datatrove: n_grams {n_grams} (words), {b} buckets x {r} hashes, 32-bit xxhash")
    print(f"machine: {os.cpu_count()} CPUs, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{WORKERS} worker processes per variant")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}\n")

    results = {}
    with tempfile.TemporaryDirectory(prefix="dedup-throughput-") as tmp:
        tmp = Path(tmp)
        with open(tmp / "corpus.jsonl", "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps({**d, "source": "bench", "path": d["id"], "license": ""}, ensure_ascii=False) + "\n")
        (tmp / "shards").mkdir()
        half = (len(docs) + 1) // 2
        for k, part in enumerate((docs[:half], docs[half:])):
            with open(tmp / "shards" / f"{k:02d}.jsonl", "w", encoding="utf-8") as f:
                for d in part:
                    f.write(json.dumps(d, ensure_ascii=False) + "\n")
        for v in variants:
            work = tmp / v
            work.mkdir()
            for name in ("corpus.jsonl", "shards"):
                os.symlink(tmp / name, work / name)
            rep = run_variant(v, work, p, n_grams)
            removed = {d["id"] for d in docs} - set(rep["kept"])
            results[v] = {**acc.score(removed, labels), "docs_per_s": len(docs) / rep["seconds"],
                          "seconds": rep["seconds"], "peak_rss_mib": rep["peak_rss_mib"]}
            print(f"  {v}: {rep['seconds']:.1f} s", file=sys.stderr, flush=True)

    base = results.get("datatrove")
    header = (f"{'variant':<11} {'seconds':>8} {'docs/s':>8} {'x datatrove':>11} {'peak RSS MiB':>12} "
              f"{'prec':>6} {'recall':>6} {'F1':>6} {'R<=15':>6} {'kept30':>6}")
    print(header)
    print("-" * len(header))
    for v, r_ in results.items():
        ratio = f"{r_['docs_per_s'] / base['docs_per_s']:.2f}" if base else "-"
        print(f"{v:<11} {r_['seconds']:>8.1f} {r_['docs_per_s']:>8.0f} {ratio:>11} {r_['peak_rss_mib']:>12.0f} "
              f"{r_['precision']:>6.3f} {r_['recall']:>6.3f} {r_['f1']:>6.3f} {r_['r15']:>6.3f} {r_['kept30']:>6.3f}")
    print("\n(ours_all also applies the quality / language / PII rules, so its precision/recall are not dedup's.)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
