"""Same inputs, same model: two runs of the pretrain stage script from the same inputs (the tiny profile's token
blocks from `tiny_upstream`; run outside DVC so its run cache cannot stand in for a run) write byte-equal models and
curves, and equal metrics but for the wall-clock figures; so do two sft runs from those checkpoints. A run with
another seed writes another model (the comparison can tell). The base is a 2-layer random model with the real
vocabulary (conftest.make_tiny_model_dir), so the four trainings take seconds; the stage code is the same for the
135M model. The seed, thread count and deterministic algorithms are langcpt.training.make_deterministic."""
import hashlib
import json
import shutil
import sys
from pathlib import Path

import yaml

from conftest import make_tiny_model_dir, run, training_dir

# the metrics that measure time, not the model
TIMINGS = {"train_seconds", "wall_seconds", "tokens_per_second", "steady_tokens_per_second", "step_seconds_median"}


def md5s(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def metrics(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMINGS}


def test_two_runs_from_the_same_inputs_write_the_same_bytes(tiny_upstream, smollm2_tokenizer, tmp_path):
    env, upstream = tiny_upstream["env"], tiny_upstream["path"]
    base = make_tiny_model_dir(tmp_path / "base", smollm2_tokenizer)
    common = dict(max_steps=6, logging_steps=1, eval_steps=3, save_steps=3)
    runs = [training_dir(tiny_upstream, tmp_path / name, **common) for name in ("a", "b")]
    other = training_dir(tiny_upstream, tmp_path / "seed", **common, seed=7)
    for d in runs + [other]:
        (d / "models/base").unlink()
        (d / "models/base").symlink_to(base)
        run([sys.executable, "pipelines/pretrain.py"], d, env)
    a, b = runs
    model = md5s(a / "models/pretrained")
    assert "model.safetensors" in model and model == md5s(b / "models/pretrained")
    for curve in ("train_loss.csv", "eval_loss.csv"):  # every logged loss, not only the final model
        assert (a / "reports/pretrain" / curve).read_bytes() == (b / "reports/pretrain" / curve).read_bytes()
    ma = metrics(a / "reports/pretrain/metrics.json")
    params = yaml.safe_load((a / "params.yaml").read_text())["pretrain"]
    assert ma == metrics(b / "reports/pretrain/metrics.json")
    assert ma["threads"] == params["threads"] and ma["deterministic"] is True  # recorded with the results
    assert md5s(other / "models/pretrained")["model.safetensors"] != model["model.safetensors"]

    for d in runs:  # sft twice, each from its own (byte-equal) checkpoint
        shutil.copytree(upstream / "data/sft", d / "data/sft")
        run([sys.executable, "pipelines/sft.py"], d, env)
    sft = md5s(a / "models/sft")
    assert "model.safetensors" in sft and sft == md5s(b / "models/sft")
    assert (a / "reports/sft/train_loss.csv").read_bytes() == (b / "reports/sft/train_loss.csv").read_bytes()
    assert metrics(a / "reports/sft/metrics.json") == metrics(b / "reports/sft/metrics.json")
