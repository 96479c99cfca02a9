"""Clean and deduplicate a corpus of documents: the library behind the `dedup_clean` stage.

`clean_stream(docs, out_path, cfg)` streams documents `{"text", "source", "path", "license", ...}` through the
rules below and writes the kept ones (input order, `text` replaced by the cleaned text, every other field kept)
as JSONL to out_path; it returns a `CleanResult` with metrics, per-source statistics and a few near-duplicate
pairs for the data card. `clean_corpus(docs, cfg)` is the same on a list, returning the kept documents too.
The rules run in this order; a document leaves at the first rule that rejects it and is counted once, under
that rule's key in `metrics["removed"]`. Rules that change a text without removing it count the documents
they changed in `metrics["modified"]` (over the documents that reached them).

1. unicode     ftfy.fix_text (mojibake such as "FranzÃ¶sisch" -> "Französisch", terminal escapes, \\r\\n,
               HTML entities in texts without "<"; curly quotes are left alone so German „…“ survives; lines
               made only of characters no ftfy fixer changes skip it, with identical output), NFC
               normalisation, then control characters other than \\n and \\t are removed (\\v and \\f become
               \\n first; BOM, zero-width space and soft hyphen are removed too).          modified "unicode"
2. markup      (off by default) leftover HTML tags of common elements (<p>, <br/>, <B>, <a href=…>, …; <Joey>,
               <PID> or <Code> are no tags) are removed, block tags becoming a line break; roff escapes are rendered
               (\\fB \\fI \\fP \\f(XX \\f[X] removed, \\& removed, \\(em \\[em] -> —, \\(en -> –, \\(bu -> •,
               \\(aq -> ', \\(dq -> ", \\- -> -).                                          modified "markup"
               Off by default: on the default corpus every match is text *about* HTML or roff (LibreOffice
               help on HTML export, man(7), IRC nicknames in fortunes); turn it on for scraped web text.
3. boilerplate whole lines that are boilerplate are removed: copyright notices ("Alle Rechte vorbehalten",
               "All rights reserved"), cookie and JavaScript banners ("Diese Website verwendet Cookies",
               "Bitte aktivieren Sie JavaScript"), navigation links ("Zum Inhalt springen", "Zurück nach
               oben"; not a bare "Nach oben": a button name in LibreOffice help) and
               breadcrumb/menu lines (3+ short items joined by | > » › · that include a navigation word such
               as Startseite, Impressum, Kontakt, Home). Only whole lines of at most 200 characters match, so
               a fortune mentioning cookies or a man page on JSON ("JavaScript-Objektnotation") is untouched.
               A document left empty or too short is removed by rules 4/5. modified "boilerplate" (documents)
               and "boilerplate_lines" (lines)
4. whitespace  lines are stripped at both ends, any run of horizontal whitespace that contains a tab or is
               longer than one character becomes one space, 3+ newlines become 2 (paragraphs are kept), the
               document is stripped. A document with nothing left is removed here.          -> "empty"
5. length      len(text) < min_chars -> "too_short"; len(text) > max_chars -> "too_long" (dropped, not cut).
6. quality     letters / non-space characters < min_alpha_ratio (ASCII art, tables, hex dumps), or, for a
               document of 5+ non-empty lines, the fraction of lines repeating an earlier line of the same
               document > max_duplicate_line_ratio (boilerplate).                          -> "low_quality"
7. symbols     Gopher: ("#" + "…" + "...") per whitespace-separated word > max_symbol_word_ratio. -> "symbols"
8. word_length Gopher: mean length of the words (\\w+ runs) outside [min_mean_word_length,
               max_mean_word_length] (German compounds are long: the upper bound is wider than Gopher's 10).
                                                                                           -> "word_length"
9. stop_words  a document of at least stop_words_min_words words with fewer than min_stop_words distinct
               stop words (casefolded \\w+ runs) from `stop_words`, or by default from the list shipped here
               for `language` (STOP_WORDS: de, en, eu, fr, es, it, nl). Short texts are exempt: a fortune or
               quote ("Wer ängstlich fragt, lehrt abzulehnen.") often has none. The rule is off with
               no list (language null and stop_words null).                                -> "stop_words"
10. language   py3langid with normalised probabilities on the first language_prefix_chars characters; kept
               if the top language == language and its probability >= language_threshold. -> "language"
               The top language of every document reaching this rule goes to the per-source language mix.
               A document is classified as a whole (a file, a fortune, a JSONL row): a German page with an
               English paragraph is kept whole. language_paragraphs (off by default) first removes each
               paragraph (blank-line separated) of at least PARAGRAPH_MIN_CHARS characters whose own
               top language misses `language` at language_threshold; shorter ones (headings, lists) stay.
               The rest is then classified as above.                        modified "language_paragraphs"
11. pii        mask_emails: e-mail addresses -> "<EMAIL>"; mask_phones: phone numbers (the phonenumbers
               library, numbers valid for phone_region or in international form) -> "<PHONE>".
               modified "email" / "phone". E-mail masking is on by default: addresses in fortunes and man
               pages are personal data a model should not learn to reproduce, and the pattern is precise.
               Phone masking is off: the corpus has almost no phone numbers, and crisis hotlines such as
               0800 111 0 111 are public numbers the assistant should be able to give.
12. exact_dedup xxh3-128 of the normalised text (casefolded, every whitespace run -> one space); the first
               document with a given hash is kept.                                         -> "exact_duplicate"
13. near_dedup MinHash over the shingles of the normalised text (character shingle_chars-grams, or word
               shingle_words-grams when shingle_words is set), datasketch's affine32 scheme with a fixed seed,
               LSH(threshold, num_perm); see langcpt.dedup. Documents are visited in input order; each is
               removed if an earlier kept document's estimated Jaccard similarity is >= threshold (the best
               one is its "kept" partner). So the first document of each cluster is kept. -> "near_duplicate"

Streaming and memory: documents are read in chunks (_CHUNK_DOCS documents or _CHUNK_CHARS characters) and
rules 1-11, the exact-dedup hash and the MinHash signature run per chunk -- with workers > 1, once the input
has reached parallel_min_docs documents, in a "spawn" multiprocessing pool with at most 2 x workers chunks in
flight. Documents passing rule 12 are written to a temporary JSONL next to the output, their signatures to a
temporary binary file; what stays in memory per document is only what dedup needs: its 16-byte exact hash in
a set (about 100 bytes with Python's object and set overhead, for every document reaching rule 12) and, for
every document passing it, its num_perm x 4-byte signature (512 bytes at 128) plus a 2-byte source id and a
4-byte length; langcpt.dedup's LSH index then adds its own per kept document. A second pass copies the
documents that near_dedup keeps to the output. The result is identical whatever `workers` and the chunking.
Because of "spawn", a script that calls clean_stream/clean_corpus must keep its entry point under
`if __name__ == "__main__":`.
Progress (tqdm, on stderr, only when it is a terminal): documents through rules 1-12 and the MinHash signatures
(`desc`), then the LSH pass (langcpt.dedup.near_duplicates).

Configuration (`cfg`, the `clean:` section of params.yaml; every key optional; unknown keys, wrong types and
out-of-range values raise InputError naming the key as `clean.<key>`):

    min_chars                 int >= 0            40      shorter documents are removed ("too_short")
    max_chars                 int >= 1            100000  longer documents are removed ("too_long")
    markup                    bool                false   rule 2 on/off
    boilerplate               bool                true    rule 3 on/off
    min_alpha_ratio           number in [0, 1]    0.6     minimum letters / non-space characters
    max_duplicate_line_ratio  number in [0, 1]    0.5     maximum share of repeated lines (docs of 5+ lines)
    max_symbol_word_ratio     number >= 0 or null 0.5     rule 7 bound; null = off (Gopher uses 0.1)
    min_mean_word_length      number >= 0 or null 2.5     rule 8 lower bound; null = no lower bound
    max_mean_word_length      number >= 0 or null 15      rule 8 upper bound; null = no upper bound
    min_stop_words            int >= 0 or null    1       rule 9 minimum distinct stop words; null or 0 = off
    stop_words_min_words      int >= 0            30      rule 9 only checks documents of this many words or more
    stop_words                list of str or null null    stop-word list for rule 9; null = STOP_WORDS[language]
    language                  str or null         "de"    py3langid code to keep; null disables the rule
    language_threshold        number in [0, 1]    0.5     minimum normalised probability of `language`
    language_prefix_chars     int >= 1            2000    characters classified per document
    language_paragraphs       bool                false   rule 10 first drops other-language paragraphs
    mask_emails               bool                true    rule 11: e-mail addresses -> <EMAIL>
    mask_phones               bool                false   rule 11: phone numbers -> <PHONE>
    phone_region              str                 "DE"    region of national-format numbers (ISO 3166 code)
    exact_dedup               bool                true    rule 12 on/off
    near_dedup                bool                true    rule 13 on/off
    shingle_chars             int >= 1            5       character n-gram size (used when shingle_words is null)
    shingle_words             int >= 1 or null    2       word n-gram size; overrides shingle_chars when set
    num_perm                  int >= 16           128     MinHash permutations
    threshold                 number in (0, 1]    0.4     Jaccard similarity at or above which a doc is a near-copy
    seed                      int in [0, 2**32)   1       MinHash permutation seed
    lsh_storage               "memory" or "redis" "memory" where the LSH index lives; "redis": shared by every run
                                                          pointing at the same redis_url + lsh_basename (README)
    redis_url                 str or null         null    e.g. "redis://10.0.0.5:6379/0"; required for "redis"
    lsh_basename              str                 "langcpt_dedup"  Redis key prefix of the shared index
    workers                   int >= 1            2       worker processes (1 = no pool)
    parallel_min_docs         int >= 1            5000    use the pool from this many input documents on
    max_examples              int >= 0            20      near-duplicate pairs returned for the data card
                                                          ({"kept", "removed", "jaccard"}, texts cut to 2000 chars)

The defaults shingle_words 2 / threshold 0.4 / num_perm 128 (32 bands x 4 rows) come from
benchmarks/dedup_accuracy.py: 2400 distinct documents of the cleaned German corpus in four length buckets
(30-word paragraphs up to whole pages) plus 1280 injected copies (exact, case/whitespace, 5-20% of the words
substituted/deleted/reordered, boilerplate lines added) and 30%-edited versions that must be kept. Word 2-grams
at 0.4: precision 0.996, recall 0.933, F1 0.964; recall on <=15% edits + boilerplate variants 0.985 (0.983 on
30-word paragraphs); 97.5% of the 30%-edited documents kept. Character 5-grams at 0.6 reach F1 0.884, word
5-grams at 0.8 (the usual web setting) F1 0.511 -- a short text with 10% of its words edited keeps few long
n-grams intact. On the real corpus without injected copies this setting removes 434 of 20,566 documents
(character 5-grams at 0.6: 140), many of them template jokes ("Wie man sein Kind nicht nennen
sollte:\\n<pun>") and man pages sharing long translator boilerplate. Raise threshold for a gentler filter.

Everything is deterministic: the same input and cfg give the same output, whatever `workers` is.
"""
from __future__ import annotations

import array
import bisect
import collections
import contextlib
import functools
import html
import itertools
import json
import math
import multiprocessing
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import ftfy
import numpy as np
import xxhash
from datasketch import MinHashLSH
from tqdm import tqdm

from langcpt.dedup import check_dedup_cfg, near_duplicates, normalize_for_dedup, signatures
from langcpt.dedup import minhash_template, shingles, signature  # noqa: F401  (re-exported for callers of clean.*)
from langcpt.fileio import InputError, atomic_path, redact
from langcpt.parallel import ordered_map

# Removal keys, in rule order; metrics["removed"] always holds all of them.
REMOVAL_KEYS = (
    "empty",
    "too_short",
    "too_long",
    "low_quality",
    "symbols",
    "word_length",
    "stop_words",
    "language",
    "exact_duplicate",
    "near_duplicate",
)
# Modification keys, in rule order; metrics["modified"] always holds all of them.
MODIFIED_KEYS = ("unicode", "markup", "boilerplate", "boilerplate_lines", "language_paragraphs", "email", "phone")

# Lower edges of the kept-document length histogram (characters); the last bin is open-ended.
LENGTH_BINS = (0, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)

# Small stop-word lists (frequent function words) for rule 9.
STOP_WORDS: dict[str, frozenset[str]] = {
    "de": frozenset(
        "der die das den dem des ein eine einen einem einer eines und oder aber nicht ist sind war hat haben "
        "wird ich du er sie es wir ihr sich mit von zu auf für in im an am als auch so wie was wenn dass daß "
        "noch nur bei aus nach man kann mich mir dich dir".split()
    ),
    "en": frozenset(
        "the be to of and that have with a an in is are was were it you he she we they i for not on as this "
        "at by from or but his her my your me do if will can so what there all".split()
    ),
    "eu": frozenset(
        "eta da ez du ere bat baina edo dira zen hori hau izan egin dute zuen bere beste oso ba baino gero "
        "nola zer dago nire zure gure dut dugu bai".split()
    ),
    "fr": frozenset("le la les un une des et est en du de que qui ne pas pour dans il elle je vous nous sur au".split()),
    "es": frozenset("el la los las un una y es en de que no por con para se lo su al del como pero más".split()),
    "it": frozenset("il lo la i gli le un una e è di che non per con si da in del della ma come".split()),
    "nl": frozenset("de het een en is van in dat niet op te zijn met voor die er maar ook als bij".split()),
}

_INT, _NUM, _BOOL, _STR, _LIST = "int", "number", "bool", "str", "list"

# key: (kind, default, nullable, lower bound, lower bound inclusive, upper bound)
_SCHEMA: dict[str, tuple[str, Any, bool, float | None, bool, float | None]] = {
    "min_chars": (_INT, 40, False, 0, True, None),
    "max_chars": (_INT, 100_000, False, 1, True, None),
    "markup": (_BOOL, False, False, None, True, None),
    "boilerplate": (_BOOL, True, False, None, True, None),
    "min_alpha_ratio": (_NUM, 0.6, False, 0, True, 1),
    "max_duplicate_line_ratio": (_NUM, 0.5, False, 0, True, 1),
    "max_symbol_word_ratio": (_NUM, 0.5, True, 0, True, None),
    "min_mean_word_length": (_NUM, 2.5, True, 0, True, None),
    "max_mean_word_length": (_NUM, 15, True, 0, True, None),
    "min_stop_words": (_INT, 1, True, 0, True, None),
    "stop_words_min_words": (_INT, 30, False, 0, True, None),
    "stop_words": (_LIST, None, True, None, True, None),
    "language": (_STR, "de", True, None, True, None),
    "language_threshold": (_NUM, 0.5, False, 0, True, 1),
    "language_prefix_chars": (_INT, 2000, False, 1, True, None),
    "language_paragraphs": (_BOOL, False, False, None, True, None),
    "mask_emails": (_BOOL, True, False, None, True, None),
    "mask_phones": (_BOOL, False, False, None, True, None),
    "phone_region": (_STR, "DE", False, None, True, None),
    "exact_dedup": (_BOOL, True, False, None, True, None),
    "near_dedup": (_BOOL, True, False, None, True, None),
    "shingle_chars": (_INT, 5, False, 1, True, None),
    "shingle_words": (_INT, 2, True, 1, True, None),
    "num_perm": (_INT, 128, False, 16, True, None),
    "threshold": (_NUM, 0.4, False, 0, False, 1),
    "seed": (_INT, 1, False, 0, True, 2**32 - 1),
    "lsh_storage": (_STR, "memory", False, None, True, None),
    "redis_url": (_STR, None, True, None, True, None),
    "lsh_basename": (_STR, "langcpt_dedup", False, None, True, None),
    "workers": (_INT, 2, False, 1, True, None),
    "parallel_min_docs": (_INT, 5000, False, 1, True, None),
    "max_examples": (_INT, 20, False, 0, True, None),
}

DEFAULTS: dict[str, Any] = {k: v[1] for k, v in _SCHEMA.items()}

_MIN_LINES_FOR_REPEAT = 5  # the repeated-line heuristic needs this many non-empty lines
_EXAMPLE_CHARS = 2000  # near-duplicate examples are cut to this many characters
_CHUNK_DOCS = 500  # documents per processing chunk ...
_CHUNK_CHARS = 500_000  # ... or characters, whichever comes first
_POOL_MIN_CHARS = 16 * _CHUNK_CHARS  # the pool also starts once this much input text is buffered


@dataclass
class CleanResult:
    metrics: dict
    near_duplicate_examples: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    docs: list[dict] | None = None  # kept documents (clean_corpus only; clean_stream writes them to a file)


# --------------------------------------------------------------------------------------------- configuration


def _describe(kind: str, nullable: bool, lo, lo_incl: bool, hi) -> str:
    if kind == _BOOL:
        s = "true or false"
    elif kind == _STR:
        s = "a string"
    elif kind == _LIST:
        s = "a list of strings"
    elif kind == _INT:
        s = f"an integer in [{lo}, {hi}]" if hi is not None else f"an integer >= {lo}"
    elif hi is None:
        s = f"a number {'>=' if lo_incl else '>'} {lo}"
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
        elif kind == _LIST:
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise bad
            value = list(value)
        elif kind == _INT:
            if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
                raise bad
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad
            if value < lo or (value == lo and not lo_incl) or (hi is not None and value > hi):
                raise bad
            value = float(value)
        out[key] = value
    if out["min_chars"] > out["max_chars"]:
        raise InputError(
            f"clean.min_chars: {out['min_chars']} is larger than clean.max_chars ({out['max_chars']})"
        )
    lo_w, hi_w = out["min_mean_word_length"], out["max_mean_word_length"]
    if lo_w is not None and hi_w is not None and lo_w > hi_w:
        raise InputError(f"clean.min_mean_word_length: {lo_w} is larger than clean.max_mean_word_length ({hi_w})")
    if out["near_dedup"]:
        try:
            MinHashLSH(threshold=out["threshold"], num_perm=out["num_perm"])
        except ValueError as e:  # e.g. threshold 0.99 with 128 permutations: fewer than 2 LSH bands
            raise InputError(
                f"clean.threshold: {out['threshold']} does not work with clean.num_perm {out['num_perm']} "
                f"({e}); lower the threshold or raise num_perm"
            ) from None
    try:
        check_dedup_cfg(out)
    except InputError as e:  # the message quotes redis_url: never print its password
        raise InputError(redact(str(e))) from None
    if out["language"] is not None and out["language"] not in _identifier().labels:
        raise InputError(f"clean.language: {out['language']!r} is not a language py3langid knows")
    if out["min_stop_words"] and out["stop_words"] is None and out["language"] is not None \
            and out["language"] not in STOP_WORDS:
        raise InputError(
            f"clean.min_stop_words: no stop-word list ships for language {out['language']!r} "
            f"(only {', '.join(sorted(STOP_WORDS))}); set clean.stop_words or clean.min_stop_words: null"
        )
    if out["mask_phones"]:
        import phonenumbers

        if out["phone_region"] not in phonenumbers.SUPPORTED_REGIONS:
            raise InputError(f"clean.phone_region: {out['phone_region']!r} is not a region phonenumbers knows "
                             "(ISO 3166 code such as DE, AT, CH, US)")
    return out


# ------------------------------------------------------------------------------------------- per-document rules

_FTFY_CONFIG = ftfy.TextFixerConfig(uncurl_quotes=False, normalization="NFC", explain=False)
# A line made only of these characters is left unchanged by every ftfy fixer: printable ASCII without "&" (HTML
# entities), tab, newline, Latin-1 letters and common German/English punctuation. No C1/control characters,
# ligatures, full-width forms, odd line breaks or terminal escapes are in the set, and all of it is NFC already.
_FTFY_SAFE_RE = re.compile(r"[\n\t\x20-\x25\x27-\x7e\u00c0-\u00ff\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e"
                           r"\u2026\u00a7\u00b0\u00ab\u00bb\u20ac]*")
# ... unless it looks like UTF-8 read as Latin-1/cp1252: a lead byte (Â..ô) followed by a continuation byte.
_MOJIBAKE_PAIR_RE = re.compile(r"[\u00c2-\u00f4][\u20ac\u201a\u201e\u2026\u2018\u2019\u201c\u201d\u2013\u2014\u00a7"
                               r"\u00b0\u00ab\u00bb]")
_VTAB_FF = str.maketrans({"\v": "\n", "\f": "\n"})
# C0/C1 controls except \t and \n, plus BOM, zero-width space and soft hyphen.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u200b\u00ad]")
_HSPACE_RUN_RE = re.compile(r"[^\S\n]{2,}")
_LINE_EDGE_RE = re.compile(r"[^\S\n]+$|^[^\S\n]+", re.MULTILINE)
_MANY_NEWLINES_RE = re.compile(r"\n{3,}")


def _ftfy_fix_text(text: str) -> str:
    """ftfy.fix_text(text, _FTFY_CONFIG), with the lines ftfy cannot change skipped (~97% of this corpus).

    The same segmentation as ftfy.fix_text (lines, cut at max_decode_length), and the same rule that HTML
    unescaping stops for the rest of the text at the first segment containing "<"; only a safe segment (see
    _FTFY_SAFE_RE) skips fix_and_explain. tests/test_clean.py checks the output equals ftfy.fix_text's.
    """
    if _FTFY_SAFE_RE.fullmatch(text) and not _MOJIBAKE_PAIR_RE.search(text):
        return text  # every line is safe
    config, out, pos = _FTFY_CONFIG, [], 0
    while pos < len(text):
        end = text.find("\n", pos) + 1 or len(text)
        end = min(end, pos + config.max_decode_length)
        segment = text[pos:end]
        if config.unescape_html == "auto" and "<" in segment:
            config = config._replace(unescape_html=False)
        if _FTFY_SAFE_RE.fullmatch(segment) and not _MOJIBAKE_PAIR_RE.search(segment):
            out.append(segment)
        else:
            out.append(ftfy.fix_and_explain(segment, config).text)
        pos = end
    return "".join(out)


def fix_unicode(text: str) -> str:
    """Rule 1: mojibake repair, NFC, control characters removed (\\n and \\t kept)."""
    text = _ftfy_fix_text(text)
    text = unicodedata.normalize("NFC", text)
    if "\v" in text or "\f" in text:  # (str.translate is slow on non-ASCII text: only when needed)
        text = text.translate(_VTAB_FF)
    return _CONTROL_RE.sub("", text)


# Rule 2: markup.
_BLOCK_TAGS = "br|p|div|li|tr|h[1-6]|ul|ol|table|blockquote|pre|hr|dd|dt"
_INLINE_TAGS = "a|abbr|b|big|center|code|em|font|i|img|s|small|span|strike|strong|sub|sup|td|th|tt|u|body|html|head"
_ATTRS = r"(?:\s+[A-Za-z_:][\w:.-]*(?:\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s\"'<>=`]+))?)*\s*/?"
# Tag names in lower or upper case only: <Code> or <Leertaste> in a German man page is a placeholder, not a tag.
_BLOCK_TAG_RE = re.compile(rf"</?(?:{_BLOCK_TAGS}|{_BLOCK_TAGS.upper()}){_ATTRS}>")
_INLINE_TAG_RE = re.compile(rf"</?(?:{_INLINE_TAGS}|{_INLINE_TAGS.upper()}){_ATTRS}>")
_ROFF_CHARS = {"em": "—", "en": "–", "bu": "•", "aq": "'", "dq": '"', "hy": "-", "lq": "“", "rq": "”"}
_ROFF_RE = re.compile(r"\\f(?:[BIRP1-4]|\(\w\w|\[\w*\])|\\&|\\-|\\\((\w\w)|\\\[(\w\w)\]")


def _roff(m: re.Match) -> str:
    name = m.group(1) or m.group(2)
    if name:
        return _ROFF_CHARS.get(name, m.group(0))
    return "-" if m.group(0) == "\\-" else ""


def strip_markup(text: str) -> str:
    """Rule 2: remove leftover HTML tags of common elements and render roff escapes."""
    if "<" in text:
        text = _INLINE_TAG_RE.sub("", _BLOCK_TAG_RE.sub("\n", text))
        text = html.unescape(text) if "&" in text else text
    return _ROFF_RE.sub(_roff, text) if "\\" in text else text


# Rule 3: boilerplate lines (matched against the whole stripped line, case-insensitive).
_BOILERPLATE_LINE_RE = re.compile(
    r"(?:.{0,80}\b(?:alle rechte vorbehalten|all rights reserved)\b.{0,60})"
    r"|(?:.{0,80}\b(?:verwendet|verwenden|nutzt|nutzen|benutzt|setzt|setzen|uses?)\s+cookies\b.{0,160})"
    r"|(?:.{0,40}\b(?:cookies?[- ](?:einstellungen|richtlinie|hinweis|settings|policy)"
    r"|(?:alle\s+)?cookies\s+(?:akzeptieren|zulassen|ablehnen)|(?:accept|reject|allow)\s+(?:all\s+)?cookies)\b.{0,40})"
    r"|(?:.{0,80}\b(?:aktivieren sie|enable|activate|turn on)\s+javascript\b.{0,100})"
    r"|(?:.{0,80}\bjavascript\s+(?:ist|is)\s+(?:deaktiviert|ausgeschaltet|disabled|turned off|required|erforderlich)\b.{0,100})"
    r"|(?:.{0,40}\bjavascript\s+(?:muss|must)\s+.{0,30}\b(?:aktiviert|enabled)\b.{0,80})"
    r"|(?:(?:zum inhalt|zur navigation|zum hauptinhalt) springen|skip to (?:main )?content|skip navigation"
    r"|zurück nach oben|zum seitenanfang|back to top|seite drucken|print this page|druckversion|zurück zur startseite"
    r"|weiterlesen|read more|mehr lesen|teilen auf (?:facebook|twitter|x)|share on (?:facebook|twitter|x))\W{0,4}",
    re.IGNORECASE,
)
_CRUMB_SPLIT_RE = re.compile(r"\s+[|>»›·•/]\s+")
_CRUMB_ITEM_RE = re.compile(r"[^\W\d_][^\W\d_ .'-]*(?:[ .'-]+[^\W\d_]+){0,3}\.?", re.IGNORECASE)
_NAV_WORDS = frozenset(
    "startseite home homepage impressum kontakt contact datenschutz datenschutzerklärung privacy sitemap agb "
    "suche search login anmelden registrieren register newsletter hilfe faq über uns about".split()
) | {"über uns", "about us", "privacy policy", "terms of use", "nutzungsbedingungen"}
_MAX_BOILERPLATE_LINE = 200


def is_boilerplate_line(line: str) -> bool:
    """True for a whole line of boilerplate (see rule 3); line is stripped first."""
    line = line.strip()
    if not line or len(line) > _MAX_BOILERPLATE_LINE:
        return False
    if _BOILERPLATE_LINE_RE.fullmatch(line):
        return True
    items = _CRUMB_SPLIT_RE.split(line)
    return (
        len(items) >= 3
        and all(_CRUMB_ITEM_RE.fullmatch(item) for item in items)
        and any(item.casefold().rstrip(".") in _NAV_WORDS for item in items)
    )


def remove_boilerplate_lines(text: str) -> tuple[str, int]:
    """Rule 3: (text without boilerplate lines, number of lines removed)."""
    lines = text.split("\n")
    kept = [ln for ln in lines if not is_boilerplate_line(ln)]
    n = len(lines) - len(kept)
    return ("\n".join(kept), n) if n else (text, 0)


def fix_whitespace(text: str) -> str:
    """Rule 4: strip lines, collapse horizontal whitespace runs, at most one blank line in a row."""
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


_WORD_RE = re.compile(r"\w+")


def symbol_word_ratio(text: str) -> float:
    """Rule 7: ("#" + "…" + "...") per whitespace-separated word (0.0 for a text without words)."""
    words = len(text.split())
    if not words:
        return 0.0
    return (text.count("#") + text.count("…") + text.count("...")) / words


def mean_word_length(text: str) -> float:
    """Rule 8: mean length of the \\w+ runs (0.0 for a text without any)."""
    words = _WORD_RE.findall(text)
    return sum(map(len, words)) / len(words) if words else 0.0


def stop_word_count(text: str, stop_words: frozenset[str]) -> int:
    """Rule 9: how many distinct words of stop_words (casefolded) the text contains."""
    return len(stop_words.intersection(_WORD_RE.findall(text.casefold())))


@functools.lru_cache(maxsize=8)
def _stop_set(language: str | None, custom: tuple[str, ...] | None) -> frozenset[str] | None:
    if custom is not None:
        return frozenset(w.casefold() for w in custom)
    return STOP_WORDS.get(language) if language is not None else None


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


PARAGRAPH_MIN_CHARS = 100  # language_paragraphs: shorter paragraphs are too short to classify; they stay


def keep_language_paragraphs(text: str, language: str, threshold: float, prefix_chars: int = 2000) -> str:
    """Rule 10 with language_paragraphs: text without its paragraphs of at least PARAGRAPH_MIN_CHARS characters
    whose top language is not `language` with probability >= threshold."""
    paras = text.split("\n\n")
    kept = []
    for para in paras:
        if len(para) >= PARAGRAPH_MIN_CHARS:
            lang, prob = detect_language(para, prefix_chars)
            if lang != language or prob < threshold:
                continue
        kept.append(para)
    return "\n\n".join(kept).strip()


# Rule 11: PII.
EMAIL_PLACEHOLDER = "<EMAIL>"
PHONE_PLACEHOLDER = "<PHONE>"
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]*\w@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")


def mask_emails(text: str) -> tuple[str, int]:
    """E-mail addresses -> EMAIL_PLACEHOLDER; returns (text, number masked)."""
    if "@" not in text:
        return text, 0
    return _EMAIL_RE.subn(EMAIL_PLACEHOLDER, text)


def mask_phones(text: str, region: str = "DE") -> tuple[str, int]:
    """Phone numbers (phonenumbers.PhoneNumberMatcher, leniency VALID) -> PHONE_PLACEHOLDER; (text, number)."""
    import phonenumbers

    spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, region)]
    for start, end in reversed(spans):
        text = text[:start] + PHONE_PLACEHOLDER + text[end:]
    return text, len(spans)


# ------------------------------------------------------------------------------------------ document worker

# A processed document: (reason, cleaned text, exact hash, top language, modifications) -- reason is "" for a
# document that passed rules 1-11 (its text and hash are set) or the removal key otherwise (text and hash are
# None); top language is py3langid's top language when the language rule ran, else None; modifications has
# one int per MODIFIED_KEYS entry. A processed chunk is its rows plus the signatures of the passing documents,
# in order (shape: passing x num_perm, or None).
_Row = tuple[str, "str | None", "int | None", "str | None", tuple[int, ...]]


def _clean_one(raw: str, p: dict, stops: frozenset[str] | None) -> tuple[str, str, str | None, tuple[int, ...]]:
    """Rules 1-11 on one text: (reason or "", cleaned text, top language or None, modifications)."""
    text = fix_unicode(raw)
    unicode_mod = text != raw
    markup_mod = boiler_lines = 0
    lang = None
    if p["markup"]:
        stripped = strip_markup(text)
        markup_mod, text = stripped != text, stripped
    if p["boilerplate"]:
        text, boiler_lines = remove_boilerplate_lines(text)
    text = fix_whitespace(text)
    mods = [int(unicode_mod), int(markup_mod), int(boiler_lines > 0), boiler_lines, 0, 0, 0]
    reason = ""
    lo_w, hi_w = p["min_mean_word_length"], p["max_mean_word_length"]
    if not text:
        reason = "empty"
    elif len(text) < p["min_chars"]:
        reason = "too_short"
    elif len(text) > p["max_chars"]:
        reason = "too_long"
    elif (p["min_alpha_ratio"] > 0 and alpha_ratio(text) < p["min_alpha_ratio"]) or \
            (p["max_duplicate_line_ratio"] < 1 and duplicate_line_ratio(text) > p["max_duplicate_line_ratio"]):
        reason = "low_quality"  # (a bound of 0 / 1 cannot reject anything: not computed)
    elif p["max_symbol_word_ratio"] is not None and symbol_word_ratio(text) > p["max_symbol_word_ratio"]:
        reason = "symbols"
    elif (lo_w is not None or hi_w is not None) and not (
        (lo_w is None or mean_word_length(text) >= lo_w) and (hi_w is None or mean_word_length(text) <= hi_w)
    ):
        reason = "word_length"
    elif stops is not None and p["min_stop_words"] and stop_word_count(text, stops) < p["min_stop_words"] \
            and len(text.split()) >= p["stop_words_min_words"]:
        reason = "stop_words"
    elif p["language"] is not None:
        if p["language_paragraphs"]:
            kept = keep_language_paragraphs(text, p["language"], p["language_threshold"],
                                            p["language_prefix_chars"])
            mods[4], text = int(kept != text), kept
        lang, prob = detect_language(text, p["language_prefix_chars"]) if text else (None, 0.0)
        if lang != p["language"] or prob < p["language_threshold"]:
            reason = "language"
    if not reason:
        if p["mask_emails"]:
            text, n = mask_emails(text)
            mods[5] = int(n > 0)
        if p["mask_phones"]:
            text, n = mask_phones(text, p["phone_region"])
            mods[6] = int(n > 0)
    return reason, text, lang, tuple(mods)


def _process_texts(texts: list[str], p: dict) -> tuple[list[_Row], np.ndarray | None]:
    """Rules 1-11 on each text, then the dedup keys of the survivors. Runs in the caller or in a pool worker."""
    stops = _stop_set(p["language"], None if p["stop_words"] is None else tuple(p["stop_words"]))
    rows: list[_Row] = []
    norms: list[str] = []  # normalised texts of the passing documents, for their MinHash signatures
    for raw in texts:
        reason, text, lang, mods = _clean_one(raw, p, stops)
        if reason:
            rows.append((reason, None, None, lang, mods))
            continue
        norm = normalize_for_dedup(text)
        h = xxhash.xxh3_128_intdigest(norm.encode("utf-8")) if p["exact_dedup"] else None
        if p["near_dedup"]:
            norms.append(norm)
        rows.append(("", text, h, lang, mods))
    if not p["near_dedup"]:
        return rows, None
    return rows, signatures(norms, p)


def _process_chunk(args: tuple[list[str], dict]) -> tuple[list[_Row], np.ndarray | None]:
    return _process_texts(*args)


def _chunks(docs: Iterable[dict]) -> Iterator[list[dict]]:
    """Validated documents in chunks of at most _CHUNK_DOCS documents / about _CHUNK_CHARS characters."""
    chunk: list[dict] = []
    chars = 0
    for n, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise InputError(f"document {n}: expected a JSON object, got {type(doc).__name__}")
        if not isinstance(doc.get("text"), str):
            raise InputError(f"document {n}: 'text' must be a string, got {type(doc.get('text')).__name__}")
        chunk.append(doc)
        chars += len(doc["text"])
        if len(chunk) >= _CHUNK_DOCS or chars >= _CHUNK_CHARS:
            yield chunk
            chunk, chars = [], 0
    if chunk:
        yield chunk


def _processed(docs: Iterable[dict], p: dict) -> Iterator[tuple[list[dict], list[_Row], np.ndarray | None]]:
    """(chunk of documents, their rows, their signatures) in input order; in a spawn pool of p["workers"]
    processes once parallel_min_docs documents (or _POOL_MIN_CHARS characters) have been read."""
    chunks = _chunks(docs)
    head: list[list[dict]] = []
    if p["workers"] > 1:  # read ahead until the input is known to be big enough for the pool
        n = chars = 0
        for chunk in chunks:
            head.append(chunk)
            n += len(chunk)
            chars += sum(len(d["text"]) for d in chunk)
            if n >= p["parallel_min_docs"] or chars >= _POOL_MIN_CHARS:
                break
        else:
            chunks = iter(())
        if not head or (n < p["parallel_min_docs"] and chars < _POOL_MIN_CHARS):
            for chunk in head:
                yield chunk, *_process_texts([d["text"] for d in chunk], p)
            return
    if p["workers"] <= 1:
        for chunk in chunks:
            yield chunk, *_process_texts([d["text"] for d in chunk], p)
        return
    # spawn (not fork): safe when the caller has threads (mlflow, tokenizers) and the same on every platform.
    # At most 2 x workers chunks are in flight, so memory stays bounded however long the input is.
    with contextlib.closing(ordered_map(_process_chunk, itertools.chain(head, chunks), p["workers"],
                                        args_of=lambda chunk: ([d["text"] for d in chunk], p),
                                        mp_context=multiprocessing.get_context("spawn"))) as results:
        for chunk, res in results:
            yield chunk, *res


# ---------------------------------------------------------------------------------------------------- corpus


def _cut(text: str) -> str:
    return text if len(text) <= _EXAMPLE_CHARS else text[:_EXAMPLE_CHARS] + "…"


def _new_source_stats() -> dict:
    return {
        "input_docs": 0, "input_chars": 0, "kept_docs": 0, "kept_chars": 0,
        "removed": dict.fromkeys(REMOVAL_KEYS, 0), "modified": dict.fromkeys(MODIFIED_KEYS, 0),
        "languages": collections.Counter(), "licenses": set(), "length_histogram": [0] * len(LENGTH_BINS),
    }


def length_bin(n: int) -> int:
    """Index of the LENGTH_BINS bin that a document of n characters falls in."""
    return bisect.bisect_right(LENGTH_BINS, n) - 1


def clean_stream(docs: Iterable[dict], out_path: str | os.PathLike, cfg: dict | None = None,
                 desc: str = "clean + MinHash") -> CleanResult:
    """Run rules 1-13 (module docstring) over docs, streaming; write the kept documents to out_path as JSONL
    (atomically: nothing is written when this raises). Returns metrics, per-source stats and examples.
    `desc` labels the progress bar (documents cleaned and hashed; shown only when stderr is a terminal)."""
    p = validate_cfg(cfg)
    removed = dict.fromkeys(REMOVAL_KEYS, 0)
    modified = dict.fromkeys(MODIFIED_KEYS, 0)
    sources: dict[str, dict] = {}
    source_ids: dict[str, int] = {}
    input_docs = input_chars = 0
    seen: set[int] = set()  # exact-dedup hashes
    # Per document passing rule 12, in order: its source id and its cleaned length (6 bytes).
    pass_src, pass_len = array.array("H"), array.array("I")
    with atomic_path(out_path) as out_tmp:
        pass1 = out_tmp.with_name(out_tmp.name + ".pass1")
        sig_file = out_tmp.with_name(out_tmp.name + ".sigs")
        with open(pass1, "w", encoding="utf-8") as f1, open(sig_file, "wb") as fs, \
                tqdm(desc=desc, unit="doc", disable=None) as bar, \
                contextlib.closing(_processed(docs, p)) as processed:  # its pool stops here even on an error
            for chunk, rows, sigs in processed:
                bar.update(len(chunk))
                keep_sig: list[int] = []
                n_sig = 0
                for doc, (reason, text, h, lang, mods) in zip(chunk, rows):
                    src = str(doc.get("source", "(none)"))
                    st = sources.get(src)
                    if st is None:
                        if len(sources) == 65536:
                            raise InputError("clean: more than 65536 distinct `source` values")
                        st = sources[src] = _new_source_stats()
                        source_ids[src] = len(source_ids)
                    input_docs += 1
                    input_chars += len(doc["text"])
                    st["input_docs"] += 1
                    st["input_chars"] += len(doc["text"])
                    st["licenses"].add(str(doc.get("license")))
                    for key, v in zip(MODIFIED_KEYS, mods):
                        modified[key] += v
                        st["modified"][key] += v
                    if lang is not None:
                        st["languages"][lang] += 1
                    if reason:
                        removed[reason] += 1
                        st["removed"][reason] += 1
                        continue
                    n_sig += 1
                    if h is not None:
                        if h in seen:
                            removed["exact_duplicate"] += 1
                            st["removed"]["exact_duplicate"] += 1
                            continue
                        seen.add(h)
                    keep_sig.append(n_sig - 1)
                    f1.write(json.dumps({**doc, "text": text}, ensure_ascii=False) + "\n")
                    pass_src.append(source_ids[src])
                    pass_len.append(len(text))
                if sigs is not None and keep_sig:
                    fs.write(np.ascontiguousarray(sigs[keep_sig], dtype=np.uint32).tobytes())
        n_pass = len(pass_src)
        verdicts: list = [None] * n_pass
        if p["near_dedup"] and n_pass:
            all_sigs = np.fromfile(sig_file, dtype=np.uint32).reshape(n_pass, p["num_perm"])
            verdicts = near_duplicates(all_sigs, p)
            del all_sigs
        sig_file.unlink()
        # The first max_examples near-duplicates with a local partner, and the texts they need from pass 2.
        wanted = [(i, v[0], v[1]) for i, v in enumerate(verdicts) if v is not None and v[0] >= 0][: p["max_examples"]]
        need = {i for i, _, _ in wanted} | {k for _, k, _ in wanted}
        texts: dict[int, str] = {}
        source_names = list(source_ids)
        hist_all = [0] * len(LENGTH_BINS)
        kept_docs = kept_chars = 0
        with open(pass1, encoding="utf-8") as f1, open(out_tmp, "w", encoding="utf-8") as out:
            for i, line in enumerate(f1):
                if i in need:
                    texts[i] = json.loads(line)["text"]
                st = sources[source_names[pass_src[i]]]
                if verdicts[i] is not None:
                    removed["near_duplicate"] += 1
                    st["removed"]["near_duplicate"] += 1
                    continue
                out.write(line)
                n = pass_len[i]
                b = length_bin(n)
                kept_docs += 1
                kept_chars += n
                st["kept_docs"] += 1
                st["kept_chars"] += n
                st["length_histogram"][b] += 1
                hist_all[b] += 1
        pass1.unlink()
    examples = [{"kept": _cut(texts[k]), "removed": _cut(texts[i]), "jaccard": round(j, 4)} for i, k, j in wanted]
    metrics = {
        "input_docs": input_docs,
        "kept_docs": kept_docs,
        "input_chars": input_chars,
        "kept_chars": kept_chars,
        "removed": removed,
        "modified": modified,
    }
    for st in sources.values():
        st["languages"] = dict(st["languages"].most_common())
        st["licenses"] = sorted(st["licenses"])
    languages = collections.Counter()
    for st in sources.values():
        languages.update(st["languages"])
    stats = {
        "length_bins": list(LENGTH_BINS),
        "length_histogram": hist_all,
        "languages": dict(languages.most_common()),
        "sources": sources,
    }
    return CleanResult(metrics=metrics, near_duplicate_examples=examples, stats=stats)


def clean_corpus(docs: Iterable[dict], cfg: dict | None = None) -> CleanResult:
    """clean_stream on an in-memory corpus: the kept documents come back in result.docs."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="langcpt-clean-") as tmp:
        out = Path(tmp) / "kept.jsonl"
        result = clean_stream(docs, out, cfg)
        with open(out, encoding="utf-8") as f:
            result.docs = [json.loads(line) for line in f]
    return result
