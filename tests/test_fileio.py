import json
import os
import stat

import pytest

from langcpt.fileio import (InputError, atomic_path, iter_jsonl, read_jsonl, remove_stale_temps, write_json,
                            write_jsonl)


def test_atomic_file_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp leftovers


def test_atomic_dir_gets_normal_permissions_and_replaces_old(tmp_path):
    out = tmp_path / "models" / "x"
    for content in ("old", "new"):
        with atomic_path(out, is_dir=True) as tmp:
            (tmp / "f.txt").write_text(content)
    assert (out / "f.txt").read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask


def test_jsonl_roundtrip_and_errors_name_file_and_line(tmp_path):
    p = tmp_path / "d.jsonl"
    assert write_jsonl(p, [{"text": "ä"}, {"text": "b"}]) == 2
    assert [r["text"] for r in read_jsonl(p)] == ["ä", "b"]
    p.write_text('{"text": "ok"}\n\n{broken\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"d\.jsonl:3: not valid JSON"):
        list(iter_jsonl(p))
    p.write_bytes(b'{"text": "ok"}\n[1, 2]\n')
    with pytest.raises(InputError, match=r"d\.jsonl:2: expected a JSON object"):
        list(iter_jsonl(p))
    p.write_bytes(b'{"text": "\xff"}\n')
    with pytest.raises(InputError, match=r"d\.jsonl:1: not valid UTF-8"):
        list(iter_jsonl(p))



def test_write_jsonl_stops_the_generator_and_its_worker_pool_on_a_write_error(tmp_path):
    """A write error (here: a row JSON cannot encode; in CI once a full disk) must close the generator at once,
    so ingest's worker pool stops in the main thread and not in a finalizer at interpreter exit (it hung there)."""
    import multiprocessing

    from langcpt.ingest import iter_documents

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(40):  # enough files for langcpt.ingest's process pool on a machine of 2+ cores
        (corpus / f"doc{i:02d}.txt").write_text(f"Dokument {i}.", encoding="utf-8")
    closed = []

    def rows():
        try:
            docs = iter_documents([{"name": "c", "kind": "local", "path": str(corpus)}], tmp_path / "cache")
            yield next(docs)
            yield {"text": object()}  # json.dumps raises TypeError while the pool still has files to parse
            yield from docs
        finally:
            closed.append(True)

    try:
        write_jsonl(tmp_path / "out.jsonl", rows())
    except TypeError:  # checked here, while the traceback still holds write_jsonl's frame and so the generator
        assert closed == [True]
        assert multiprocessing.active_children() == []
    else:
        pytest.fail("write_jsonl wrote a row JSON cannot encode")
    assert not (tmp_path / "out.jsonl").exists()


def _age(path, seconds=60):
    """Backdate a folder's mtime (remove_stale_temps leaves folders younger than STALE_AFTER_S alone)."""
    t = os.stat(path).st_mtime - seconds
    os.utime(path, (t, t))


def test_temp_folders_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    """A real writer is SIGKILLed inside atomic_path: its temp folder stays behind. While the writer lived, its folder
    was locked and a concurrent write left it alone; once it is dead, the next write of the same output removes it,
    and only it: other outputs' temp folders, other names and a fresh unlocked folder are kept."""
    import signal
    import subprocess
    import sys

    out = tmp_path / "out.json"
    code = ("import sys, time\nfrom langcpt.fileio import atomic_path\n"
            "with atomic_path(sys.argv[1], is_dir=True) as tmp:\n"
            "    (tmp / 'half').write_text('half')\n    print(tmp, flush=True)\n    time.sleep(600)\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        stale = type(out)(writer.stdout.readline().strip())
        assert stale.parent == tmp_path and (stale / "half").is_file()
        _age(stale)
        write_json(out, {"a": 1})  # a live writer's (locked) folder stays, however old
        assert stale.is_dir()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert stale.is_dir()  # SIGKILL: no cleanup ran

    keep = [tmp_path / ".out.json.mine.tmp",  # not the 8-character mkdtemp name
            tmp_path / ".other.json.abcd1234.tmp",  # another output's
            tmp_path / "out.json.abcd1234.tmp",  # no leading dot
            tmp_path / ".out.json.abcd1234.tmp.bak"]
    for p in keep:
        p.mkdir()
        (p / "user-data").write_text("keep")
        _age(p)
    (tmp_path / ".out.json.abcdefgh.tmp").write_text("a file, not a temp folder")
    keep.append(tmp_path / ".out.json.abcdefgh.tmp")
    fresh = tmp_path / ".out.json.zzzz9999.tmp"  # unlocked but just created: maybe a writer that has not locked it yet
    fresh.mkdir()
    keep.append(fresh)

    write_json(out, {"a": 2})
    assert not stale.exists()
    assert all(p.exists() for p in keep)
    assert json.loads(out.read_text()) == {"a": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name] + [p.name for p in keep])


def test_temp_folders_inside_a_killed_folder_output_go_with_it(tmp_path):
    """A killed stage that wrote a folder output leaves `.<folder>.<x>.tmp` with nested temp files in it; the next
    run of that output removes the whole folder."""
    final = tmp_path / "models" / "gguf"
    stale = tmp_path / "models" / ".gguf.k3j2abcd.tmp"
    (stale / ".model-f16.gguf.q1w2e3r4.tmp").mkdir(parents=True)
    (stale / ".model-f16.gguf.q1w2e3r4.tmp" / "model-f16.gguf").write_bytes(b"GGUF half")
    _age(stale)
    assert remove_stale_temps(final) == [stale]
    assert not stale.exists() and sorted(os.listdir(tmp_path / "models")) == []


def _tar(path, members):
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tf:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tf.addfile(info)
            else:
                info.size = 5
                tf.addfile(info, io.BytesIO(b"hallo"))
    return path


@pytest.mark.parametrize("has_data_filter", [True, False])
def test_extract_tar_extracts_plain_files_and_refuses_escapes(tmp_path, monkeypatch, has_data_filter):
    """Python 3.11.2 (Debian 12) has no tarfile data filter: extract_tar then checks the members itself."""
    import tarfile

    from langcpt.fileio import extract_tar

    if not has_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    good = _tar(tmp_path / "good.tar.gz", [("pkg-1.0/a.txt", "file"), ("pkg-1.0/sub/b.txt", "file")])
    with tarfile.open(good) as tf:
        extract_tar(tf, tmp_path / "out")
    assert (tmp_path / "out/pkg-1.0/sub/b.txt").read_text() == "hallo"
    for name, kind in (("../evil.txt", "file"), ("pkg-1.0/passwd", "link")):
        bad = _tar(tmp_path / "bad.tar.gz", [("pkg-1.0/a.txt", "file"), (name, kind)])
        with tarfile.open(bad) as tf, pytest.raises(tarfile.TarError):
            extract_tar(tf, tmp_path / "bad")
        assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "bad/pkg-1.0/passwd").is_symlink()
    absolute = f"{tmp_path}/abs.txt"  # the data filter makes it relative; the fallback refuses it
    with tarfile.open(_tar(tmp_path / "abs.tar.gz", [(absolute, "file")])) as tf:
        try:
            extract_tar(tf, tmp_path / "abs")
        except tarfile.TarError:
            assert not has_data_filter
    assert not (tmp_path / "abs.txt").exists()
