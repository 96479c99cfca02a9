"""scripts/offline_bundle.py: the requirement set it resolves, and the parts it writes join back only when intact."""
from __future__ import annotations

import importlib.util
import io
import json
import random
import tarfile
from argparse import Namespace
from pathlib import Path

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def bundle():
    spec = importlib.util.spec_from_file_location("offline_bundle", REPO / "scripts" / "offline_bundle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_requirements_take_the_extras_pins_and_the_swaps(bundle):
    reqs = bundle.requirements(["gpu"], drop=["mlflow"], add=["mlflow-skinny==3.17.2"])
    names = {bundle.norm(r.split("=")[0].split(">")[0]): r for r in reqs}
    assert names["torch"] == "torch==2.11.0"  # the gpu extra's pin replaces the base range
    assert "unsloth" in names and "trl" in names and "mlflow" not in names and "mlflow-skinny" in names
    assert "llama-cpp-python" not in names  # sdist only: sent as a wheel built here (--extra-wheel)


def test_parts_join_back_and_a_damaged_part_is_named(bundle, tmp_path):
    src = tmp_path / "src" / "data" / "cache"
    src.mkdir(parents=True)
    (src / "model.bin").write_bytes(random.Random(0).randbytes(1_000_000))  # incompressible: several parts
    tar_path = tmp_path / "bundle.tar"
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(tmp_path / "src" / "data", arcname="files/data")
    out = tmp_path / "parts"
    out.mkdir()
    parts = bundle.split(tar_path, out, part_mb=0.3)
    assert len(parts) >= 2 and sum(p["bytes"] for p in parts) == tar_path.stat().st_size
    (out / "manifest.json").write_text(json.dumps({"parts": parts}))
    there = tmp_path / "there"
    there.mkdir()
    bundle.unpack(Namespace(parts=str(out), dest=str(tmp_path / "site"), files_to=str(there)))
    assert (there / "data" / "cache" / "model.bin").read_bytes() == (src / "model.bin").read_bytes()

    damaged = bytearray((out / parts[1]["name"]).read_bytes())
    damaged[10] ^= 1
    (out / parts[1]["name"]).write_bytes(bytes(damaged))
    with pytest.raises(SystemExit, match=parts[1]["name"]):
        bundle.unpack(Namespace(parts=str(out), dest=str(tmp_path / "site2"), files_to=str(there)))


def test_an_extra_wheel_brings_its_own_requirements(bundle, tmp_path):
    """A wheel sent with --extra-wheel (llama-cpp-python, built here) is installed with --no-deps there: what it
    needs (diskcache, which nothing else in the GPU set pulls in without DVC) must be in the resolved set."""
    import zipfile

    wheel = tmp_path / "llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("llama_cpp_python-0.3.36.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: llama_cpp_python\nVersion: 0.3.36\n"
                   "Requires-Dist: typing-extensions>=4.5.0\nRequires-Dist: diskcache>=5.6.1\n"
                   "Requires-Dist: uvicorn>=0.22.0; extra == \"server\"\n")
    assert bundle.wheel_requirements(wheel) == ["typing-extensions>=4.5.0", "diskcache>=5.6.1"]



def _wheel(folder, name: str, version: str = "1.0", requires: tuple[str, ...] = ()) -> Path:
    """A minimal real wheel (py3-none-any): one module, METADATA with `requires` as Requires-Dist, WHEEL, RECORD."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name.replace('-', '_')}-{version}"
    files = {f"{name.replace('-', '_')}.py": f"VERSION = {version!r}\n",
             f"{dist}.dist-info/METADATA": "Metadata-Version: 2.1\n"
             f"Name: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(t.encode())}" for p, t in files.items()] + [f"{dist}.dist-info/RECORD,,"]
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    path = Path(folder) / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for p, t in files.items():
            z.writestr(p, t)
    return path


def test_pack_resolves_and_sends_an_extra_wheels_requirements(tmp_path):
    """`offline_bundle.py pack`, run for real (pip's resolver and download, offline: PIP_NO_INDEX with a local
    --wheelhouse of tiny wheels built here; every project requirement left out with --drop, so only what this test
    adds is resolved): the --extra-wheel's unconditional Requires-Dist, and what they need in turn, are resolved and
    sent; its `extra ==` requirement is not; one the target has (--have) is kept from it; `unpack` then installs
    the extra wheel (--no-deps) beside its requirements."""
    import os
    import re
    import subprocess
    import sys
    import tomllib

    house = tmp_path / "wheelhouse"
    house.mkdir()
    _wheel(house, "lcpt-probe-needed", requires=("lcpt-probe-transitive>=1",))
    _wheel(house, "lcpt-probe-transitive")
    _wheel(house, "lcpt-probe-optional")
    _wheel(house, "lcpt-probe-on-target")
    _wheel(house, "lcpt-probe-added")
    built = tmp_path / "built"
    built.mkdir()
    extra = _wheel(built, "lcpt-probe-extra", "0.3", requires=(
        "lcpt-probe-needed>=1.0", "lcpt-probe-on-target", 'lcpt-probe-optional; extra == "server"'))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]
             for r in project["dependencies"] + project["optional-dependencies"]["cpu"]}
    (tmp_path / "freeze.txt").write_text("lcpt-probe-on-target==1.0\n")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1"}
    env.pop("PIP_INDEX_URL", None)
    env.pop("PIP_EXTRA_INDEX_URL", None)
    out = tmp_path / "bundle"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts/offline_bundle.py"), "pack", str(out), "--extras", "cpu",
         "--python-version", f"{sys.version_info.major}.{sys.version_info.minor}", "--have", str(tmp_path / "freeze.txt"),
         "--drop", *sorted(names), "--add", "lcpt-probe-added", "--wheelhouse", str(house), "--extra-wheel", str(extra)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["wheels"] == ["lcpt-probe-added", "lcpt-probe-needed", "lcpt-probe-transitive"]
    assert manifest["kept_from_target"] == ["lcpt-probe-on-target"]
    with tarfile.open(fileobj=io.BytesIO(b"".join((out / p["name"]).read_bytes()
                                                               for p in manifest["parts"]))) as tar:
        sent = sorted(Path(n).name for n in tar.getnames() if n.endswith(".whl"))
    assert sent == ["lcpt_probe_added-1.0-py3-none-any.whl", "lcpt_probe_extra-0.3-py3-none-any.whl",
                    "lcpt_probe_needed-1.0-py3-none-any.whl", "lcpt_probe_transitive-1.0-py3-none-any.whl"]

    proc = subprocess.run([sys.executable, str(REPO / "scripts/offline_bundle.py"), "unpack", str(out),
                           str(tmp_path / "there")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    site = tmp_path / "there" / "site"
    assert sorted(p.name for p in site.glob("*.py")) == ["lcpt_probe_added.py", "lcpt_probe_extra.py",
                                                          "lcpt_probe_needed.py", "lcpt_probe_transitive.py"]
