"""Split documents into train/validation by document, tokenize them, and pack them into fixed-length blocks.

The split is decided per document from a hash of its text, so a document never lands on both sides and adding
documents to the corpus does not move existing ones across the split. Blocks are `block_size` token ids with
the separator token (EOS) between documents; the tail that does not fill a block is dropped.
Blocks are stored as a 2-D numpy array (`.npy`, memory-mappable), the smallest unsigned dtype that fits the vocab.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import xxhash

from .fileio import InputError, atomic_path


def is_validation(text: str, validation_fraction: float, seed: int = 0) -> bool:
    """Stable per-document assignment: the same text always goes to the same side."""
    return xxhash.xxh64_intdigest(text.encode("utf-8"), seed=seed) % 1_000_000 < validation_fraction * 1_000_000


def split_documents(texts: Iterable[str], validation_fraction: float, seed: int = 0) -> tuple[list[str], list[str]]:
    if not 0.0 < validation_fraction < 1.0:
        raise InputError(f"tokenize.validation_fraction: expected a number in (0, 1), got {validation_fraction!r}")
    train, val = [], []
    for t in texts:
        (val if is_validation(t, validation_fraction, seed) else train).append(t)
    return train, val


def token_dtype(vocab_size: int):
    return np.uint16 if vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32


def tokenize_and_pack(texts: list[str], tokenizer, block_size: int, separator_id: int,
                      max_blocks: int | None = None, batch_size: int = 1000) -> np.ndarray:
    """Tokenize `texts` with the fast tokenizer's batch encoder and pack them into [n_blocks, block_size]."""
    if block_size < 2:
        raise InputError(f"tokenize.block_size: expected an integer >= 2, got {block_size!r}")
    dtype = token_dtype(len(tokenizer))
    blocks: list[np.ndarray] = []
    carry = np.empty(0, dtype=np.int64)
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(texts[start:start + batch_size], add_special_tokens=False)["input_ids"]
        pieces = [carry]
        for ids in enc:
            pieces.append(np.asarray(ids, dtype=np.int64))
            pieces.append(np.asarray([separator_id], dtype=np.int64))
        stream = np.concatenate(pieces)
        n_full = len(stream) // block_size
        if n_full:
            blocks.append(stream[: n_full * block_size].reshape(n_full, block_size).astype(dtype))
        carry = stream[n_full * block_size:]
        if max_blocks is not None and sum(len(b) for b in blocks) >= max_blocks:
            break
    out = np.concatenate(blocks) if blocks else np.empty((0, block_size), dtype=dtype)
    return out[:max_blocks] if max_blocks is not None else out


def save_blocks(path: Path, blocks: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, blocks)


def load_blocks(path: Path) -> np.ndarray:
    return np.load(path, mmap_mode="r")
