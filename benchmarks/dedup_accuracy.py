"""Near-duplicate accuracy of dedup_clean (langcpt.clean.clean_corpus) on a real German corpus with injected copies.

Corpus: the cleaned German target corpus (--corpus, default data/clean/target.jsonl: fortunes, LibreOffice help,
man pages; or, when that file is absent, the fortunes-de entries, fetched with `apt-get download`). Its documents
and ~30-word paragraphs cut from them form the originals, sampled per length bucket (--per-bucket each):

    30w     25-35 words (short paragraphs: where word n-grams fail)
    36-100w, 101-400w, >400w

Originals that already resemble an earlier one (exact character 5-gram Jaccard >= 0.3) are skipped, so the
ground truth is clean. Then, for random originals, copies are inserted at random later positions:

    exact       the same text, possibly in other letter case / with extra spaces and line breaks   (positive)
    edit5 .. edit20   5 / 10 / 15 / 20 % of the words edited: substituted by a corpus word, deleted, a word
                inserted, or moved a few places (reordered)                                          (positive)
    boiler_add  the text with 1-2 boilerplate lines added (header or footer: "Quelle: ...", "Alle Rechte
                vorbehalten.", a copyright / translator / licence notice)                            (positive)
    boiler_chg  original and copy carry different boilerplate footers                               (positive)
    edit30      30 % of the words edited: a different text that must be KEPT                        (negative)

clean_corpus runs once with every other rule off (its unicode/whitespace repair always runs); then, for each
shingling x num_perm x threshold, the dedup rules (exact hash, then langcpt.dedup signatures + near_duplicates,
exactly as clean_stream applies them; --check runs the whole clean_corpus at the first setting and confirms
the same documents go) and prints precision / recall / F1 of "removed" against the positives, the share of
edit30 documents kept, recall per kind and per length bucket, and "R<=15": recall over exact + edit5-15 +
boilerplate (the issue's targets: R<=15 >= 0.9 and precision >= 0.95 with edit30 as negatives).

    python benchmarks/dedup_accuracy.py --check                  # the default grid (~4 min on 1 free core)
    python benchmarks/dedup_accuracy.py --shinglings w2 --thresholds 0.4 --num-perms 64,128,256 --seed 1
    python benchmarks/dedup_accuracy.py --natural    # also count what each setting removes from the unmodified corpus

dedup_throughput.py imports build_corpus / score from here, so both measure on the same injected corpus.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
try:
    from langcpt import clean, dedup
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO / "src"))
    from langcpt import clean, dedup
import xxhash  # noqa: E402
from langcpt.fileio import InputError  # noqa: E402

FORTUNE_GLOB = "usr/share/games/fortunes/de/*.u8"
# Every removing / text-changing rule of clean.py off (unicode and whitespace repair always run), so only the
# dedup rules remove documents -- and the boilerplate-line rule does not strip the boilerplate variants' lines
# before dedup sees them (with it on, dedup_clean catches them more easily still). Keys clean.py lacks are left out.
_RULES_OFF = {
    "min_chars": 0, "min_alpha_ratio": 0.0, "max_duplicate_line_ratio": 1.0, "language": None,
    "boilerplate": False, "markup": False, "max_symbol_word_ratio": None, "min_mean_word_length": None,
    "max_mean_word_length": None, "min_stop_words": None, "mask_emails": False, "mask_phones": False,
    "workers": 1,
}
DEDUP_ONLY = {k: v for k, v in _RULES_OFF.items() if k in clean.DEFAULTS}
BUCKETS = (("30w", 25, 35), ("36-100w", 36, 100), ("101-400w", 101, 400), (">400w", 401, 10**9))
POSITIVE_KINDS = ("exact", "edit5", "edit10", "edit15", "edit20", "boiler_add", "boiler_chg")
TARGET_KINDS = ("exact", "edit5", "edit10", "edit15", "boiler_add", "boiler_chg")  # must be caught (R<=15)
EDIT_RATES = {"edit5": 0.05, "edit10": 0.10, "edit15": 0.15, "edit20": 0.20, "edit30": 0.30}
BOILERPLATE = (
    "Quelle: https://de.wikipedia.org/wiki/Hauptseite",
    "Quelle: Deutsche Presse-Agentur (dpa)",
    "Alle Rechte vorbehalten.",
    "© 2021 Free Software Foundation, Inc.",
    "Copyright (C) 2019 Die Autoren. Alle Rechte vorbehalten.",
    "Übersetzung: Mario Blättermann <mario@example.org>",
    "Dieser Text steht unter der Lizenz CC BY-SA 4.0.",
    "Zuletzt geändert am 12. März 2021.",
    "Weitere Informationen finden Sie auf unserer Webseite.",
    "Dieser Artikel wurde automatisch übersetzt.",
)


# -------------------------------------------------------------------------------------------------- corpus


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


def load_texts(corpus: Path, cache_dir: Path) -> tuple[list[str], str]:
    """The corpus' texts (JSONL with "text"), or the fortunes-de entries when the file does not exist."""
    if corpus.is_file():
        with open(corpus, encoding="utf-8") as f:
            return [json.loads(line)["text"] for line in f if line.strip()], str(corpus)
    return read_fortunes(fetch_fortunes(cache_dir)), "fortunes-de (apt-get download)"


def bucket_of(text: str) -> str | None:
    n = len(text.split())
    return next((name for name, lo, hi in BUCKETS if lo <= n <= hi), None)


def distinct_originals(texts: list[str], rng: random.Random, per_bucket: int) -> tuple[list[str], int]:
    """Documents and 25-35-word paragraphs of texts, per_bucket per length bucket, none resembling another."""
    from datasketch import LeanMinHash, MinHashLSH

    pool: list[str] = []
    for t in texts:
        t = clean.fix_whitespace(t)  # (the default corpus is dedup_clean output already: no ftfy needed)
        pool.append(t)
        pool.extend(para for para in t.split("\n\n") if para != t and bucket_of(para) == "30w")
    rng.shuffle(pool)
    p = {"shingle_chars": 5, "shingle_words": None, "num_perm": 128, "seed": 7}
    lsh = MinHashLSH(threshold=0.3, num_perm=128)
    counts = {name: 0 for name, _, _ in BUCKETS}
    chosen, norms, skipped = [], [], 0
    for t in pool:
        b = bucket_of(t)
        if b is None or counts[b] >= per_bucket or clean.alpha_ratio(t) < 0.5:
            continue
        norm = clean.normalize_for_dedup(t)
        mh = LeanMinHash(seed=7, hashvalues=clean.signatures([norm], p)[0], scheme="affine32")
        if any(char_jaccard(norm, norms[k]) >= 0.3 for k in lsh.query(mh)):
            skipped += 1
            continue
        lsh.insert(len(chosen), mh)
        chosen.append(t)
        norms.append(norm)
        counts[b] += 1
        if all(c >= per_bucket for c in counts.values()):
            break
    return chosen, skipped


def char_jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = clean.shingles(a, n), clean.shingles(b, n)
    return len(sa & sb) / len(sa | sb)


_TOKEN_RE = re.compile(r"(\s+)")


def edit_words(text: str, vocab: list[str], rate: float, rng: random.Random) -> str:
    """rate of the words edited: substituted (50%), deleted (20%), a word inserted (15%), moved (15%)."""
    parts = _TOKEN_RE.split(text)  # words at even indexes, whitespace at odd ones
    word_idx = [i for i in range(0, len(parts), 2) if parts[i]]
    k = max(1, round(rate * len(word_idx)))
    for i in rng.sample(word_idx, k):
        op = rng.random()
        if op < 0.5:
            parts[i] = rng.choice(vocab)
        elif op < 0.7:
            parts[i] = ""
        elif op < 0.85:
            parts[i] = parts[i] + " " + rng.choice(vocab)
        else:  # reorder: move this word 1-3 word slots away (swap)
            j = word_idx[min(len(word_idx) - 1, max(0, word_idx.index(i) + rng.choice((-3, -2, -1, 1, 2, 3))))]
            parts[i], parts[j] = parts[j], parts[i]
    return re.sub(r" {2,}", " ", "".join(parts)).strip()


def exact_copy(text: str, rng: random.Random) -> str:
    """The same text up to case and whitespace (what exact dedup's normalisation should see through)."""
    style = rng.randrange(3)
    if style == 0:
        return text
    if style == 1:
        return text.upper() if rng.random() < 0.5 else text.lower()
    return "  " + text.replace(" ", "  \t").replace("\n", "\n\n") + " \n"


def add_boilerplate(text: str, rng: random.Random) -> str:
    lines = rng.sample(BOILERPLATE, rng.choice((1, 1, 2)))
    if rng.random() < 0.5:
        return lines[0] + "\n\n" + text + ("\n\n" + lines[1] if len(lines) > 1 else "")
    return text + "\n\n" + "\n".join(lines)


def build_corpus(originals: list[str], per_kind: int, rng: random.Random):
    """Docs [{"id", "text"}] with copies after their originals, and labels id -> (kind, bucket).

    per_kind copies of each kind in POSITIVE_KINDS + edit30, per length bucket.
    """
    vocab = sorted({w for t in originals for w in t.split() if w.isalpha()})
    texts = list(originals)
    labels: dict[str, tuple[str, str]] = {f"b{i}": ("original", bucket_of(t)) for i, t in enumerate(texts)}
    inserts: list[tuple[int, str, str]] = []  # (original index, id, text)
    by_bucket: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        by_bucket.setdefault(bucket_of(t), []).append(i)
    kinds = (*POSITIVE_KINDS, "edit30")
    n = 0
    for bucket, idx in sorted(by_bucket.items()):
        picks = rng.sample(idx, min(len(idx), per_kind * len(kinds)))
        for j, src in enumerate(picks):
            kind = kinds[j % len(kinds)]
            t = texts[src]
            if kind == "exact":
                copy = exact_copy(t, rng)
            elif kind in EDIT_RATES:
                copy = edit_words(t, vocab, EDIT_RATES[kind], rng)
            elif kind == "boiler_add":
                copy = add_boilerplate(t, rng)
            else:  # boiler_chg: the original gets one footer, the copy another
                a, b = rng.sample(BOILERPLATE, 2)
                texts[src] = t + "\n\n" + a
                copy = t + "\n\n" + b
            inserts.append((src, f"c{n}", copy))
            labels[f"c{n}"] = (kind, bucket)
            n += 1
    # Each copy goes to a random position after its original: sort on (slot, tie) with originals at slot i.
    keyed = [((i, 0.0), {"id": f"b{i}", "text": t}) for i, t in enumerate(texts)]
    keyed += [((rng.uniform(src + 0.5, len(texts)), 1.0), {"id": did, "text": text}) for src, did, text in inserts]
    keyed.sort(key=lambda kd: kd[0])
    return [d for _, d in keyed], labels


def score(removed: set[str], labels: dict[str, tuple[str, str]]) -> dict:
    """Precision / recall / F1 of removed ids against the positive kinds, plus per-kind and per-bucket recall."""
    pos = {d for d, (k, _) in labels.items() if k in POSITIVE_KINDS}
    tp = len(removed & pos)
    prec = tp / len(removed) if removed else 1.0
    rec = tp / len(pos) if pos else float("nan")
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0

    def recall(pred) -> float:
        ids = {d for d, kb in labels.items() if pred(*kb)}
        return len(removed & ids) / len(ids) if ids else float("nan")

    out = {"precision": prec, "recall": rec, "f1": f1,
           "r15": recall(lambda k, b: k in TARGET_KINDS),
           "kept30": 1.0 - recall(lambda k, b: k == "edit30"),
           "fp_original": len(removed & {d for d, (k, _) in labels.items() if k == "original"})}
    for kind in POSITIVE_KINDS:
        out[kind] = recall(lambda k, b, kind=kind: k == kind)
    for name, _, _ in BUCKETS:
        out["r15_" + name] = recall(lambda k, b, name=name: k in TARGET_KINDS and b == name)
    return out


# ------------------------------------------------------------------------------------------------------ runs


def parse_shingling(spec: str) -> dict:
    m = re.fullmatch(r"([cw])(\d+)", spec.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad shingling {spec!r}: use c<N> (characters) or w<N> (words)")
    n = int(m.group(2))
    return {"shingle_chars": n, "shingle_words": None} if m.group(1) == "c" else {"shingle_words": n}


class Prepared:
    """The corpus after rules 1-11 of clean_corpus (run once), ready for the dedup rules at any setting."""

    def __init__(self, docs: list[dict]):
        res = clean.clean_corpus(docs, {**DEDUP_ONLY, "exact_dedup": False, "near_dedup": False})
        assert len(res.docs) == len(docs), "a non-dedup rule removed documents"
        self.ids = [d["id"] for d in res.docs]
        self.norms = [clean.normalize_for_dedup(d["text"]) for d in res.docs]
        self.exact = [xxhash.xxh3_128_intdigest(n.encode("utf-8")) for n in self.norms]

    def removed(self, cfg: dict) -> tuple[set[str], float]:
        """Ids that rules 12-13 remove at cfg (clean_stream's dedup steps), and the seconds they took."""
        p = clean.validate_cfg({**DEDUP_ONLY, **cfg})
        t0 = time.perf_counter()
        seen, rest, removed = set(), [], set()
        for i, h in enumerate(self.exact):
            if h in seen:
                removed.add(self.ids[i])
            else:
                seen.add(h)
                rest.append(i)
        sigs = dedup.signatures([self.norms[i] for i in rest], p)
        for i, v in zip(rest, dedup.near_duplicates(sigs, p)):
            if v is not None:
                removed.add(self.ids[i])
        return removed, time.perf_counter() - t0


def evaluate(prepared: Prepared, labels, cfg) -> dict:
    removed, dt = prepared.removed(cfg)
    return {**score(removed, labels), "docs_per_s": len(prepared.ids) / dt}


def check_with_clean_corpus(docs, prepared: Prepared, cfg) -> bool:
    """Does the whole clean_corpus call remove the same documents as Prepared.removed at cfg?"""
    res = clean.clean_corpus(docs, {**DEDUP_ONLY, **cfg})
    return {d["id"] for d in docs} - {d["id"] for d in res.docs} == prepared.removed(cfg)[0]


def natural(texts: list[str], shinglings, thresholds, num_perm: int) -> None:
    """Near-dedup removals on the unmodified corpus (no injected copies): what each setting costs real text."""
    prepared = Prepared([{"id": str(i), "text": t} for i, t in enumerate(texts)])
    print(f"\nnatural corpus: all {len(texts)} documents as they are, no injected copies (removed by rules 12-13):")
    print(f"{'shingles':>8} {'thresh':>6} {'removed':>8}")
    for name, shingle_cfg in shinglings:
        for th in thresholds:
            removed, _ = prepared.removed({**shingle_cfg, "threshold": th, "num_perm": num_perm})
            print(f"{name:>8} {th:>6.2f} {len(removed):>8d}", flush=True)


COLUMNS = (("prec", "precision"), ("recall", "recall"), ("F1", "f1"), ("R<=15", "r15"), ("kept30", "kept30"),
           ("exact", "exact"), ("e5", "edit5"), ("e10", "edit10"), ("e15", "edit15"), ("e20", "edit20"),
           ("bpAdd", "boiler_add"), ("bpChg", "boiler_chg")) + tuple(
    ("R15:" + name, "r15_" + name) for name, _, _ in BUCKETS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO / "data" / "clean" / "target.jsonl",
                    help="JSONL corpus with a 'text' field (default: %(default)s; fortunes-de when absent)")
    ap.add_argument("--cache-dir", type=Path, default=REPO / "data" / "cache" / "fortunes-de",
                    help="where fortunes-de is (or gets) unpacked when --corpus is absent (default: %(default)s)")
    ap.add_argument("--per-bucket", type=int, default=600, help="originals per length bucket (default: %(default)s)")
    ap.add_argument("--per-kind", type=int, default=40,
                    help="copies per kind and length bucket (default: %(default)s)")
    ap.add_argument("--shinglings", default="c4,c5,c6,c7,w1,w2,w3,w5",
                    help="comma list of c<N> (char n-grams) / w<N> (word n-grams) (default: %(default)s)")
    ap.add_argument("--thresholds", default="0.3,0.4,0.5,0.6,0.7,0.8", help="comma list (default: %(default)s)")
    ap.add_argument("--num-perms", default="128", help="comma list of MinHash permutations (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="sampling / editing seed (default: %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="also run the whole clean_corpus at the first setting and compare its removals")
    ap.add_argument("--natural", action="store_true", help="also run every setting on the unmodified corpus")
    args = ap.parse_args(argv)
    shinglings = [(s.strip(), parse_shingling(s)) for s in args.shinglings.split(",") if s.strip()]
    thresholds = [float(t) for t in args.thresholds.split(",") if t.strip()]
    num_perms = [int(n) for n in args.num_perms.split(",") if n.strip()]

    rng = random.Random(args.seed)
    texts, source = load_texts(args.corpus, args.cache_dir)
    originals, skipped = distinct_originals(texts, rng, args.per_bucket)
    docs, labels = build_corpus(originals, args.per_kind, rng)
    n_kind = {k: sum(1 for kb in labels.values() if kb[0] == k) for k in ("original", *POSITIVE_KINDS, "edit30")}
    per_bucket = {name: sum(1 for k, b in labels.values() if k == "original" and b == name) for name, _, _ in BUCKETS}
    print(f"corpus: {source} ({len(texts)} texts); originals {len(originals)} {per_bucket} "
          f"({skipped} resembling ones skipped); injected {n_kind}; {len(docs)} docs in all\n")
    prepared = Prepared(docs)
    header = f"{'shingles':>8} {'perm':>4} {'thresh':>6} " + " ".join(f"{c:>{max(6, len(c))}}" for c, _ in COLUMNS)
    header += f" {'FPorig':>6} {'docs/s':>7}"
    print(header)
    print("-" * len(header))
    for name, shingle_cfg in shinglings:
        for num_perm in num_perms:
            for th in thresholds:
                cfg = {**DEDUP_ONLY, **shingle_cfg, "threshold": th, "num_perm": num_perm}
                try:
                    r = evaluate(prepared, labels, cfg)
                except InputError as e:
                    print(f"{name:>8} {num_perm:>4} {th:>6.2f}  ({e})")
                    continue
                cells = " ".join(f"{r[key]:>{max(6, len(c))}.3f}" for c, key in COLUMNS)
                print(f"{name:>8} {num_perm:>4} {th:>6.2f} {cells} {r['fp_original']:>6d} {r['docs_per_s']:>7.0f}",
                      flush=True)
    if args.check:
        name, shingle_cfg = shinglings[0]
        cfg = {**shingle_cfg, "threshold": thresholds[0], "num_perm": num_perms[0]}
        print(f"\ncheck: clean_corpus({name}, threshold {thresholds[0]}, num_perm {num_perms[0]}) removes the same "
              f"documents as the table's dedup path: {check_with_clean_corpus(docs, prepared, cfg)}")
    print("\nprec/recall/F1: removed docs vs injected positives (exact, edit5-20, boilerplate); R<=15: recall on"
          "\nexact + edit5-15 + boilerplate (target >= 0.9); kept30: share of 30%-edited docs kept (target >= 0.95);"
          "\nR15:<bucket>: R<=15 per length bucket of the original; FPorig: removed originals; docs/s: the dedup"
          "\nrules alone (exact hash, signatures, LSH; 1 process) on the texts clean_corpus's rules 1-11 produced.")
    if args.natural:
        natural(texts, shinglings, thresholds, num_perms[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
