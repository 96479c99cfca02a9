"""Decode a user's text files, whatever tool or era wrote them, into clean text -- or say why not.

`decode_bytes(raw)` returns a `Decoded`: the text (None when the file is skipped), the skip reason, and notes
(reason, where, detail) for every repair. In order:

1. A byte order mark decides: UTF-8, UTF-16 LE/BE, UTF-32 LE/BE (bytes that are invalid in the BOM's encoding:
   skipped as "undecodable").
2. Binary: more than BINARY_CONTROL_RATIO of the first 64 KiB are control bytes that text does not use (NUL,
   0x01-0x08, 0x0E-0x1F except ESC, DEL) -> skipped as "binary" (so is UTF-16 without a BOM).
3. Valid UTF-8: taken as it is.
4. UTF-8 with invalid byte runs: when the file also holds valid multi-byte UTF-8 sequences, at least as many as
   invalid runs, it is UTF-8 that a tool damaged: the invalid runs are dropped, each named by byte offset
   ("invalid_utf8").
5. Otherwise a legacy 8-bit encoding (Latin-1, CP1252, ...): the encoding the document declares (`hint`: an
   HTML/XML charset), when the bytes decode in it; else, of CP1252 (Western European; Latin-1's printable
   characters and more) and charset-normalizer's candidates, the one whose text charset-normalizer's mess
   detector rates least chaotic (ties: CP1252, then charset-normalizer's order), if that rate is at most MAX_MESS
   ("decoded": the encoding is named). charset-normalizer alone guesses badly on short texts (one "ä" in a
   sentence: cp1006); the mess rate tells "Köln" from "KŲln" and "Привет" from "Ïðèâåò". Nothing fits ->
   skipped as "undecodable".

`scrub(text)` then removes what never belongs in training text -- NUL ("nul"), U+FFFD ("replacement_char", the
mark of an earlier lossy decode), lone surrogates ("surrogate", from JSON escapes) and U+FEFF ("bom") -- naming
the lines. Both are pure functions on bytes/str; the ingest stage collects their notes per file.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

BOMS = (  # UTF-32 first: its LE mark starts with UTF-16 LE's
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
BINARY_CONTROL_RATIO = 0.05
BINARY_SAMPLE = 65536
MAX_MESS = 0.2  # charset-normalizer's own default threshold
MESS_SAMPLE = 100_000  # characters of each candidate decoding rated
DETECT_SAMPLE = 200_000  # bytes charset-normalizer proposes candidates from (each must decode the whole file)
MAX_OFFSETS = 10  # offsets / line numbers quoted per note
_CONTROL = bytes([*range(0, 9), *range(14, 27), *range(28, 32), 127])
_INVALID_RUN = re.compile("[\udc80-\udcff]+")  # surrogateescape's stand-ins for undecodable bytes
_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")
_SCRUB = {"nul": "\x00", "replacement_char": "\ufffd", "bom": "\ufeff"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_DECLARED = re.compile(rb"""(?:<meta[^>]{0,200}?charset\s*=\s*["']?|<\?xml[^>]{0,100}?encoding\s*=\s*["'])"""
                       rb"""([A-Za-z0-9_.:-]{1,40})""", re.I)


@dataclass
class Decoded:
    text: str | None  # None: skipped
    skip: str | None = None  # reason the file is skipped
    notes: list[tuple[str, str]] = field(default_factory=list)  # (reason, detail) of skips and repairs


def _listing(items: list, unit: str) -> str:
    shown = ", ".join(map(str, items[:MAX_OFFSETS]))
    return f"{unit} {shown}" + (f" (+{len(items) - MAX_OFFSETS} more)" if len(items) > MAX_OFFSETS else "")


def looks_binary(raw: bytes) -> bool:
    sample = raw[:BINARY_SAMPLE]
    return bool(sample) and len(sample) - len(sample.translate(None, _CONTROL)) > BINARY_CONTROL_RATIO * len(sample)


def declared_encoding(raw: bytes) -> str | None:
    """The charset an HTML <meta> or an XML declaration names in the first 2 KiB, if Python knows it."""
    m = _DECLARED.search(raw[:2048])
    if not m:
        return None
    try:
        return codecs.lookup(m.group(1).decode("ascii")).name
    except LookupError:
        return None


def decode_bytes(raw: bytes, hint: str | None = None) -> Decoded:
    """Decode one file's bytes (module docstring); `hint`: an encoding the file declares."""
    for bom, enc in BOMS:
        if raw.startswith(bom):
            try:
                text = raw[len(bom):].decode(enc)
            except UnicodeDecodeError as e:
                return Decoded(None, "undecodable", [("undecodable", f"starts with a {enc} byte order mark but byte "
                                                      f"{e.start + len(bom)} is not valid {enc}")])
            return Decoded(text, notes=[] if enc == "utf-8" else [("decoded", f"{enc} (byte order mark)")])
    if looks_binary(raw):
        return Decoded(None, "binary", [("binary", "control bytes (NUL, ...) in more than "
                                                   f"{BINARY_CONTROL_RATIO:.0%} of the first {BINARY_SAMPLE} bytes")])
    try:
        return Decoded(raw.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="surrogateescape")
    valid = len(_NON_ASCII.findall(text))  # valid multi-byte sequences; none: not UTF-8 at all
    runs = list(_INVALID_RUN.finditer(text)) if valid else []
    if valid and valid >= len(runs):  # UTF-8 with damage: drop the invalid runs
        offsets, parts, pos, byte = [], [], 0, 0
        for m in runs:
            parts.append(text[pos:m.start()])
            byte += len(text[pos:m.start()].encode("utf-8"))
            offsets.append(byte)
            byte += m.end() - m.start()
            pos = m.end()
        parts.append(text[pos:])
        n = sum(m.end() - m.start() for m in runs)
        return Decoded("".join(parts), notes=[("invalid_utf8", f"{n} invalid UTF-8 byte(s) dropped at "
                                                               + _listing(offsets, "byte offset(s)"))])
    if hint and codecs.lookup(hint).name not in ("utf-8", "utf-16", "utf-32"):
        try:
            return Decoded(raw.decode(hint), notes=[("decoded", f"{hint} (declared in the file)")])
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    scored = []
    sample = raw[:DETECT_SAMPLE]
    if len(raw) > DETECT_SAMPLE and b"\n" in sample:
        sample = sample.rsplit(b"\n", 1)[0]  # whole lines
    for enc in ("cp1252", *(r.encoding for r in from_bytes(sample))):
        try:
            text = raw.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        scored.append((mess_ratio(text[:MESS_SAMPLE], 1.0), len(scored), enc, text))
    if not scored or min(scored)[0] > MAX_MESS:
        return Decoded(None, "undecodable", [("undecodable", "not UTF-8, and no encoding fits with confidence")])
    mess, _, enc, text = min(scored)
    return Decoded(text, notes=[("decoded", f"{enc} (detected; not UTF-8)")])


def scrub(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Remove NUL, U+FFFD, U+FEFF and lone surrogates; return (text, notes naming the lines)."""
    notes = []
    for reason, ch in _SCRUB.items():
        if ch in text:
            lines = [i for i, line in enumerate(text.split("\n"), 1) if ch in line]
            if not (reason == "bom" and lines == [1] and text.count(ch) == 1 and text.startswith(ch)):
                notes.append((reason, f"{text.count(ch)} removed, " + _listing(lines, "line(s)")))
            text = text.replace(ch, "")
    if _SURROGATE.search(text):
        lines = [i for i, line in enumerate(text.split("\n"), 1) if _SURROGATE.search(line)]
        notes.append(("surrogate", f"{len(_SURROGATE.findall(text))} lone surrogate(s) removed, "
                                   + _listing(lines, "line(s)")))
        text = _SURROGATE.sub("", text)
    return text, notes


def readable_name(name: str) -> str:
    """A file name as text that JSON can hold: a name whose bytes are not UTF-8 (Python keeps them as lone
    surrogates) is decoded as CP1252, else Latin-1 (which takes any byte)."""
    if not _SURROGATE.search(name):
        return name
    raw = name.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
