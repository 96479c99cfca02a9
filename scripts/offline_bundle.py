"""Carry the GPU path to a CUDA machine that has no network: pack here, unpack there.

A CUDA box behind a firewall (or the lent H200 of this project) usually has Python, torch and CUDA, but not the
rest of the GPU dependency set (pyproject's `gpu` extra: Unsloth and its needs) nor DVC, MLflow and the data the
stages download. `pack` resolves the set for the target's Python and platform with pip, drops what the target
already has (the output of `python3 -m pip list --format=freeze` there), downloads the rest as wheels (plus the
llama.cpp wheel built here and the download cache of the ingest/base stages, if asked) and writes it as a tar in
parts of at most --part-mb MiB, for links that limit the size of one transfer. `unpack` joins the parts there and
installs the wheels into a folder to put on PYTHONPATH:

    python scripts/offline_bundle.py pack bundle --have gpu-freeze.txt --python-version 3.12 \\
        --extra-wheel ~/.cache/pip/wheels/.../llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl --files data/cache
    # copy bundle/part-* to the machine, then there:
    python3 scripts/offline_bundle.py unpack bundle /opt/langcpt-site    # export PYTHONPATH=/opt/langcpt-site
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# x86-64 Linux wheel tags, newest first: pip matches a --platform tag exactly, so all of them are listed
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in range(39, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64", "any"]
SDIST_ONLY = {"llama-cpp-python"}  # no wheel on PyPI: pass the one pip built here with --extra-wheel


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(extras: list[str], drop: list[str], add: list[str]) -> list[str]:
    """The project's pinned requirements with `extras`, as pip requirement strings (sdist-only ones and `drop` left
    out, `add` put in: e.g. mlflow-skinny and its SQL store's needs instead of the whole MLflow server)."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    pinned = {norm(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]): r for r in reqs}
    for extra in extras:  # an extra's pin (torch==2.11.0) replaces the base range (torch>=2.11,<2.15)
        for r in project["optional-dependencies"][extra]:
            pinned[norm(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0])] = r
    skip = SDIST_ONLY | set(map(norm, drop))
    return [r for name, r in pinned.items() if name not in skip] + list(add)


def wheel_requirements(wheel: str | Path) -> list[str]:
    """The unconditional Requires-Dist of a wheel (e.g. llama-cpp-python's diskcache, jinja2, numpy): a wheel sent
    with --extra-wheel is installed with --no-deps, so what it needs must be resolved with the rest."""
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode("utf-8").splitlines()
    return [ln.split(":", 1)[1].strip() for ln in lines
            if ln.startswith("Requires-Dist:") and "extra ==" not in ln and "extra==" not in ln]


def target_args(python_version: str, wheelhouse: list[str]) -> list[str]:
    """pip's flags for the target: its Python, x86-64 Linux wheels only, plus local wheel folders (`--wheelhouse`:
    wheels built here from sdists, e.g. pip's cache of antlr4-python3-runtime, which PyPI has as an sdist only)."""
    args = ["--python-version", python_version, "--implementation", "cp", "--only-binary=:all:"]
    for w in wheelhouse:
        args += ["--find-links", w]
    for p in PLATFORMS:
        args += ["--platform", p]
    return args


def resolve(reqs: list[str], python_version: str, wheelhouse: list[str]) -> dict[str, str]:
    """{name: version} of the whole closure of `reqs` on the target (pip's resolver, dry run)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                        "--target", str(Path(tmp) / "t"), "--report", str(report),
                        *target_args(python_version, wheelhouse), *reqs], check=True)
        return {norm(i["metadata"]["name"]): i["metadata"]["version"]
                for i in json.loads(report.read_text())["install"]}


def have(freeze: Path | None) -> dict[str, str]:
    """{name: version or ""} from `pip list --format=freeze` output of the target machine (or bare names)."""
    out = {}
    for line in (freeze.read_text().split() if freeze else []):
        name, _, version = line.partition("==")
        out[norm(name)] = version.strip()
    return out


def pack(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra_needs = [r for w in args.extra_wheel for r in wheel_requirements(w)]
    closure = resolve(requirements(args.extras.split(","), args.drop, args.add) + extra_needs, args.python_version,
                      args.wheelhouse)
    present = have(args.have)
    send = set(map(norm, args.send))
    # what the target lacks, or has in another version than the pin (--send: always; the rest of the target's
    # stack, torch and its CUDA build above all, is used as it is there)
    need = {n: v for n, v in closure.items() if n not in present or n in send}
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp) / "wheels"
        wheels.mkdir()
        if need:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(wheels),
                            *target_args(args.python_version, args.wheelhouse),
                            *[f"{n}=={v}" for n, v in sorted(need.items())]], check=True)
        for w in args.extra_wheel:
            (wheels / Path(w).name).write_bytes(Path(w).read_bytes())
        tar_path = Path(tmp) / "bundle.tar"
        with tarfile.open(tar_path, "w:gz", compresslevel=6) as tar:
            tar.add(wheels, arcname="wheels")
            for f in args.files:  # SRC or SRC:DEST (DEST relative to where `unpack --files-to` puts them)
                src, _, dest = f.partition(":")
                tar.add(src, arcname=f"files/{dest or src}")
        parts = split(tar_path, out, args.part_mb)
    manifest = {"python_version": args.python_version, "extras": args.extras, "wheels": sorted(need),
                "kept_from_target": sorted(n for n in closure if n not in need), "files": args.files,
                "parts": parts}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"{len(need)} wheels + {len(args.extra_wheel)} extra + {len(args.files)} file trees -> {len(parts)} parts in "
          f"{out} ({sum(p['bytes'] for p in parts) / 2**20:.1f} MiB)")


def split(path: Path, out: Path, part_mb: float) -> list[dict]:
    for old in out.glob("part-*"):
        old.unlink()
    size, parts = int(part_mb * 2**20), []
    with open(path, "rb") as f:
        while chunk := f.read(size):
            p = out / f"part-{len(parts):03d}"
            p.write_bytes(chunk)
            parts.append({"name": p.name, "bytes": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
    return parts


def unpack(args) -> None:
    src, dest = Path(args.parts), Path(args.dest)
    manifest = json.loads((src / "manifest.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        tar_path = Path(tmp) / "bundle.tar"
        with open(tar_path, "wb") as f:
            for part in manifest["parts"]:
                data = (src / part["name"]).read_bytes() if (src / part["name"]).exists() else b""
                if hashlib.sha256(data).hexdigest() != part["sha256"]:
                    sys.exit(f"error: {src / part['name']}: missing or damaged (sha256 differs from manifest.json)")
                f.write(data)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter="data")
        wheels = sorted((Path(tmp) / "wheels").glob("*.whl"))
        if wheels:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                            "--no-compile", "--upgrade", "--target", str(dest / "site"), *map(str, wheels)],
                           check=True)
        files = Path(tmp) / "files"
        if files.is_dir():
            subprocess.run(["cp", "-a", f"{files}/.", str(args.files_to)], check=True)
    print(f"installed {len(wheels)} wheels into {dest / 'site'} (export PYTHONPATH={dest / 'site'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="resolve, download and split")
    p.add_argument("out")
    p.add_argument("--extras", default="gpu", help="extras of pyproject.toml (default gpu)")
    p.add_argument("--python-version", default="3.12")
    p.add_argument("--have", type=Path, help="`pip list --format=freeze` of the target: those packages are not sent")
    p.add_argument("--send", nargs="*", default=[], help="send these even where the target has them (their pins)")
    p.add_argument("--drop", nargs="*", default=[], help="requirements left out (e.g. mlflow)")
    p.add_argument("--add", nargs="*", default=[], help="requirements put in (e.g. mlflow-skinny==3.17.2 alembic)")
    p.add_argument("--extra-wheel", nargs="*", default=[], help="wheels built here (llama-cpp-python has no wheel)")
    p.add_argument("--wheelhouse", nargs="*", default=[], help="folders of wheels built here (pip --find-links)")
    p.add_argument("--files", nargs="*", default=[],
                   help="paths sent too, SRC or SRC:DEST (e.g. data/cache, /srv/dvc-remote:remote)")
    p.add_argument("--part-mb", type=float, default=60.0)
    p.set_defaults(fn=pack)
    u = sub.add_parser("unpack", help="join the parts, check them, install the wheels into DEST/site")
    u.add_argument("parts")
    u.add_argument("dest")
    u.add_argument("--files-to", default=".", help="where --files trees go (default: the current folder)")
    u.set_defaults(fn=unpack)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
