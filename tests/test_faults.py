"""Faults (issue 7) against the real stages of the tiny profile: SIGKILL in the middle of each long stage, and a
full disk while the gguf stage writes its files. (ingest and dedup_clean: tests/test_bad_input.py; pretrain's
resume after SIGKILL: tests/test_resume.py.)

SIGKILL: in a copy of the built tiny pipeline (`tiny_pipeline`), `dvc repro -f -s <stage>` is killed -- the whole
process group, dvc and the stage, so no cleanup runs -- as soon as the stage has started writing its output (its
temporary path exists) or, for evaluate, in the middle of its work. DVC removes a stage's outputs before running it
(they stay in its cache), so each declared output must then be absent or the previous version, never half-written.
Then `dvc repro <stage>` must succeed: it runs the stage again (or, where DVC can check every output out of its
cache, restores the previous ones byte for byte, and `dvc repro -f -s <stage>` runs it); the outputs must load (the
model, the JSON, the GGUF files) and the temporary folders the killed run left beside its outputs must be gone.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run as sh, stages_run
from langcpt.fileio import STALE_AFTER_S

EVALUATE_OUTS = ["reports/evaluate/samples.json", "reports/evaluate/metrics.json",
                 "reports/evaluate/perplexity.csv", "reports/evaluate/bits_per_byte.csv"]
# stage -> (its declared outputs, what must exist before the kill: a glob, or "log:" + a line start of its output)
KILLS = {
    "base": (["models/base", "reports/base.json"], "models/.base.*.tmp/*.safetensors"),  # saving the checkpoint
    "tokenize_chunk": (["data/tokens", "reports/tokenize.json"], "data/.tokens.*.tmp/.train.npy.*.tmp/train.npy"),
    "sft": (["models/sft", "reports/sft/metrics.json"], "models/.sft.*.tmp/*.safetensors"),  # saving the merge
    "evaluate": (EVALUATE_OUTS, "log:pretrained: {"),  # two of its three models scored
    "gguf": (["models/gguf", "reports/gguf.json"], "models/.gguf.*.tmp/.model-f16.gguf.*.tmp/model-f16.gguf"),
}
TIMEOUT = 900


def digest(path: Path) -> dict[str, str] | None:
    """sha256 of a file, or of every file under a folder (relative path -> hash); None when absent."""
    if not path.exists():
        return None
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def temps(root: Path, out: str) -> list[Path]:
    """The temporary folders of atomic_path for `out` beside it (`.<name>.<8 chars>.tmp`)."""
    out = Path(out)
    return sorted((root / out.parent).glob(f".{out.name}.*.tmp"))


def check_valid(stage: str, root: Path) -> None:
    """The outputs of `stage` are complete: they load."""
    if stage in ("base", "sft"):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = root / f"models/{stage}"
        model = AutoModelForCausalLM.from_pretrained(path)
        assert model.num_parameters() > 0 and len(AutoTokenizer.from_pretrained(path)) > 0
    elif stage == "tokenize_chunk":
        import numpy as np

        assert sorted(p.name for p in (root / "data/tokens").iterdir()) == ["general_val.npy", "train.npy", "val.npy"]
        metrics = json.loads((root / "reports/tokenize.json").read_text())
        for name in ("train", "val", "general_val"):
            blocks = np.load(root / f"data/tokens/{name}.npy")
            assert blocks.shape == (metrics[f"{name}_blocks"], metrics["block_size"])
    elif stage == "evaluate":
        metrics = json.loads((root / "reports/evaluate/metrics.json").read_text())
        assert set(metrics) >= {"base", "pretrained", "sft", "gates"}
        assert json.loads((root / "reports/evaluate/samples.json").read_text())
        for name in ("perplexity.csv", "bits_per_byte.csv"):
            with open(root / "reports/evaluate" / name) as f:
                assert len(list(csv.DictReader(f))) == 6  # 3 models x 2 held-out sets
    elif stage == "gguf":
        import gguf

        metrics = json.loads((root / "reports/gguf.json").read_text())
        files = sorted((root / "models/gguf").glob("*.gguf"))
        assert [f.name for f in files] == sorted(f"model-{q}.gguf" for q in metrics["files"])
        for f in files:
            reader = gguf.GGUFReader(f)
            assert reader.tensors and "tokenizer.chat_template" in reader.fields, f
        assert (root / "models/gguf/Modelfile").is_file()
    if stage != "evaluate":
        json.loads((root / KILLS[stage][0][1]).read_text())


@pytest.fixture(scope="module")
def repo(tiny_pipeline, tmp_path_factory):
    """A copy of the built tiny pipeline (its own DVC repository and cache); MLflow off (nothing to register).
    The models and DVC's cache objects (GBs) are hard links: nothing writes into an existing file there (stages
    write new files and rename them, DVC unlinks and copies), so the fixture's files stay as they were."""
    src = tiny_pipeline["path"]
    dst = tmp_path_factory.mktemp("faults") / "repo"

    def link_or_copy(a, b):
        rel = Path(a).relative_to(src).as_posix()
        if rel.startswith(("models/", ".dvc/cache/")):
            os.link(a, b)
        else:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, symlinks=True, copy_function=link_or_copy)
    return {"path": dst, "env": {**tiny_pipeline["env"], "LANGCPT_MLFLOW": "0"}}


@pytest.mark.parametrize("stage", list(KILLS))
def test_sigkill_during_a_stage_then_dvc_repro_recovers(repo, stage, tmp_path):
    root, env = repo["path"], repo["env"]
    outs, trigger = KILLS[stage]
    # an earlier case retrained an upstream stage (sft): bring everything above this stage up to date first, so the
    # rerun after the kill runs this stage alone (e.g. safety, between sft and gguf, would rerun with it otherwise)
    sh(["dvc", "repro", stage], root, env)
    before = {out: digest(root / out) for out in outs}
    assert all(before.values()), before

    log = tmp_path / "repro.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(["dvc", "repro", "-f", "-s", stage], cwd=root, env=env, start_new_session=True,
                                stdout=f, stderr=subprocess.STDOUT)
    deadline = time.time() + TIMEOUT

    def triggered() -> bool:
        if trigger.startswith("log:"):
            return any(line.startswith(trigger[4:]) for line in log.read_text(errors="replace").splitlines())
        return bool(list(root.glob(trigger)))

    while not triggered() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, f"{stage} ended before it could be killed:\n{log.read_text()[-3000:]}"
    os.killpg(proc.pid, signal.SIGKILL)  # dvc and the stage under it: no cleanup runs
    proc.wait()

    for out in outs:  # absent (DVC removed it before the run) or the previous version; never half-written
        now = digest(root / out)
        assert now is None or now == before[out], (out, log.read_text()[-3000:])
    left = [p for out in outs for p in temps(root, out)]
    if not trigger.startswith("log:"):
        assert left, "the killed run left no temporary folder: the trigger did not test a write"

    # a temp folder counts as stale once unlocked and STALE_AFTER_S old (younger ones may belong to a writer that has
    # not locked it yet): a real rerun comes later than that, a fast one here must wait for it
    time.sleep(STALE_AFTER_S + 0.5)
    out = sh(["dvc", "repro", stage], root, env)
    if stage not in stages_run(out.stdout):  # DVC checked every output out of its cache: the previous ones
        assert {o: digest(root / o) for o in outs} == before, out.stdout[-3000:]
        out = sh(["dvc", "repro", "-f", "-s", stage], root, env)  # the stage itself is what is tested here
    assert stages_run(out.stdout) == {stage}, out.stdout[-3000:]
    check_valid(stage, root)
    assert not [p for out in outs for p in temps(root, out)], "stale temporary folders were not removed"
    status = sh(["dvc", "status", stage], root, env).stdout
    assert "up to date" in status, status
    if stage in ("base", "tokenize_chunk"):  # deterministic stages: the same bytes as before the kill
        assert {o: digest(root / o) for o in outs if not o.startswith("reports/")} == \
            {o: h for o, h in before.items() if not o.startswith("reports/")}


# ------------------------------------------------------------------------------------------ a full disk


@pytest.fixture()
def small_models_disk(tmp_path):
    """A folder `models` to mount a tmpfs on, and the function that mounts one of `size` bytes (needs root /
    CAP_SYS_ADMIN; skipped otherwise). Unmounted at the end."""
    mnt = tmp_path / "work" / "models"
    mnt.mkdir(parents=True)
    mounted = []

    def mount(size: int) -> Path:
        if mounted:
            subprocess.run(["umount", str(mnt)], check=True)
            mounted.pop()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
        mounted.append(mnt)
        return mnt

    yield mount
    if mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def _pages(n: int) -> int:
    return -(-n // 4096) * 4096


@pytest.mark.parametrize("fills_during", ["convert", "quantize"])
def test_a_full_disk_while_writing_gguf_is_a_clear_error_and_the_previous_files_stay(tiny_pipeline, small_models_disk,
                                                                                      fills_during, tmp_path):
    """The gguf stage (`python pipelines/export_gguf.py`, MLflow off) in a folder whose models/ is a tmpfs that holds
    the previous models/gguf and too little room for the new files: the disk fills while llama.cpp's converter
    writes the f16 file (its own process) or while llama.cpp quantizes (C++). Exit status 1, `error: ...` naming
    the file and saying the disk is full as the last line, no traceback, the previous files byte-equal and no
    temporary folder left."""
    src = tiny_pipeline["path"]
    work = tmp_path / "work"
    shutil.copy2(src / "params.yaml", work / "params.yaml")
    shutil.copytree(src / "pipelines", work / "pipelines")
    (work / "data").mkdir()
    (work / "data/tokens").symlink_to(src / "data/tokens")
    previous = {p.name: p.stat().st_size for p in (src / "models/gguf").iterdir()}
    f16, q8 = previous["model-f16.gguf"], previous["model-q8_0.gguf"]
    room = {"convert": f16 // 2, "quantize": _pages(f16) + q8 // 2}[fills_during]
    models = small_models_disk(sum(_pages(s) for s in previous.values()) + room)
    (models / "sft").symlink_to(src / "models/sft")
    shutil.copytree(src / "models/gguf", models / "gguf")
    before = digest(models / "gguf")
    assert before == digest(src / "models/gguf")

    env = {**tiny_pipeline["env"], "LANGCPT_MLFLOW": "0"}
    proc = subprocess.run([sys.executable, "pipelines/export_gguf.py"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    err = proc.stderr.strip()
    assert proc.returncode == 1, (proc.returncode, proc.stdout[-2000:], err[-4000:])
    assert "Traceback" not in err, err[-4000:]
    last = err.splitlines()[-1]
    name = "model-f16.gguf" if fills_during == "convert" else "model-q8_0.gguf"
    assert last.startswith("error: ") and f"models/gguf/{name}" in last and "no space left on device" in last, last
    assert digest(models / "gguf") == before
    assert sorted(p.name for p in models.iterdir()) == ["gguf", "sft"]  # no temporary folder left
    assert not (work / "reports/gguf.json").exists()
