"""Both dependency sets resolve: pip's resolver, dry run, on a clean interpreter (a new venv without packages).

A pin conflict (trl==1.16.0 in the base dependencies against Unsloth's trl<=1.15.0 in the gpu extra once made
`pip install -e ".[gpu]"` fail) must fail here, not on a user's machine. Nothing is installed; pip reads the
packages' metadata from the index (PyPI), so these tests need the network that the set-up needs anyway.
"""
from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The sets scripts/setup.sh installs: CPU (the README's commands, CI) and CUDA (`make repro PRESET=gpu`).
SETS = {"cpu": "cpu,test,bench", "gpu": "gpu,test"}


def resolve(extras: str, clean: Path) -> dict[str, str]:
    """{name: version} that `pip install --dry-run ".[extras]"` would install into the clean interpreter."""
    report = clean.parent / f"report-{extras.replace(',', '-')}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(clean), "install", "--dry-run", "--ignore-installed",
         "--quiet", "--report", str(report), f"{REPO}[{extras}]"],
        capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"pip could not resolve .[{extras}]:\n{proc.stderr[-4000:]}"
    return {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
            for i in json.loads(report.read_text())["install"]}


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clean") / "venv"
    venv.create(root, with_pip=False)
    return root / "bin" / "python"


@pytest.mark.parametrize("name", SETS)
def test_dependency_set_resolves(name, clean_python):
    pins = resolve(SETS[name], clean_python)
    if name == "gpu":  # what the H200 run used (reports/gpu/README.md), and what Unsloth needs beside it
        assert pins["torch"] == "2.11.0" and pins["torchvision"] == "0.26.0"
        for pkg in ("unsloth", "unsloth-zoo", "trl", "xformers", "bitsandbytes", "torchao"):
            assert pkg in pins, f"{pkg} missing from the gpu set"
    else:
        assert pins["torch"].startswith("2.13.0") and "unsloth" not in pins and "trl" not in pins


def test_the_old_conflict_is_caught(clean_python, tmp_path):
    """The check itself fails on a set that cannot resolve (the trl pins of the old pyproject)."""
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pyproject.toml").write_text(
        '[project]\nname = "bad"\nversion = "0"\ndependencies = ["trl==1.16.0", "unsloth==2026.10.9"]\n')
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(clean_python), "install", "--dry-run",
                           "--ignore-installed", "--quiet", str(bad)], capture_output=True, text=True, timeout=900)
    assert proc.returncode != 0 and "ResolutionImpossible" in proc.stderr + proc.stdout
