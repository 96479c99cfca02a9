"""Clean and deduplicate a corpus of documents: the library behind the `clean` stage.

`clean_corpus(docs, cfg)` takes documents `{"text", "source", "path", "license", ...}` and returns a
`CleanResult`: the kept documents (input order, `text` replaced by the cleaned text, every other field kept),
metrics, and a few near-duplicate pairs for the data card. The rules run in this order; a document leaves at
the first rule that rejects it and is counted once, under that rule's key in `metrics["removed"]`:

1. unicode     ftfy.fix_text (mojibake such as "FranzÃ¶sisch" -> "Französisch", terminal escapes, \\r\\n;
               curly quotes are left alone so German „…“ survives), NFC normalisation, then control characters
               other than \\n and \\t are removed (\\v and \\f become \\n first; BOM, zero-width space and soft
               hyphen are removed too).                                                   -> "empty"
2. whitespace  lines are stripped at both ends, any run of horizontal whitespace that contains a tab or is
               longer than one character becomes one space, 3+ newlines become 2 (paragraphs are kept), the
               document is stripped. A document with nothing left is removed here.          -> "empty"
3. length      len(text) < min_chars -> "too_short"; len(text) > max_chars -> "too_long" (dropped, not cut).
4. quality     letters / non-space characters < min_alpha_ratio (ASCII art, tables, hex dumps), or, for a
               document of 5+ non-empty lines, the fraction of lines repeating an earlier line of the same
               document > max_duplicate_line_ratio (boilerplate).                          -> "low_quality"
5. language    py3langid with normalised probabilities on the first language_prefix_chars characters; kept
               if the top language == language and its probability >= language_threshold. -> "language"
6. exact_dedup xxh3-128 of the normalised text (casefolded, every whitespace run -> one space); the first
               document with a given hash is kept.                                         -> "exact_duplicate"
7. near_dedup  MinHash over the shingles of the normalised text (character shingle_chars-grams, or word
               shingle_words-grams when shingle_words is set), each shingle hashed with xxh32, datasketch
               MinHash (scheme affine32, fixed seed) -> LeanMinHash, MinHashLSH(threshold, num_perm).
               Documents are visited in input order; each queries the index of the documents kept so far and
               is removed if a candidate's estimated Jaccard similarity is >= threshold (the best candidate
               is its "kept" partner); otherwise it is inserted. So the first document of each cluster is
               kept.                                                                        -> "near_duplicate"

Speed: with workers > 1 and at least parallel_min_docs input documents, the per-document work (rules 1-5, the
exact-dedup hash and the MinHash signature) runs in a multiprocessing pool ("spawn" start method, chunks cut
by document count and characters); the LSH pass stays in the calling process. The result is identical to the
single-process path. Because of "spawn", a script that calls clean_corpus must keep its entry point under
`if __name__ == "__main__":`.

Configuration (`cfg`, the `clean:` section of params.yaml; every key optional; unknown keys, wrong types and
out-of-range values raise InputError naming the key as `clean.<key>`):

    min_chars                 int >= 0            40      shorter documents are removed ("too_short")
    max_chars                 int >= 1            100000  longer documents are removed ("too_long")
    min_alpha_ratio           number in [0, 1]    0.6     minimum letters / non-space characters
    max_duplicate_line_ratio  number in [0, 1]    0.5     maximum share of repeated lines (docs of 5+ lines)
    language                  str or null         "de"    py3langid code to keep; null disables the rule
    language_threshold        number in [0, 1]    0.5     minimum normalised probability of `language`
    language_prefix_chars     int >= 1            2000    characters classified per document
    exact_dedup               bool                true    rule 6 on/off
    near_dedup                bool                true    rule 7 on/off
    shingle_chars             int >= 1            5       character n-gram size (used when shingle_words is null)
    shingle_words             int >= 1 or null    null    word n-gram size; overrides shingle_chars when set
    num_perm                  int >= 16           128     MinHash permutations
    threshold                 number in (0, 1]    0.6     Jaccard similarity at or above which a doc is a near-copy
    seed                      int in [0, 2**32)   1       MinHash permutation seed
    workers                   int >= 1            2       worker processes (1 = no pool)
    parallel_min_docs         int >= 1            5000    use the pool from this many input documents on
    max_examples              int >= 0            20      near-duplicate pairs returned for the data card
                                                          ({"kept", "removed", "jaccard"}, texts cut to 2000 chars)

The defaults shingle_chars 5 / threshold 0.6 come from benchmarks/dedup_accuracy.py (2000 distinct German
fortunes + 300 copies with 10% of the words edited + 100 case/whitespace copies): character 5-grams find 90% of
the edited copies at 0.6 (99% at 0.5, 65% at 0.7) while word 3-/5-grams find at most 29% / 12% at 0.6 -- a
short text with 10% of its words edited keeps few word n-grams intact. Lower thresholds cost distinct texts on
real data: on all 18.7k fortunes, 0.5 / 0.6 / 0.7 remove 851 / 610 / 362 entries, about two thirds of them
template jokes ("Wie man sein Kind nicht nennen sollte:\\n<pun>"); rendered man pages sharing long
translator/copyright boilerplate look alike too (on 1000 pages, 175 / 94 / 62 removed). Raise threshold to
0.7-0.8 for a gentler filter.

Everything is deterministic: the same input and cfg give the same output, whatever `workers` is.
"""
from __future__ import annotations

import math
import multiprocessing
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable

import ftfy
import numpy as np
import xxhash
from datasketch import MinHashLSH

from langcpt.dedup import near_duplicates, normalize_for_dedup, signatures
from langcpt.dedup import minhash_template, shingles, signature  # noqa: F401  (re-exported for callers of clean.*)
from langcpt.fileio import InputError

# Removal keys, in rule order; metrics["removed"] always holds all of them.
REMOVAL_KEYS = (
    "empty",
    "too_short",
    "too_long",
    "low_quality",
    "language",
    "exact_duplicate",
    "near_duplicate",
)

_INT, _NUM, _BOOL, _STR = "int", "number", "bool", "str"

# key: (kind, default, nullable, lower bound, lower bound inclusive, upper bound)
_SCHEMA: dict[str, tuple[str, Any, bool, float | None, bool, float | None]] = {
    "min_chars": (_INT, 40, False, 0, True, None),
    "max_chars": (_INT, 100_000, False, 1, True, None),
    "min_alpha_ratio": (_NUM, 0.6, False, 0, True, 1),
    "max_duplicate_line_ratio": (_NUM, 0.5, False, 0, True, 1),
    "language": (_STR, "de", True, None, True, None),
    "language_threshold": (_NUM, 0.5, False, 0, True, 1),
    "language_prefix_chars": (_INT, 2000, False, 1, True, None),
    "exact_dedup": (_BOOL, True, False, None, True, None),
    "near_dedup": (_BOOL, True, False, None, True, None),
    "shingle_chars": (_INT, 5, False, 1, True, None),
    "shingle_words": (_INT, None, True, 1, True, None),
    "num_perm": (_INT, 128, False, 16, True, None),
    "threshold": (_NUM, 0.6, False, 0, False, 1),
    "seed": (_INT, 1, False, 0, True, 2**32 - 1),
    "workers": (_INT, 2, False, 1, True, None),
    "parallel_min_docs": (_INT, 5000, False, 1, True, None),
    "max_examples": (_INT, 20, False, 0, True, None),
}

DEFAULTS: dict[str, Any] = {k: v[1] for k, v in _SCHEMA.items()}

_MIN_LINES_FOR_REPEAT = 5  # the repeated-line heuristic needs this many non-empty lines
_EXAMPLE_CHARS = 2000  # near-duplicate examples are cut to this many characters


@dataclass
class CleanResult:
    docs: list[dict]
    metrics: dict
    near_duplicate_examples: list[dict] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- configuration


def _describe(kind: str, nullable: bool, lo, lo_incl: bool, hi) -> str:
    if kind == _BOOL:
        s = "true or false"
    elif kind == _STR:
        s = "a string"
    elif kind == _INT:
        s = f"an integer in [{lo}, {hi}]" if hi is not None else f"an integer >= {lo}"
    else:
        s = f"a number in {'[' if lo_incl else '('}{lo}, {hi}]"
    return s + (" or null" if nullable else "")


def validate_cfg(cfg: dict | None) -> dict:
    """Return cfg merged over DEFAULTS; raise InputError naming the first bad key."""
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise InputError(f"clean: expected a mapping of settings, got {type(cfg).__name__}")
    unknown = sorted(set(cfg) - set(_SCHEMA), key=str)
    if unknown:
        raise InputError(f"clean.{unknown[0]}: unknown key (known keys: {', '.join(_SCHEMA)})")
    out = dict(DEFAULTS)
    for key, value in cfg.items():
        kind, _default, nullable, lo, lo_incl, hi = _SCHEMA[key]
        bad = InputError(f"clean.{key}: expected {_describe(kind, nullable, lo, lo_incl, hi)}, got {value!r}")
        if value is None:
            if not nullable:
                raise bad
        elif kind == _BOOL:
            if not isinstance(value, bool):
                raise bad
        elif kind == _STR:
            if not isinstance(value, str) or not value:
                raise bad
        elif kind == _INT:
            if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
                raise bad
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad
            if value < lo or (value == lo and not lo_incl) or value > hi:
                raise bad
            value = float(value)
        out[key] = value
    if out["min_chars"] > out["max_chars"]:
        raise InputError(
            f"clean.min_chars: {out['min_chars']} is larger than clean.max_chars ({out['max_chars']})"
        )
    if out["near_dedup"]:
        try:
            MinHashLSH(threshold=out["threshold"], num_perm=out["num_perm"])
        except ValueError as e:  # e.g. threshold 0.99 with 128 permutations: fewer than 2 LSH bands
            raise InputError(
                f"clean.threshold: {out['threshold']} does not work with clean.num_perm {out['num_perm']} "
                f"({e}); lower the threshold or raise num_perm"
            ) from None
    if out["language"] is not None and out["language"] not in _identifier().labels:
        raise InputError(f"clean.language: {out['language']!r} is not a language py3langid knows")
    return out


# ------------------------------------------------------------------------------------------- per-document rules

_FTFY_CONFIG = ftfy.TextFixerConfig(uncurl_quotes=False, normalization="NFC")
_VTAB_FF = str.maketrans({"\v": "\n", "\f": "\n"})
# C0/C1 controls except \t and \n, plus BOM, zero-width space and soft hyphen.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u200b\u00ad]")
_HSPACE_RUN_RE = re.compile(r"[^\S\n]{2,}")
_LINE_EDGE_RE = re.compile(r"[^\S\n]+$|^[^\S\n]+", re.MULTILINE)
_MANY_NEWLINES_RE = re.compile(r"\n{3,}")


def fix_unicode(text: str) -> str:
    """Rule 1: mojibake repair, NFC, control characters removed (\\n and \\t kept)."""
    text = ftfy.fix_text(text, _FTFY_CONFIG)
    text = unicodedata.normalize("NFC", text)
    return _CONTROL_RE.sub("", text.translate(_VTAB_FF))


def fix_whitespace(text: str) -> str:
    """Rule 2: strip lines, collapse horizontal whitespace runs, at most one blank line in a row."""
    # Collapse first: afterwards no run is longer than one character, so the line-edge pattern stays linear.
    text = _HSPACE_RUN_RE.sub(" ", text.replace("\t", " "))
    text = _LINE_EDGE_RE.sub("", text)
    text = _MANY_NEWLINES_RE.sub("\n\n", text)
    return text.strip()


def alpha_ratio(text: str) -> float:
    """Letters / non-whitespace characters (0.0 for a text without any)."""
    non_space = len(text) - sum(map(str.isspace, text))
    return sum(map(str.isalpha, text)) / non_space if non_space else 0.0


def duplicate_line_ratio(text: str) -> float:
    """Share of non-empty lines that repeat an earlier line; 0.0 below _MIN_LINES_FOR_REPEAT lines."""
    lines = [ln for ln in text.split("\n") if ln]
    if len(lines) < _MIN_LINES_FOR_REPEAT:
        return 0.0
    return 1.0 - len(set(lines)) / len(lines)


_IDENTIFIER = None


def _identifier():
    global _IDENTIFIER
    if _IDENTIFIER is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _IDENTIFIER


def detect_language(text: str, prefix_chars: int = 2000) -> tuple[str, float]:
    """(language, normalised probability) of the first prefix_chars characters."""
    lang, prob = _identifier().classify(text[:prefix_chars])
    return lang, float(prob)


# ------------------------------------------------------------------------------------------ document worker

# A processed chunk: one (reason, cleaned text, exact hash) row per input text -- reason is "" for a document
# that passed rules 1-5 (its text and hash are set) or the removal key otherwise (text and hash are None) --
# plus the signatures of the passing documents, in order (shape: passing x num_perm, or None).
_Row = tuple[str, "str | None", "int | None"]


def _process_texts(texts: list[str], p: dict) -> tuple[list[_Row], np.ndarray | None]:
    """Rules 1-5 on each text, then the dedup keys of the survivors. Runs in the caller or in a pool worker."""
    rows: list[_Row] = []
    norms: list[str] = []  # normalised texts of the passing documents, for their MinHash signatures
    for text in texts:
        reason = ""
        text = fix_whitespace(fix_unicode(text))
        if not text:
            reason = "empty"
        elif len(text) < p["min_chars"]:
            reason = "too_short"
        elif len(text) > p["max_chars"]:
            reason = "too_long"
        elif alpha_ratio(text) < p["min_alpha_ratio"] or duplicate_line_ratio(text) > p["max_duplicate_line_ratio"]:
            reason = "low_quality"
        elif p["language"] is not None:
            lang, prob = detect_language(text, p["language_prefix_chars"])
            if lang != p["language"] or prob < p["language_threshold"]:
                reason = "language"
        if reason:
            rows.append((reason, None, None))
            continue
        norm = normalize_for_dedup(text)
        h = xxhash.xxh3_128_intdigest(norm.encode("utf-8")) if p["exact_dedup"] else None
        if p["near_dedup"]:
            norms.append(norm)
        rows.append(("", text, h))
    if not p["near_dedup"]:
        return rows, None
    return rows, signatures(norms, p)


def _process_chunk(args: tuple[list[str], dict]) -> tuple[list[_Row], np.ndarray | None]:
    return _process_texts(*args)


def _process_all(texts: list[str], p: dict) -> tuple[list[_Row], np.ndarray | None]:
    """_process_texts over all texts, in a spawn pool of p["workers"] processes from p["parallel_min_docs"] on."""
    workers = p["workers"]
    if workers <= 1 or len(texts) < p["parallel_min_docs"]:
        return _process_texts(texts, p)
    # Many small chunks, cut by document count and by characters, handed out one at a time: long man pages
    # next to short fortunes still spread evenly over the workers.
    max_docs = max(1, min(1000, math.ceil(len(texts) / (workers * 16))))
    max_chars = max(1, math.ceil(sum(map(len, texts)) / (workers * 16)))
    tasks, start, chars = [], 0, 0
    for i, text in enumerate(texts):
        chars += len(text)
        if i + 1 - start >= max_docs or chars >= max_chars or i + 1 == len(texts):
            tasks.append((texts[start : i + 1], p))
            start, chars = i + 1, 0
    # spawn (not fork): safe when the caller has threads (mlflow, tokenizers) and the same on every platform.
    # A script that reaches this must keep its entry point under `if __name__ == "__main__":`.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes=min(workers, len(tasks))) as pool:
        parts = pool.map(_process_chunk, tasks, chunksize=1)
    rows = [row for part_rows, _ in parts for row in part_rows]
    if not p["near_dedup"]:
        return rows, None
    return rows, np.concatenate([s for _, s in parts], axis=0)


# ---------------------------------------------------------------------------------------------------- corpus


def _cut(text: str) -> str:
    return text if len(text) <= _EXAMPLE_CHARS else text[:_EXAMPLE_CHARS] + "…"


def clean_corpus(docs: Iterable[dict], cfg: dict | None = None) -> CleanResult:
    """Run rules 1-7 (see the module docstring) over docs; return kept docs, metrics and examples."""
    p = validate_cfg(cfg)
    docs = list(docs)
    for n, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise InputError(f"document {n}: expected a JSON object, got {type(doc).__name__}")
        if not isinstance(doc.get("text"), str):
            raise InputError(f"document {n}: 'text' must be a string, got {type(doc.get('text')).__name__}")
    texts = [doc["text"] for doc in docs]
    rows, sigs = _process_all(texts, p)

    removed = {k: 0 for k in REMOVAL_KEYS}
    survivors: list[int] = []  # indexes into docs / rows of the documents still in
    sig_rows: list[int] = []  # their rows in sigs
    seen: set[int] = set()
    n_sig = 0
    for i, (reason, _text, h) in enumerate(rows):
        if reason:
            removed[reason] += 1
            continue
        n_sig += 1
        if h is not None:
            if h in seen:
                removed["exact_duplicate"] += 1
                continue
            seen.add(h)
        survivors.append(i)
        sig_rows.append(n_sig - 1)

    examples: list[dict] = []
    if sigs is not None and survivors:
        verdicts = near_duplicates(sigs[sig_rows], p)
        keep = []
        for k, v in enumerate(verdicts):
            if v is None:
                keep.append(survivors[k])
                continue
            removed["near_duplicate"] += 1
            if len(examples) < p["max_examples"]:
                partner, jac = v
                examples.append(
                    {
                        "kept": _cut(rows[survivors[partner]][1]),
                        "removed": _cut(rows[survivors[k]][1]),
                        "jaccard": round(jac, 4),
                    }
                )
        survivors = keep

    out_docs = [{**docs[i], "text": rows[i][1]} for i in survivors]
    metrics = {
        "input_docs": len(docs),
        "kept_docs": len(out_docs),
        "input_chars": sum(map(len, texts)),
        "kept_chars": sum(len(d["text"]) for d in out_docs),
        "removed": removed,
    }
    return CleanResult(docs=out_docs, metrics=metrics, near_duplicate_examples=examples)
