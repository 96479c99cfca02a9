"""Stage `tokenize_chunk`: split by document, tokenize with the base tokenizer, pack into fixed-length blocks.

Writes data/tokens/train.npy and val.npy (target language) and general_val.npy (general English, for the
forgetting check), each an [n_blocks, block_size] array with the separator token between documents.
General English is split by document (hash, `tokenize.replay.holdout_fraction`): the held-out side is
general_val; replay (`tokenize.replay.ratio` > 0) mixes blocks of the other side only into train.npy, cycling over
it when it is shorter than the share asked for, so no held-out English document is ever trained on.
Streams: data/clean/*.jsonl is read in batches of `tokenize.batch_size` documents (at most MAX_BATCH_CHARS
characters), each batch is encoded by the fast tokenizer in one call and its full blocks are appended to the .npy
files, so memory does not grow with the corpus. The tokenizer is models/tokenizer/tokenizer.json (stage extend_vocab: the
base tokenizer, or it with new target-language tokens) loaded by `tokenizers` itself (no transformers import).

    python pipelines/tokenize_chunk.py
"""
import contextlib
import itertools
from pathlib import Path

from tqdm import tqdm

from langcpt.fileio import InputError, atomic_path, iter_jsonl, write_json
from langcpt.packing import (BlockPacker, ReplayMixer, check_fraction, check_replay, is_validation, load_tokenizer,
                             open_blocks, replay_target_cap)
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage

OUTPUTS = ("train", "val", "general_val")
# A batch is also cut at this many characters: the token ids of a batch are Python ints (~36 bytes a token), so
# a batch of 1000 long man pages would otherwise set the peak memory.
MAX_BATCH_CHARS = 2_000_000


def texts(path):
    for lineno, doc in iter_jsonl(path):
        if not isinstance(doc.get("text"), str):
            raise InputError(f"{path}:{lineno}: expected a JSON object with a string field 'text'")
        yield doc["text"]


def replay_batches(cfg, batch_size, passes):
    """Batches of general documents outside the held-out split, cycling (passes[0] counts the passes begun)."""
    replay = cfg["replay"]
    while True:
        passes[0] += 1
        batch, chars, seen = [], 0, 0
        for text in texts("data/clean/general.jsonl"):
            if is_validation(text, replay["holdout_fraction"], cfg["seed"]):
                continue
            seen += 1
            batch.append(text)
            chars += len(text)
            if len(batch) == batch_size or chars >= MAX_BATCH_CHARS:
                yield batch
                batch, chars = [], 0
        if batch:
            yield batch
        if not seen:
            return


def main():
    cfg = section(load_params(), "tokenize")
    check_fraction(cfg["validation_fraction"])
    cfg["replay"] = replay = check_replay(cfg.get("replay"))
    batch_size = cfg.get("batch_size", 1000)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"tokenize.batch_size: expected an integer >= 1, got {batch_size!r}")
    # models/tokenizer: stage extend_vocab's output; a run outside DVC without it uses the base tokenizer
    tokenizer, eos = load_tokenizer("models/tokenizer" if Path("models/tokenizer").is_dir() else "models/base")
    sep_token = cfg["separator_token"] or eos
    sep_id = tokenizer.token_to_id(sep_token) if sep_token else None
    if sep_id is None:
        raise InputError(f"tokenize.separator_token: {sep_token!r} is not a token of the base tokenizer")
    bs = cfg["block_size"]
    caps = {"train": replay_target_cap(cfg["max_train_blocks"], replay["ratio"]), "val": cfg["max_val_blocks"],
            "general_val": cfg["max_val_blocks"]}
    packers = {name: BlockPacker(tokenizer, bs, sep_id, caps[name]) for name in OUTPUTS}
    passes = [0]
    mixer = ReplayMixer(BlockPacker(tokenizer, bs, sep_id), replay_batches(cfg, batch_size, passes),
                        replay["ratio"], cfg["max_train_blocks"]) if replay["ratio"] > 0 else None
    docs = dict.fromkeys(OUTPUTS, 0)
    # data/tokens is replaced as a whole (an interrupted run leaves no mix of old and new files); each file in it
    # is also atomic
    with Timer() as t, atomic_path("data/tokens", is_dir=True) as tokens, contextlib.ExitStack() as stack:
        out = {name: stack.enter_context(open_blocks(tokens / f"{name}.npy", bs, packers[name].dtype))
               for name in OUTPUTS}
        buffers = {name: [] for name in OUTPUTS}

        def flush(name):
            blocks = packers[name].add(buffers[name])
            out[name].write(mixer.mix(blocks) if mixer is not None and name == "train" else blocks)
            buffers[name] = []

        target = texts("data/clean/target.jsonl")
        side = (("val" if is_validation(x, cfg["validation_fraction"], cfg["seed"]) else "train", x) for x in target)
        general = (("general_val", x) for x in texts("data/clean/general.jsonl")
                   if is_validation(x, replay["holdout_fraction"], cfg["seed"]))  # the other side: replay only
        chars = dict.fromkeys(OUTPUTS, 0)
        # progress on a terminal (disable=None: no bar when stderr is not a TTY); streaming, so no total
        for name, text in tqdm(itertools.chain(side, general), desc="tokenize", unit="doc", disable=None):
            docs[name] += 1
            if not packers[name].full:  # past its cap a stream is only counted
                buffers[name].append(text)
                chars[name] += len(text)
                if len(buffers[name]) == batch_size or chars[name] >= MAX_BATCH_CHARS:
                    flush(name)
                    chars[name] = 0
        for name in OUTPUTS:
            flush(name)
        for name in OUTPUTS:  # still inside the ExitStack: an error here leaves no output file
            if out[name].rows == 0:
                raise InputError(f"tokenize: no full {bs}-token block for `{name}`; add text or lower block_size")
    replay_blocks = mixer.replay_blocks if mixer is not None else 0
    blocks = {"train": out["train"].rows, "val": packers["val"].blocks, "general_val": packers["general_val"].blocks}
    metrics = {"train_documents": docs["train"], "val_documents": docs["val"],
               "general_documents": docs["general_val"], "block_size": bs, "separator_token": sep_token,
               **{f"{k}_blocks": blocks[k] for k in OUTPUTS},
               **{f"{k}_tokens": blocks[k] * bs for k in OUTPUTS},
               # train = target-language blocks + replay blocks (general English outside the held-out split)
               "replay_ratio": replay["ratio"], "replay_blocks": replay_blocks, "replay_tokens": replay_blocks * bs,
               "replay_share": round(replay_blocks / max(blocks["train"], 1), 4),
               "replay_pool_passes": passes[0], "target_train_tokens": (blocks["train"] - replay_blocks) * bs,
               "wall_seconds": t.seconds}
    write_json("reports/tokenize.json", metrics)
    print({k: metrics[k] for k in ("train_tokens", "val_tokens", "general_val_tokens")})


if __name__ == "__main__":
    run_stage(main)
