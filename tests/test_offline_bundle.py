"""scripts/offline_bundle.py: the requirement set it resolves, and the parts it writes join back only when intact."""
from __future__ import annotations

import importlib.util
import json
import random
import tarfile
from argparse import Namespace

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

