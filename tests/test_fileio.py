import os
import stat

import pytest

from langcpt.fileio import InputError, atomic_path, iter_jsonl, read_jsonl, write_json, write_jsonl


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
