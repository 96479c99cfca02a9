"""How well does langcpt.clean's near-duplicate removal work on real German text, per shingling and threshold?

Takes ~2000 real German fortune entries (Debian package fortunes-de, fetched with `apt-get download` +
`dpkg -x` into --cache-dir when absent), drops entries that already resemble one another (exact character
5-gram Jaccard >= 0.3, so the ground truth is clean), then injects copies of random entries at random later
positions:
  * near copies: --edit-rate of the words edited (substituted by a random corpus word, deleted, or a random
    word inserted; at least one edit),
  * exact copies: the same text, some with changed letter case / extra spaces and line breaks.
It then runs `clean_corpus` with only the dedup rules active, for every shingling x threshold, and prints
precision / recall / F1 of "removed" against "is an injected copy", recall on near copies alone (overall and
for originals under / over 30 words), and throughput of the whole clean_corpus call.

Precision on that corpus is optimistic by construction (the originals are mutually dissimilar), so --natural
also runs each setting on all fortune entries as they are and counts what near-dedup removes there; pairs that
share a first line ending in ':' ("Wie man sein Kind nicht nennen sollte:\n<pun>") are template jokes with
different punchlines -- distinct texts, i.e. the collateral damage of that setting.

    python benchmarks/dedup_accuracy.py                       # the default grid
    python benchmarks/dedup_accuracy.py --shinglings c5,w3 --thresholds 0.6,0.7
    python benchmarks/dedup_accuracy.py --natural                 # also count removals on the real corpus
    python benchmarks/dedup_accuracy.py --throughput-docs 20000   # also time the full default clean
"""
from __future__ import annotations

import argparse
import glob
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
try:
    from langcpt import clean
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO / "src"))
    from langcpt import clean

FORTUNE_GLOB = "usr/share/games/fortunes/de/*.u8"
DEDUP_ONLY = {  # switch rules 1-5 off (unicode/whitespace always run) so only dedup removes documents
    "min_chars": 0,
    "min_alpha_ratio": 0.0,
    "max_duplicate_line_ratio": 1.0,
    "language": None,
    "workers": 1,
}


def fetch_fortunes(cache_dir: Path) -> list[str]:
    """Return the fortune files of fortunes-de under cache_dir, downloading and unpacking the .deb if needed."""
    files = sorted(glob.glob(str(cache_dir / "x" / FORTUNE_GLOB)))
    if files:
        return files
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        print(f"fetching fortunes-de into {cache_dir} ...", file=sys.stderr)
        try:
            subprocess.run(["apt-get", "download", "fortunes-de"], cwd=tmp, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            detail = getattr(e, "stderr", "") or str(e)
            sys.exit(f"error: apt-get download fortunes-de failed: {detail.strip()}")
        for deb in sorted(glob.glob(os.path.join(tmp, "*.deb"))):
            subprocess.run(["dpkg", "-x", deb, str(cache_dir / "x")], check=True)
    files = sorted(glob.glob(str(cache_dir / "x" / FORTUNE_GLOB)))
    if not files:
        sys.exit(f"error: no fortune files under {cache_dir / 'x'} after unpacking fortunes-de")
    return files


def read_fortunes(files: list[str]) -> list[str]:
    """Entries of strfile fortune files: separated by lines that are exactly '%'."""
    entries = []
    for path in files:
        cur: list[str] = []
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if line == "%":
                    entries.append("\n".join(cur))
                    cur = []
                else:
                    cur.append(line)
        entries.append("\n".join(cur))
    return [e for e in entries if e.strip()]


def char_jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = clean.shingles(a, n), clean.shingles(b, n)
    return len(sa & sb) / len(sa | sb)


def distinct_base(entries: list[str], rng: random.Random, n_base: int) -> tuple[list[str], int]:
    """Clean, length-filter and sample entries, dropping any that resemble an earlier one (exact check)."""
    from datasketch import LeanMinHash, MinHashLSH

    cleaned = []
    for e in entries:
        t = clean.fix_whitespace(clean.fix_unicode(e))
        if len(t) >= 40 and clean.alpha_ratio(t) >= 0.6:
            cleaned.append(t)
    rng.shuffle(cleaned)
    template = clean.minhash_template(128, 7)
    lsh = MinHashLSH(threshold=0.3, num_perm=128)
    base, norms, dropped = [], [], 0
    for t in cleaned:
        norm = clean.normalize_for_dedup(t)
        mh = LeanMinHash(seed=7, hashvalues=clean.signature(norm, template), scheme="affine32")
        if any(char_jaccard(norm, norms[k]) >= 0.3 for k in lsh.query(mh)):
            dropped += 1
            continue
        lsh.insert(len(base), mh)
        base.append(t)
        norms.append(norm)
        if len(base) == n_base:
            break
    return base, dropped


_TOKEN_RE = re.compile(r"(\s+)")


def near_copy(text: str, vocab: list[str], rate: float, rng: random.Random) -> str:
    parts = _TOKEN_RE.split(text)  # words at even indexes, whitespace at odd ones
    word_idx = [i for i in range(0, len(parts), 2) if parts[i]]
    k = max(1, round(rate * len(word_idx)))
    for i in rng.sample(word_idx, k):
        op = rng.random()
        if op < 0.6:
            parts[i] = rng.choice(vocab)
        elif op < 0.8:
            parts[i] = ""
        else:
            parts[i] = parts[i] + " " + rng.choice(vocab)
    return re.sub(r" {2,}", " ", "".join(parts)).strip()


def exact_copy(text: str, rng: random.Random) -> str:
    """The same text up to case and whitespace (what exact dedup's normalisation should see through)."""
    style = rng.randrange(3)
    if style == 0:
        return text
    if style == 1:
        return text.upper() if rng.random() < 0.5 else text.lower()
    return "  " + text.replace(" ", "  \t").replace("\n", "\n\n") + " \n"


def build_corpus(base: list[str], n_near: int, n_exact: int, rate: float, rng: random.Random):
    """Docs (dicts with id) with copies inserted after their originals; kinds: id -> 'near' | 'exact'."""
    vocab = sorted({w for t in base for w in t.split() if w.isalpha()})
    picks = rng.sample(range(len(base)), n_near + n_exact)
    docs = [{"id": f"b{i}", "text": t} for i, t in enumerate(base)]
    kinds, short = {}, {}
    for j, src in enumerate(picks):
        if j < n_near:
            did, text, kind = f"n{j}", near_copy(base[src], vocab, rate, rng), "near"
        else:
            did, text, kind = f"e{j}", exact_copy(base[src], rng), "exact"
        kinds[did] = kind
        short[did] = len(base[src].split()) < 30
        pos = next(k for k, d in enumerate(docs) if d["id"] == f"b{src}")
        docs.insert(rng.randint(pos + 1, len(docs)), {"id": did, "text": text})
    return docs, kinds, short


def parse_shingling(spec: str) -> dict:
    m = re.fullmatch(r"([cw])(\d+)", spec.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad shingling {spec!r}: use c<N> (characters) or w<N> (words)")
    n = int(m.group(2))
    return {"shingle_chars": n, "shingle_words": None} if m.group(1) == "c" else {"shingle_words": n}


def evaluate(docs, kinds, short, cfg) -> dict:
    t0 = time.perf_counter()
    res = clean.clean_corpus(docs, cfg)
    dt = time.perf_counter() - t0
    kept = {d["id"] for d in res.docs}
    removed = {d["id"] for d in docs} - kept
    copies = set(kinds)
    near = {d for d, k in kinds.items() if k == "near"}
    tp = len(removed & copies)
    prec = tp / len(removed) if removed else 1.0
    rec = tp / len(copies)
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0

    def near_recall(ids):
        return len(removed & ids) / len(ids) if ids else float("nan")

    return {
        "precision": prec,
        "recall": rec,
        "f1": f1,
        "near_recall": near_recall(near),
        "near_recall_short": near_recall({d for d in near if short[d]}),
        "near_recall_long": near_recall({d for d in near if not short[d]}),
        "false_pos": len(removed - copies),
        "docs_per_s": len(docs) / dt,
    }


def natural(entries: list[str], shinglings, thresholds, num_perm: int) -> None:
    """Near-dedup removals on the unmodified fortune corpus, and how many are template jokes."""
    docs = [{"text": e} for e in entries]
    print(f"\nnatural corpus: all {len(docs)} fortune entries, min_chars 40, no injected copies:")
    header = f"{'shingles':>8} {'thresh':>6} {'near removed':>12} {'template pairs':>14} {'other':>6}"
    print(header)
    print("-" * len(header))
    for name, shingle_cfg in shinglings:
        for th in thresholds:
            cfg = {**DEDUP_ONLY, "min_chars": 40, **shingle_cfg, "threshold": th, "num_perm": num_perm,
                   "max_examples": len(docs)}
            res = clean.clean_corpus(docs, cfg)
            ex = res.near_duplicate_examples
            tmpl = sum(1 for e in ex if _first_line(e["kept"]) == _first_line(e["removed"])
                       and _first_line(e["kept"]).endswith(":"))
            print(f"{name:>8} {th:>6.2f} {len(ex):>12d} {tmpl:>14d} {len(ex) - tmpl:>6d}")


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0].rstrip()


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def throughput(entries: list[str], n_docs: int, rng: random.Random) -> None:
    """Full default clean (all rules) on n_docs German fortune docs (entries, topped up with near copies)."""
    texts = list(entries)
    vocab = sorted({w for t in entries for w in t.split() if w.isalpha()})
    while len(texts) < n_docs:
        texts.append(near_copy(rng.choice(entries), vocab, 0.1, rng))
    docs = [{"text": t, "source": "fortunes-de", "path": "", "license": ""} for t in texts[:n_docs]]
    print(f"\nthroughput, full default clean_corpus on {len(docs)} German fortune docs:")
    results = []
    for workers in (1, 2):
        c0, t0 = _cpu_seconds(), time.perf_counter()
        res = clean.clean_corpus(docs, {"workers": workers})
        dt, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        results.append(res)
        print(f"  workers={workers}: {dt:6.1f} s wall  {len(docs) / dt:6.0f} docs/s  ({cpu:5.1f} CPU s incl. workers)"
              f"  kept {res.metrics['kept_docs']}  removed {res.metrics['removed']}")
    print(f"  identical output for workers=1 and 2: {results[0].docs == results[1].docs}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache-dir", type=Path, default=REPO / "data" / "cache" / "fortunes-de",
                    help="where fortunes-de is (or gets) unpacked (default: %(default)s)")
    ap.add_argument("--n-base", type=int, default=2000, help="distinct original entries (default: %(default)s)")
    ap.add_argument("--n-near", type=int, default=300, help="near copies injected (default: %(default)s)")
    ap.add_argument("--n-exact", type=int, default=100, help="exact (case/space) copies injected (default: %(default)s)")
    ap.add_argument("--edit-rate", type=float, default=0.1, help="share of words edited in a near copy (default: %(default)s)")
    ap.add_argument("--shinglings", default="c5,c4,w3,w5",
                    help="comma list of c<N> (char n-grams) / w<N> (word n-grams) (default: %(default)s)")
    ap.add_argument("--thresholds", default="0.5,0.6,0.7,0.8", help="comma list (default: %(default)s)")
    ap.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="sampling / editing seed (default: %(default)s)")
    ap.add_argument("--natural", action="store_true",
                    help="also run every setting on the unmodified fortune corpus (see above)")
    ap.add_argument("--throughput-docs", type=int, default=0,
                    help="also time the full default clean on this many docs, workers 1 and 2 (default: off)")
    args = ap.parse_args(argv)
    shinglings = [(s.strip(), parse_shingling(s)) for s in args.shinglings.split(",") if s.strip()]
    thresholds = [float(t) for t in args.thresholds.split(",") if t.strip()]

    rng = random.Random(args.seed)
    entries = read_fortunes(fetch_fortunes(args.cache_dir))
    base, dropped = distinct_base(entries, rng, args.n_base)
    docs, kinds, short = build_corpus(base, args.n_near, args.n_exact, args.edit_rate, rng)
    n_short = sum(1 for d, k in kinds.items() if k == "near" and short[d])
    print(f"{len(entries)} fortune entries; base {len(base)} distinct entries ({dropped} resembling ones skipped); "
          f"+{args.n_near} near copies ({args.edit_rate:.0%} words edited; {n_short} of originals < 30 words) "
          f"+{args.n_exact} exact copies = {len(docs)} docs; num_perm {args.num_perm}\n")
    header = f"{'shingles':>8} {'thresh':>6} {'prec':>6} {'recall':>6} {'F1':>6} {'nearR':>6} {'nearR<30w':>9} {'nearR>=30w':>10} {'FP':>4} {'docs/s':>7}"
    print(header)
    print("-" * len(header))
    for name, shingle_cfg in shinglings:
        for th in thresholds:
            cfg = {**DEDUP_ONLY, **shingle_cfg, "threshold": th, "num_perm": args.num_perm}
            r = evaluate(docs, kinds, short, cfg)
            print(f"{name:>8} {th:>6.2f} {r['precision']:>6.3f} {r['recall']:>6.3f} {r['f1']:>6.3f} "
                  f"{r['near_recall']:>6.3f} {r['near_recall_short']:>9.3f} {r['near_recall_long']:>10.3f} "
                  f"{r['false_pos']:>4d} {r['docs_per_s']:>7.0f}")
    print("\nprec/recall/F1: removed docs vs injected copies (near + exact); nearR: share of near copies removed;"
          "\nFP: removed docs that are not injected copies; docs/s: whole clean_corpus call (rules 1-4 + dedup).")
    if args.natural:
        natural(entries, shinglings, thresholds, args.num_perm)
    if args.throughput_docs:
        throughput(entries, args.throughput_docs, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
