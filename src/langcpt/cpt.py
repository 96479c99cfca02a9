"""Continued pretraining (causal LM on packed raw-text blocks) with LoRA + fully trained embeddings."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from .training import load_lora_model  # first: imports Unsloth before transformers when it will be used
from .fileio import InputError  # noqa: I001
from .packing import load_blocks
from .trainer_setup import determinism, file_stamp, train_and_merge
from .vocab import extended_checkpoint
from transformers import default_data_collator  # noqa: E402


class BlockDataset(torch.utils.data.Dataset):
    """Fixed-length token blocks; labels are the inputs (the model shifts them). Packed blocks have no padding, so
    no attention mask: the model takes its causal fast path (a mask of ones would be checked on every step)."""

    def __init__(self, blocks: np.ndarray, limit: int | None = None):
        self.blocks = blocks if limit is None else blocks[:limit]

    def __len__(self):
        return len(self.blocks)

    def __getitem__(self, i):
        ids = torch.from_numpy(np.asarray(self.blocks[i], dtype=np.int64))
        return {"input_ids": ids, "labels": ids.clone()}


def continued_pretraining(cfg: dict, backend: str, base_dir: Path, train_blocks: Path, val_blocks: Path,
                          out_dir: Path | None, checkpoint_dir: Path, curves_dir: Path,
                          tokenizer_dir: Path | None = None) -> dict:
    """Train, merge into `out_dir` (None: no merge, as in benchmarks/gpu_throughput.py), return metrics.

    `tokenizer_dir` (the blocks' tokenizer, stage extend_vocab) with more tokens than the base model: the model is
    first resized to it, new rows initialised from their base pieces (langcpt.vocab), and trained with the embeddings."""
    with tempfile.TemporaryDirectory(prefix="cpt-extended-") as tmp:
        load_dir = base_dir
        if tokenizer_dir is not None and extended_checkpoint(base_dir, tokenizer_dir, Path(tmp)):
            if not cfg["train_embeddings"]:
                raise InputError(f"{tokenizer_dir} extends the vocabulary of {base_dir}: the new embedding rows must "
                                 f"be trained (pretrain.train_embeddings: true)")
            load_dir = Path(tmp)
        return _train(cfg, backend, base_dir, load_dir, train_blocks, val_blocks, out_dir, checkpoint_dir, curves_dir,
                      tokenizer_dir)


def _train(cfg, backend, base_dir, load_dir, train_blocks, val_blocks, out_dir, checkpoint_dir, curves_dir,
           tokenizer_dir) -> dict:
    train = load_blocks(train_blocks)
    val = load_blocks(val_blocks)
    block_size = train.shape[1]
    settings = determinism(cfg)
    model, tokenizer = load_lora_model(load_dir, cfg["lora"], backend, block_size, cfg["train_embeddings"],
                                       seed=cfg["seed"])
    vocab = model.get_input_embeddings().weight.shape[0]
    if len(train) and int(train.max()) >= vocab:
        raise InputError(f"{train_blocks}: token id {int(train.max())} is outside the model's {vocab} embedding rows "
                         f"(the blocks come from another tokenizer than {tokenizer_dir or base_dir})")
    train_ds = BlockDataset(train)
    eval_ds = BlockDataset(val, limit=cfg["eval_blocks"]) if len(val) else None
    inputs = (base_dir, train_blocks, val_blocks) + ((tokenizer_dir,) if tokenizer_dir is not None else ())
    fingerprint = {"cfg": cfg, "backend": backend, "inputs": [file_stamp(p) for p in inputs]}
    world = int(os.environ.get("WORLD_SIZE", "1"))
    tokens_per_step = cfg["batch_size"] * cfg["gradient_accumulation_steps"] * block_size * world
    metrics = train_and_merge(model, tokenizer, cfg, train_ds, eval_ds, default_data_collator, checkpoint_dir,
                              out_dir, curves_dir, fingerprint,
                              embedding_learning_rate=cfg["embedding_learning_rate"] if cfg["train_embeddings"] else None,
                              tokens_per_step=tokens_per_step)
    metrics["train_tokens"] = metrics["steps"] * tokens_per_step
    # over the whole run (evaluations and checkpoints included); steady_tokens_per_second leaves those out
    metrics["tokens_per_second"] = round(metrics["steps_this_run"] * tokens_per_step / max(metrics["train_seconds"], 1e-9), 1)
    metrics["processes"] = world
    metrics["backend"] = backend
    metrics["vocab_size"] = vocab
    metrics.update(settings)
    return metrics
