"""What continued pretraining and SFT share: TrainingArguments from params, checkpoint resume, the run itself."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import torch

from . import tracking
from .training import (CurveWriter, EmbeddingLRTrainer, StepTimer, make_deterministic,  # before transformers
                       merge_and_save, train_dtype, trainable_parameters)
from transformers import TrainingArguments  # noqa: E402,I001 - after .training (which imports Unsloth first)


def training_arguments(cfg: dict, output_dir: Path, do_eval: bool) -> TrainingArguments:
    bf16 = train_dtype() == torch.bfloat16
    return TrainingArguments(
        output_dir=str(output_dir),
        max_steps=cfg["max_steps"],
        num_train_epochs=cfg["epochs"],
        per_device_train_batch_size=cfg["batch_size"],
        per_device_eval_batch_size=cfg["batch_size"],
        gradient_accumulation_steps=cfg["gradient_accumulation_steps"],
        learning_rate=cfg["learning_rate"],
        warmup_steps=cfg["warmup_ratio"],
        lr_scheduler_type=cfg["lr_scheduler"],
        weight_decay=cfg["weight_decay"],
        logging_steps=cfg["logging_steps"],
        logging_first_step=True,
        logging_nan_inf_filter=False,  # True costs a GPU->CPU sync every step; a NaN loss still shows in the log
        eval_strategy="steps" if do_eval else "no",
        eval_steps=cfg["eval_steps"],
        eval_on_start=do_eval,
        save_strategy="steps",
        save_steps=cfg["save_steps"],
        save_total_limit=2,
        seed=cfg["seed"],
        bf16=bf16,
        report_to=["mlflow"] if tracking.enabled() else [],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        optim="adamw_torch_fused" if torch.cuda.is_available() else "adamw_torch",
        ddp_find_unused_parameters=False,
        use_cpu=not torch.cuda.is_available(),  # on CPU, torchrun workers then train data parallel over gloo
    )


def determinism(cfg: dict) -> dict:
    """The stage's seed, thread count and deterministic algorithms (params `seed`, `threads`, `deterministic`), set
    before the model is loaded; returns what goes into the metrics. `threads` is the stage's total: data-parallel
    workers (`processes`) share it (torchrun alone would give each one thread)."""
    threads = cfg.get("threads")
    if threads is not None:
        threads = max(1, threads // int(os.environ.get("WORLD_SIZE", "1")))
    return make_deterministic(cfg["seed"], threads, cfg.get("deterministic", True))


def file_stamp(path: Path) -> list:
    """Size and mtime of a file, or of every file in a folder: cheap identity of a stage input."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]


def checkpoint_to_resume(checkpoint_dir: Path, fingerprint: dict, main: bool = True) -> str | None:
    """The newest checkpoint of an interrupted run with the same inputs and params, else None (and a clean dir).

    A run that finishes deletes its checkpoints, so only an interrupted run is ever resumed. In data-parallel runs
    the main process decides first (and cleans); the others (`main=False`) only read its decision.
    """
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
    stamp = checkpoint_dir / "fingerprint.txt"
    if stamp.exists() and stamp.read_text().strip() == digest:
        ckpts = sorted(checkpoint_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
        complete = [c for c in ckpts if (c / "trainer_state.json").exists()]
        if complete:
            return str(complete[-1])
    if not main:
        return None
    if checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest)
    return None


def train_and_merge(model, tokenizer, cfg: dict, train_ds, eval_ds, collator, checkpoint_dir: Path,
                    out_dir: Path | None, curves_dir: Path, fingerprint: dict, embedding_learning_rate=None,
                    tokens_per_step: int | None = None) -> dict:
    """Train the peft `model`, write loss curves, merge into `out_dir` (verified; skipped when None), return metrics.

    `tokens_per_step` (when every step sees the same number of tokens) adds the steady-state throughput."""
    args = training_arguments(cfg, checkpoint_dir, do_eval=eval_ds is not None)
    curves = CurveWriter(curves_dir / "train_loss.csv", curves_dir / "eval_loss.csv")
    timer = StepTimer()
    trainer = EmbeddingLRTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                                 data_collator=collator, callbacks=[curves, timer],
                                 embedding_learning_rate=embedding_learning_rate)
    params = trainable_parameters(model)
    print(f"trainable parameters: {params['trainable_parameters']:,} of {params['total_parameters']:,} "
          f"(embeddings/head trained in full: {params['embedding_parameters']:,})", flush=True)
    with args.main_process_first(desc="checkpoint check"):  # data parallel: rank 0 decides (and cleans) first
        resume = checkpoint_to_resume(checkpoint_dir, fingerprint, main=args.process_index == 0)
    resumed_step = 0
    if resume:
        resumed_step = json.loads((Path(resume) / "trainer_state.json").read_text())["global_step"]
        print(f"resuming from {resume} (step {resumed_step})", flush=True)
    start = time.time()
    result = trainer.train(resume_from_checkpoint=resume)
    train_seconds = time.time() - start
    metrics = {"train_loss": round(result.training_loss, 5), "train_seconds": round(train_seconds, 1),
               "steps": trainer.state.global_step, "steps_this_run": trainer.state.global_step - resumed_step,
               **params, "resumed": bool(resume), "resumed_from_step": resumed_step}
    if tokens_per_step:
        metrics.update(timer.summary(tokens_per_step))
    if eval_ds is not None:
        # the held-out loss of the final weights: the periodic evaluation at the last step when there was one (the
        # same model on the same data: evaluating again would only repeat it), else one evaluation now
        last = [h for h in trainer.state.log_history if "eval_loss" in h and h.get("step") == trainer.state.global_step]
        ev = last[-1] if last else trainer.evaluate()
        metrics["eval_loss"] = round(ev["eval_loss"], 5)
        metrics["eval_perplexity"] = round(float(torch.exp(torch.tensor(ev["eval_loss"]))), 4)
    if args.process_index != 0:
        return metrics  # data parallel: rank 0 writes the curves and merges
    curves.write()
    if out_dir is None:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        return metrics
    probe = torch.as_tensor((eval_ds if eval_ds is not None else train_ds)[0]["input_ids"])[None, :64]
    # bf16 training (Unsloth: bf16 kernels) against the f32 merged reload: ~5% of the largest logit is bf16 noise
    atol = 1e-3 if train_dtype() == torch.float32 else 1e-1
    metrics.update(merge_and_save(model, tokenizer, out_dir, probe, atol=atol))
    shutil.rmtree(checkpoint_dir, ignore_errors=True)  # checkpoints exist only for runs that did not finish
    return metrics
