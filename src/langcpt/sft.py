"""Supervised fine-tuning on conversations, from the continued-pretraining checkpoint, with a new LoRA adapter.

Conversations are rendered with the model's own chat template. Loss is on assistant tokens only: each assistant
turn's character span is found by rendering the conversation prefix with and without that turn, and the tokens
whose offsets fall inside a span are the only ones with labels (everything else is -100).
"""
from __future__ import annotations

from pathlib import Path

import torch

from .training import load_lora_model  # first: imports Unsloth before transformers when it will be used
from .conversations import load_conversations, split_conversations  # noqa: I001
from .fileio import InputError
from .trainer_setup import determinism, file_stamp, train_and_merge

IGNORE = -100


def assistant_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its assistant turns (end-of-turn token included)."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prefix = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not (text.startswith(upto) and upto.startswith(prefix)):
            raise InputError("sft: the chat template does not render conversations prefix by prefix; "
                             "cannot locate assistant turns for assistant-only loss")
        spans.append((len(prefix), len(upto)))
    return text, spans


def encode_conversation(tokenizer, messages: list[dict], max_length: int) -> dict | None:
    """input_ids/labels for one conversation; None when truncation leaves no assistant token to learn."""
    text, spans = assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=True,
                    max_length=max_length)
    labels = [tid if any(s <= start < e for s, e in spans) else IGNORE
              for tid, (start, _end) in zip(enc["input_ids"], enc["offset_mapping"])]
    if all(label == IGNORE for label in labels):
        return None
    return {"input_ids": enc["input_ids"], "labels": labels}


class PadCollator:
    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            labels[i, :n] = torch.tensor(r["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def encode_all(tokenizer, convs: list[dict], max_length: int) -> tuple[list[dict], int]:
    rows, dropped = [], 0
    for c in convs:
        row = encode_conversation(tokenizer, c["messages"], max_length)
        if row is None:
            dropped += 1
        else:
            rows.append(row)
    return rows, dropped


def supervised_finetuning(cfg: dict, backend: str, model_dir: Path, data_path: Path, out_dir: Path,
                          checkpoint_dir: Path, curves_dir: Path) -> dict:
    convs = load_conversations(data_path)
    train_convs, holdout_convs = split_conversations(convs, cfg["holdout_fraction"], cfg["seed"])
    settings = determinism(cfg)
    model, tokenizer = load_lora_model(model_dir, cfg["lora"], backend, cfg["max_length"], train_embeddings=False,
                                       seed=cfg["seed"])
    if not tokenizer.chat_template:
        raise InputError(f"sft: the tokenizer in {model_dir} has no chat template")
    train_rows, dropped_train = encode_all(tokenizer, train_convs, cfg["max_length"])
    holdout_rows, dropped_holdout = encode_all(tokenizer, holdout_convs, cfg["max_length"])
    if not train_rows:
        raise InputError(f"{data_path}: no conversation has an assistant turn within sft.max_length={cfg['max_length']}")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    fingerprint = {"cfg": cfg, "backend": backend, "inputs": [file_stamp(p) for p in (model_dir, data_path)]}
    metrics = train_and_merge(model, tokenizer, cfg, train_rows, holdout_rows or None, PadCollator(pad_id),
                              checkpoint_dir, out_dir, curves_dir, fingerprint)
    if "eval_loss" in metrics:
        metrics["heldout_loss"] = metrics.pop("eval_loss")
        metrics["heldout_perplexity"] = metrics.pop("eval_perplexity")
    metrics.update({"train_conversations": len(train_rows), "heldout_conversations": len(holdout_rows),
                    "dropped_too_long": dropped_train + dropped_holdout,
                    "assistant_tokens": sum(sum(1 for x in r["labels"] if x != IGNORE) for r in train_rows),
                    "backend": backend, **settings})
    return metrics
