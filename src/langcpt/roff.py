"""Make an untrusted roff document (a man page from a user's folder) safe to give to groff.

groff reads and runs things outside the document: `.so`/`.mso`/`.nx` read other files, `.cf`/`.trf` copy them
to the output, `.pso`/`.sy`/`.pi`/`.open`/`.opena` run commands or open files (groff's safer mode, -S, which
is its default and which ingest passes explicitly, already refuses those four), `.hpf`/`.hpfa`/`.psbb` read
files, and the escape `\\V` reads an environment variable (in safer mode too). Two layers:

1. `neutralise(text, path, root)` rewrites the source, line by line. A control line (control characters `.`,
   `'` and any that `.cc`/`.c2` set) calling one of READS_FILES -- directly, after `.do`, or as the body of
   `.if`/`.ie`/`.el`/`.while` -- is cut from that request to the end of the line (a `\\#` comment stays),
   except `.so FILE` naming a file inside `root` (the package or folder; the page's folder or its parent, as
   man resolves `.so man1/x.1`), which is inlined here (neutralised in turn, at most MAX_SO_DEPTH deep), and
   `.mso NAME` of a bare macro-package name (`www.tmac`: a file of groff's own macro path, no `/`; ingest runs
   groff with HOME=/nonexistent and no GROFF_* variables, since groff also searches $HOME). So are
   `.als`/`.rn` naming any of them, `.ec` (a new escape character would hide `\\V`), and control lines whose
   request name is interpolated (`.\\*[x] /etc/passwd`). Every `\\V` escape is removed.
2. PROLOGUE, read by groff before the document, removes the requests of READS_FILES except `mso` (the man/mdoc
   macros need it to load their package), so that whatever layer 1 misses -- mdoc's `.Bd -file` uses `.so`
   inside a macro -- finds no such request.
Each change is returned as a note (line number, what was removed) for the ingest report.
"""
from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

READS_FILES = ("so", "mso", "nx", "pso", "sy", "open", "opena", "cf", "trf", "pi", "hpf", "hpfa", "psbb",
               "soquiet", "msoquiet")
PROLOGUE = ".rm " + " ".join(r for r in READS_FILES if r != "mso") + "\n"
MAX_SO_DEPTH = 8
_CONDITIONAL = {"if", "ie", "el", "while"}
_V_ESCAPE = re.compile(r"\\+V(?:\[[^\]\n]*\]?|\(.{0,2}|.)?")
_INTERPOLATED = re.compile(r"\\+[*$nVgA]")
_MACRO_PACKAGE = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*")


def _read_page(path: Path) -> str | None:
    from .decoding import decode_bytes

    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error):
        return None
    return decode_bytes(raw).text


def _so_target(arg: str, page: Path, root: Path) -> Path | None:
    """The file `.so arg` names when it lies inside root (relative to the page's folder or its parent)."""
    if not arg or "\\" in arg:
        return None
    base = Path(arg)
    cands = [base] if base.is_absolute() else [page.parent / base, page.parent.parent / base]
    root = root.resolve()
    for c in cands:
        for p in (c, c.with_name(c.name + ".gz")):
            try:
                real = p.resolve()
            except (OSError, RuntimeError):
                continue
            if real.is_relative_to(root) and real.is_file():
                return real
    return None


def _request(rest: str) -> tuple[str, str]:
    """(request name, arguments) of a control line without its control character; `.do X` is X."""
    m = re.match(r"[ \t]*(\S+)[ \t]*(.*)", rest)
    name, args = (m.group(1), m.group(2)) if m else ("", "")
    if name == "do":
        m = re.match(r"(\S+)[ \t]*(.*)", args)
        name, args = (m.group(1), m.group(2)) if m else ("", "")
    return name, args


def _first(args: str) -> str:
    return args.split()[0] if args.split() else ""


def _condition_body(name: str, args: str) -> str:
    """What follows the condition of `.if`/`.ie`/`.while` (all of `.el`'s arguments), leading `\\{` dropped."""
    a = args
    if name != "el":
        a = a.lstrip().removeprefix("!")
        if a[:1] in ("'", '"'):  # string comparison 'a'b'
            parts = a.split(a[0], 3)
            a = parts[3] if len(parts) == 4 else ""
        elif re.match(r"[cdrmFSv][ \t]", a):  # c X, d name, r name, m name, F font, S style, v
            a = a.split(None, 2)[2] if len(a.split(None, 2)) == 3 else ""
        else:  # n, t, o, e or a numeric expression
            a = a.split(None, 1)[1] if len(a.split(None, 1)) == 2 else ""
    return re.sub(r"^(?:[ \t]|\\\{)*", "", a)


def _unsafe_at(line: str, controls: set[str], depth: int = 0) -> int | None:
    """Where in `line` (a control line) a request that reaches outside the document starts, else None."""
    name, args = _request(line[1:])
    if name in READS_FILES:
        return None if name == "mso" and _MACRO_PACKAGE.fullmatch(_first(args)) else 0
    if (name in ("als", "rn") and set(args.split()) & set(READS_FILES)) or _INTERPOLATED.match(name) \
            or (name == "ec" and args.strip() not in ("", "\\")):
        return 0
    if name in _CONDITIONAL and depth < 8:
        body = _condition_body(name, args)
        if body[:1] in controls:
            inner = _unsafe_at(body, controls, depth + 1)
            return None if inner is None else len(line) - len(body) + inner
    return None


def neutralise(text: str, path: str | Path, root: str | Path, _depth: int = 0) -> tuple[str, list[tuple[str, str]]]:
    """`text` (a roff document read from `path`) with every request that reaches outside `root` removed and
    allowed `.so` files inlined; notes are ("roff_request" | "roff_env", "line N: detail")."""
    page, root = Path(path), Path(root)
    notes: list[tuple[str, str]] = []
    controls = {".", "'"}
    out = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if "\\V" in line:
            new = _V_ESCAPE.sub("", line)
            if new != line:
                notes.append(("roff_env", f"line {lineno}: \\V (environment variable) escape removed"))
                line = new
        if not line or line[0] not in controls:
            out.append(line)
            continue
        name, args = _request(line[1:])
        if name in ("cc", "c2"):
            controls.add(args[:1] or (".", "'")[name == "c2"])
        if name == "so" and _depth < MAX_SO_DEPTH and (inc := _so_target(_first(args), page, root)) is not None:
            body = _read_page(inc)
            if body is not None:
                body, sub = neutralise(body, inc, root, _depth + 1)
                notes += [(r, f"{inc.name} (included at line {lineno}) {d}") for r, d in sub]
                out.append(body.removesuffix("\n"))
                continue
        cut = _unsafe_at(line, controls)
        if cut is None:
            out.append(line)
            continue
        removed = line[cut:]
        notes.append(("roff_request", f"line {lineno}: {removed.strip()[:120]!r} removed"))
        out.append(line[:cut] + ("\\}" if "\\}" in removed else "") + "\\# langcpt: request removed")
    return "\n".join(out), notes
