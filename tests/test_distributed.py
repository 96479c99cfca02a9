"""Data-parallel pretraining on CPU: `pretrain.processes: 2` makes the stage script re-run itself under torchrun
(two gloo processes, the hf backend). Two processes with batch b must train exactly what one process with batch 2b
trains (accelerate hands consecutive batches of the same seeded order to the ranks, DDP averages the gradients),
so the logged losses match step by step; rank 0 alone writes the curves, the metrics and the merged model. The sft
stage then runs data parallel too, from that checkpoint."""
import csv
import json
import shutil
import sys

import pytest
import yaml

from conftest import run, training_dir
from langcpt.distributed import check_processes
from langcpt.fileio import InputError

STEPS, BATCH = 3, 2


def _losses(root):
    with open(root / "reports/pretrain/train_loss.csv") as f:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(f)}


def test_two_processes_train_what_one_process_with_twice_the_batch_trains(tiny_upstream, tmp_path):
    env = tiny_upstream["env"]
    common = dict(max_steps=STEPS, logging_steps=1, eval_steps=STEPS, save_steps=STEPS, gradient_accumulation_steps=1)
    one = training_dir(tiny_upstream, tmp_path / "one", **common, batch_size=2 * BATCH, processes=1)
    two = training_dir(tiny_upstream, tmp_path / "two", **common, batch_size=BATCH, processes=2)
    run([sys.executable, "pipelines/pretrain.py"], one, env)
    out = run([sys.executable, "pipelines/pretrain.py"], two, env)
    assert "pretrain: 2 processes" in out.stdout  # it relaunched itself under torchrun

    m1 = json.loads((one / "reports/pretrain/metrics.json").read_text())
    m2 = json.loads((two / "reports/pretrain/metrics.json").read_text())
    assert (m1["processes"], m2["processes"]) == (1, 2)
    assert m2["steps"] == STEPS and m2["train_tokens"] == m1["train_tokens"]  # 2 x batch b = 1 x batch 2b tokens
    assert m2["merge_max_logit_diff"] < 1e-3 and (two / "models/pretrained/model.safetensors").exists()
    l1, l2 = _losses(one), _losses(two)
    assert sorted(l2) == list(range(1, STEPS + 1))
    for step in l1:  # same samples per step, same init (DDP broadcasts rank 0's weights): float noise only
        assert l2[step] == pytest.approx(l1[step], rel=5e-3), (step, l1, l2)
    assert m2["eval_loss"] == pytest.approx(m1["eval_loss"], rel=5e-3)
    assert not (two / "checkpoints/pretrain").exists()  # a finished run deletes its checkpoints

    # the sft stage takes the same switch: 2 processes fine-tune the CPT checkpoint just made
    params = yaml.safe_load((two / "params.yaml").read_text())
    params["sft"].update(processes=2, max_steps=2, eval_steps=2, save_steps=2)
    (two / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    shutil.copytree(tiny_upstream["path"] / "data/sft", two / "data/sft")
    out = run([sys.executable, "pipelines/sft.py"], two, env)
    assert "sft: 2 processes" in out.stdout
    sft = json.loads((two / "reports/sft/metrics.json").read_text())
    assert sft["steps"] == 2 and sft["merge_max_logit_diff"] < 1e-3 and "heldout_loss" in sft
    assert (two / "models/sft/model.safetensors").exists()


def test_processes_param_is_checked():
    assert check_processes("pretrain", {"processes": 2, "backend": "auto"}) == 2
    with pytest.raises(InputError, match="pretrain.processes"):
        check_processes("pretrain", {"processes": 0, "backend": "auto"})
    with pytest.raises(InputError, match="unsloth trains in one process"):
        check_processes("sft", {"processes": 2, "backend": "unsloth"})
