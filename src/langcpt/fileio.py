"""Small file helpers shared by every stage: atomic outputs and JSONL.

A stage never leaves a half-written output: it writes to a temporary sibling and renames it into place at the
end, so an interrupted run leaves the previous output (or nothing) behind. A full disk while writing becomes an
InputError (a clean `error:` exit 1) naming the output, whose previous version stays.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator


class InputError(ValueError):
    """Bad user input (file, line or key named in the message). Pipelines turn it into a clean exit 1."""


_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):(?P<secret>[^@/\s]+)@")


def redact(text: str) -> str:
    """`text` with the password of every URL in it (scheme://user:password@host) replaced by ***: for messages,
    logs and tracked params that may quote a URL from params or the environment (Redis, S3, MLflow servers)."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}:***@", text)


_TMP_PART = re.compile(r"(?<![^/])\.([^/]+)\.[^./]+\.tmp(?=/|$)")  # data/.raw.k3j2.tmp/x -> data/raw/x
_TMP_NAME = r"\.{}\.[a-z0-9_]{{8}}\.tmp"  # what tempfile.mkdtemp(prefix=".<name>.", suffix=".tmp") makes
STALE_AFTER_S = 2.0  # an unlocked temp folder younger than this may be one another writer has not locked yet


def _lock(path: Path) -> int | None:
    """An exclusive flock on the folder `path` (a file descriptor, held until closed; the kernel drops it when the
    process dies, SIGKILL included); None when another process holds it or the folder is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def remove_stale_temps(final: str | os.PathLike) -> list[Path]:
    """Delete the temporary folders that killed writers of `final` left beside it (`.<name>.<8 chars>.tmp`, the
    exact pattern atomic_path makes), and return them. A folder a live writer holds (its flock) is left alone, and
    so is an unlocked one younger than STALE_AFTER_S (created, not yet locked); other names are never touched."""
    final = Path(final)
    pattern = re.compile(_TMP_NAME.format(re.escape(final.name)))
    removed = []
    try:
        entries = list(os.scandir(final.parent))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        fd = _lock(path)
        if fd is None:
            continue
        try:
            if time.time() - os.fstat(fd).st_mtime >= STALE_AFTER_S:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `final`; on success rename it to `final` (replacing it), else delete it.

    The temporary folder is locked (flock) while in use; temporary folders of `final` that killed runs left behind
    are removed first (remove_stale_temps)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    lock = _lock(tmp)
    target = tmp if is_dir else tmp / final.name
    try:
        try:
            yield target
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):  # a full disk is the machine's state, not a bug: say so
                name = _TMP_PART.sub(r"\1", final.as_posix())  # a file inside an atomic folder: the folder's name
                kept = f"the previous {name} is unchanged" if Path(name).exists() else "nothing was written"
                raise InputError(f"{name}: no space left on device while writing it; {kept}") from None
            raise
        if is_dir:  # mkdtemp makes 0700; give the output the usual permissions
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(target, 0o777 & ~umask)
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        elif final.exists() or final.is_symlink():
            final.unlink()
        os.replace(target, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if lock is not None:
            os.close(lock)


def extract_tar(tf: tarfile.TarFile, dest: str | os.PathLike, members: list[tarfile.TarInfo] | None = None) -> None:
    """Extract `members` (default: all) of an open tar into dest, safely on every Python this project supports:
    with tarfile's "data" filter where it exists (3.10.12+, 3.11.4+), else only regular files and folders with a
    relative name that stays inside dest (Debian 12's Python 3.11.2 has no filter). An unsafe member raises
    tarfile.TarError naming it."""
    members = tf.getmembers() if members is None else members
    if hasattr(tarfile, "data_filter"):
        tf.extractall(dest, members=members, filter="data")
        return
    for m in members:
        name = Path(m.name)
        if not (m.isfile() or m.isdir()) or name.is_absolute() or ".." in name.parts:
            raise tarfile.TarError(f"{m.name!r}: refused (a link, a device or a path leading outside the target)")
    tf.extractall(dest, members=members)


def write_json(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    """Write rows atomically; return how many were written. A generator passed as `rows` is closed here however
    this ends: one that holds a worker pool (langcpt.ingest) must not be left for garbage collection at
    interpreter exit after a write error (a full disk), where a multiprocessing pool's finalizer can hang."""
    n = 0
    try:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    finally:
        if hasattr(rows, "close"):
            rows.close()
    return n


def parse_jsonl_line(line: str, where: str) -> dict:
    """One JSONL line as a dict; InputError naming `where` (file:line) when it is not a JSON object."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise InputError(f"{where}: not valid JSON ({e.msg})") from None
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    return row


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield (line number, dict) per non-empty line; bad UTF-8 or JSON raises InputError naming file and line."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    with f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{path}:{lineno}: not valid UTF-8") from None
            if lineno == 1:
                line = line.lstrip("\ufeff")
            if line.strip():
                yield lineno, parse_jsonl_line(line, f"{path}:{lineno}")


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Yield one dict per non-empty line (see iter_jsonl)."""
    for _, row in iter_jsonl(path):
        yield row
