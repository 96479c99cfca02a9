"""Split documents into train/validation by document, tokenize them, and pack them into fixed-length blocks.

The split is decided per document from a hash of its text, so a document never lands on both sides and adding
documents to the corpus does not move existing ones across the split. Blocks are `block_size` token ids with
the separator token (EOS) between documents; the tail that does not fill a block is dropped.
Blocks are stored as a 2-D numpy array (`.npy`, memory-mappable), the smallest unsigned dtype that fits the vocab.

Everything streams: `BlockPacker` takes batches of texts (one batch encode of the fast tokenizer each) and hands
back the blocks they completed, keeping only the unfinished tail; `BlockWriter` appends blocks to a `.npy` file
and writes its header when it is closed. Memory is bounded by the batch size, not by the corpus.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import xxhash

from .fileio import InputError, atomic_path

NPY_HEADER_BYTES = 128  # a version-1.0 .npy header of a 2-D array: magic + dict, padded to 128 bytes


def is_validation(text: str, validation_fraction: float, seed: int = 0) -> bool:
    """Stable per-document assignment: the same text always goes to the same side."""
    return xxhash.xxh64_intdigest(text.encode("utf-8"), seed=seed) % 1_000_000 < validation_fraction * 1_000_000


def check_fraction(validation_fraction: float) -> None:
    if not (isinstance(validation_fraction, (int, float)) and 0.0 < validation_fraction < 1.0):
        raise InputError(f"tokenize.validation_fraction: expected a number in (0, 1), got {validation_fraction!r}")


def split_documents(texts: Iterable[str], validation_fraction: float, seed: int = 0) -> tuple[list[str], list[str]]:
    check_fraction(validation_fraction)
    train, val = [], []
    for t in texts:
        (val if is_validation(t, validation_fraction, seed) else train).append(t)
    return train, val


def token_dtype(vocab_size: int):
    return np.uint16 if vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32


def load_tokenizer(model_dir: str | Path):
    """(tokenizers.Tokenizer, EOS token or None) of an HF model folder: tokenizer.json and tokenizer_config.json,
    read without importing transformers (which costs ~500 MB of RSS and seconds of start-up). Encodes exactly like
    AutoTokenizer.from_pretrained(model_dir) with add_special_tokens=False."""
    from tokenizers import Tokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "tokenizer.json").is_file():
        raise InputError(f"{model_dir}/tokenizer.json: not found (a fast tokenizer is needed; run the base stage)")
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # a tokenizer.json may carry truncation/padding (saved from a tokenizer that last ran with max_length=...);
    # transformers applies them only when a call asks for it, so a raw encode must not either
    tokenizer.no_truncation()
    tokenizer.no_padding()
    config = model_dir / "tokenizer_config.json"
    eos = json.loads(config.read_text(encoding="utf-8")).get("eos_token") if config.is_file() else None
    return tokenizer, eos.get("content") if isinstance(eos, dict) else eos


def vocab_size(tokenizer) -> int:
    return tokenizer.get_vocab_size(with_added_tokens=True) if hasattr(tokenizer, "get_vocab_size") else len(tokenizer)


def encode_batch(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids of each text, no special tokens: the Rust tokenizer's batch encode (parallel over texts when
    TOKENIZERS_PARALLELISM is on); `encode_batch_fast` skips the offsets, which packing does not need.
    `tokenizer` is a tokenizers.Tokenizer or a transformers tokenizer (its Rust backend is used when it has one)."""
    backend = tokenizer if hasattr(tokenizer, "encode_batch_fast") else getattr(tokenizer, "_tokenizer", None)
    if backend is not None and hasattr(backend, "encode_batch_fast"):
        return [e.ids for e in backend.encode_batch_fast(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


class BlockPacker:
    """Turn batches of documents into [n, block_size] blocks: ids of each document followed by the separator,
    concatenated across batches; `add` returns the blocks completed so far, the unfinished tail is carried over
    (and dropped at the end). After `max_blocks` blocks it returns nothing more and `full` is true."""

    def __init__(self, tokenizer, block_size: int, separator_id: int, max_blocks: int | None = None):
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 2:
            raise InputError(f"tokenize.block_size: expected an integer >= 2, got {block_size!r}")
        if max_blocks is not None and (isinstance(max_blocks, bool) or not isinstance(max_blocks, int)
                                       or max_blocks < 0):
            raise InputError(f"tokenize.max_*_blocks: expected a non-negative integer or null, got {max_blocks!r}")
        self.tokenizer, self.block_size, self.separator_id = tokenizer, block_size, separator_id
        self.max_blocks, self.blocks = max_blocks, 0
        self.dtype = token_dtype(vocab_size(tokenizer))
        self.carry: list[int] = []

    @property
    def full(self) -> bool:
        return self.max_blocks is not None and self.blocks >= self.max_blocks

    def add(self, texts: list[str]) -> np.ndarray:
        if self.full or not texts:
            return np.empty((0, self.block_size), dtype=self.dtype)
        stream, sep = self.carry, self.separator_id
        for ids in encode_batch(self.tokenizer, texts):
            stream += ids
            stream.append(sep)
        n = len(stream) // self.block_size
        if self.max_blocks is not None:
            n = min(n, self.max_blocks - self.blocks)
        cut = n * self.block_size
        blocks = np.array(stream[:cut], dtype=self.dtype).reshape(n, self.block_size)
        self.carry = stream[cut:]
        self.blocks += n
        if self.full:
            self.carry = []
        return blocks


def batched(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def tokenize_and_pack(texts: Iterable[str], tokenizer, block_size: int, separator_id: int,
                      max_blocks: int | None = None, batch_size: int = 1000) -> np.ndarray:
    """Tokenize `texts` with the fast tokenizer's batch encoder and pack them into [n_blocks, block_size]
    (in memory: the stage streams into a BlockWriter instead)."""
    packer = BlockPacker(tokenizer, block_size, separator_id, max_blocks)
    out = [packer.add(batch) for batch in batched(texts, batch_size) if not packer.full]
    return np.concatenate(out) if out else np.empty((0, block_size), dtype=packer.dtype)


class BlockWriter:
    """Append [n, block_size] blocks to a .npy file without holding them: the data goes after a reserved
    header, and the header (with the final row count) is written by `close`. Use `open_blocks` for atomicity."""

    def __init__(self, path: Path, block_size: int, dtype):
        self.path, self.block_size, self.dtype, self.rows = Path(path), block_size, np.dtype(dtype), 0
        self.f = open(self.path, "wb")
        self.f.write(b"\0" * NPY_HEADER_BYTES)

    def write(self, blocks: np.ndarray) -> None:
        assert blocks.ndim == 2 and blocks.shape[1] == self.block_size and blocks.dtype == self.dtype
        self.f.write(np.ascontiguousarray(blocks).tobytes())
        self.rows += len(blocks)

    def close(self) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.rows, self.block_size)}
        self.f.seek(0)
        np.lib.format.write_array_header_1_0(self.f, header)
        if self.f.tell() != NPY_HEADER_BYTES:  # cannot happen for 2-D shapes of < 10**30 rows; fail loudly
            raise RuntimeError(f"{self.path}: .npy header is {self.f.tell()} bytes, expected {NPY_HEADER_BYTES}")
        self.f.close()


@contextlib.contextmanager
def open_blocks(path: str | Path, block_size: int, dtype) -> Iterator[BlockWriter]:
    """`with open_blocks(path, block_size, dtype) as w: w.write(blocks)`: the file appears only on success."""
    with atomic_path(path) as tmp:
        writer = BlockWriter(tmp, block_size, dtype)
        try:
            yield writer
            writer.close()
        finally:
            writer.f.close()


def save_blocks(path: Path, blocks: np.ndarray) -> None:
    with open_blocks(path, blocks.shape[1], blocks.dtype) as w:
        w.write(blocks)


def load_blocks(path: Path) -> np.ndarray:
    return np.load(path, mmap_mode="r")


REPLAY_SOURCES = ("general",)


def check_replay(replay: dict | None) -> dict:
    """Validated `tokenize.replay` (absent: no replay, half of the general documents held out)."""
    replay = {"ratio": 0.0, "source": "general", "holdout_fraction": 0.5, **(replay or {})}
    ratio, holdout = replay["ratio"], replay["holdout_fraction"]
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.0 <= ratio <= 0.9:
        raise InputError(f"tokenize.replay.ratio: expected a number in [0, 0.9], got {ratio!r}")
    if replay["source"] not in REPLAY_SOURCES:
        raise InputError(f"tokenize.replay.source: expected one of {list(REPLAY_SOURCES)} "
                         f"(data/clean/general.jsonl), got {replay['source']!r}")
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0.0 < holdout < 1.0:
        raise InputError(f"tokenize.replay.holdout_fraction: expected a number in (0, 1), got {holdout!r}")
    return {"ratio": float(ratio), "source": replay["source"], "holdout_fraction": float(holdout)}


def _round(x: float) -> int:
    return int(x + 0.5 + 1e-9)  # half up, and 21.4999999 (float noise of 21.5) too


def replay_blocks_due(target_blocks: int, ratio: float) -> int:
    """Replay blocks that make `ratio` of all blocks next to `target_blocks` target blocks."""
    return _round(target_blocks * ratio / (1.0 - ratio))


def replay_target_cap(max_blocks: int | None, ratio: float) -> int | None:
    """Training blocks left to the target language when replay takes `ratio` of a cap of `max_blocks`."""
    return None if max_blocks is None else max_blocks - _round(max_blocks * ratio)


def interleave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of `a` and `b`, each in its order, with `b` spread evenly among `a`."""
    if not len(a) or not len(b):
        return a if len(a) else b
    keys = np.concatenate([(np.arange(len(a)) + 0.5) / len(a), (np.arange(len(b)) + 0.5) / len(b)])
    return np.concatenate([a, b])[np.argsort(keys, kind="stable")]


class ReplayMixer:
    """Mix replay blocks (general-domain text, against forgetting) into the training blocks.

    `mix(target_blocks)` returns them with as many replay blocks as keep replay at `ratio` of all training blocks
    so far (`replay_blocks_due` in all), spread evenly; with `max_blocks` the total stops there.
    Replay blocks come from `packer` fed with the batches of `batches` (an iterator of document lists, e.g.
    cycling over the replay pool); when it runs dry an InputError says so. Replay is mixed at block level: a block
    is either target or replay text (the trainer shuffles blocks)."""

    def __init__(self, packer: BlockPacker, batches: Iterator[list[str]], ratio: float, max_blocks: int | None = None):
        if not 0.0 <= ratio < 1.0:
            raise InputError(f"tokenize.replay.ratio: expected a number in [0, 1), got {ratio!r}")
        self.packer, self.batches, self.ratio, self.max_blocks = packer, batches, ratio, max_blocks
        self.queue = np.empty((0, packer.block_size), dtype=packer.dtype)
        self.target_blocks = self.replay_blocks = 0

    def mix(self, target_blocks: np.ndarray) -> np.ndarray:
        self.target_blocks += len(target_blocks)
        due = replay_blocks_due(self.target_blocks, self.ratio) - self.replay_blocks
        if self.max_blocks is not None:
            due = min(due, self.max_blocks - self.target_blocks - self.replay_blocks)
        while len(self.queue) < due:
            batch = next(self.batches, None)
            if batch is None:
                raise InputError("tokenize.replay: the replay source has no documents outside the general held-out "
                                 "split to replay (add general text or lower tokenize.replay.holdout_fraction)")
            self.queue = np.concatenate([self.queue, self.packer.add(batch)])
        due = max(due, 0)
        take, self.queue = self.queue[:due], self.queue[due:]
        self.replay_blocks += len(take)
        return interleave(target_blocks, take)
