"""Data-parallel training: a stage script re-runs itself under torchrun when params ask for several processes.

    pretrain: {processes: 2}   ->   python pipelines/pretrain.py   runs   torchrun --standalone --nproc_per_node 2 ...

Each process trains on its share of the batches (DDP through the transformers Trainer / accelerate: NCCL on GPUs,
gloo on CPU); rank 0 alone logs to MLflow, writes curves and metrics, merges and saves the model.
Backends: `hf` (transformers + peft) runs data parallel; `auto` picks it when processes > 1. Unsloth's open-source
build trains in one process, so `backend: unsloth` with processes > 1 is refused.
"""
from __future__ import annotations

import os
import subprocess
import sys

from .fileio import InputError


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return rank() == 0


def check_processes(section: str, cfg: dict) -> int:
    n = cfg.get("processes", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(f"params.yaml: {section}.processes: expected an integer >= 1, got {n!r}")
    if n > 1 and cfg.get("backend") == "unsloth":
        raise InputError(f"params.yaml: {section}.backend unsloth trains in one process; with {section}.processes "
                         f"{n} use backend auto or hf (data parallel through torchrun)")
    return n


def relaunch(section: str, cfg: dict, script: str) -> None:
    """Under torchrun already, or one process asked for: return. Otherwise run `script` under torchrun with
    `processes` workers and exit with its status (this process only waits; the workers do the stage's work)."""
    n = check_processes(section, cfg)
    if "LOCAL_RANK" in os.environ:  # a torchrun worker
        if not is_main():
            os.environ["LANGCPT_MLFLOW"] = "0"  # rank 0 alone tracks the run
        return
    if n == 1:
        # one process sees one GPU: on a machine with several, the Trainer would otherwise wrap the model in
        # torch.nn.DataParallel (slow, and each step would hold n_gpu x batch_size blocks)
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "0")
        return
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", script]
    print(f"{section}: {n} processes: {' '.join(cmd[1:])}", flush=True)
    sys.exit(subprocess.call(cmd))
