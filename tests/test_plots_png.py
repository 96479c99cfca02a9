"""scripts/plots_png.py: this repository's `dvc plots` (its dvc.yaml, the committed curves) rendered as PNG files."""
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

from conftest import REPO

CURVES = ["reports/pretrain/train_loss.csv", "reports/pretrain/eval_loss.csv", "reports/sft/train_loss.csv",
          "reports/sft/eval_loss.csv", "reports/evaluate/perplexity.csv"]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_renders_dvc_plots_as_png_and_skips_missing_files(tmp_path):
    for f in ["dvc.yaml", "params.yaml", ".dvc/config", *CURVES]:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / f, tmp_path / f)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    proc = subprocess.run([sys.executable, str(REPO / "scripts/plots_png.py"), "--out", "out"], cwd=tmp_path,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    made = {p.name for p in (tmp_path / "out").iterdir()}
    # combined curves (top-level plots) and per-file plots; the data card's CSVs are absent here: skipped
    assert {"pretrain_loss.png", "sft_loss.png", "sft_perplexity.png", "pretrain_train_loss.png",
            "evaluate_perplexity.png"} <= made
    assert not any(n.startswith("data_card") for n in made) and not any(n.endswith(".tmp") for n in made)
    width, height = png_size(tmp_path / "out/pretrain_loss.png")
    assert width > 300 and height > 200
    assert sorted(proc.stdout.split()) == sorted(f"out/{n}" for n in made)


def test_no_plots_is_an_error(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    shutil.copytree(REPO / ".dvc", tmp_path / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp"))
    proc = subprocess.run([sys.executable, str(REPO / "scripts/plots_png.py"), "--out", "out"], cwd=tmp_path,
                          env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "no plot to render" in proc.stderr
    assert not (tmp_path / "out").exists()
