"""Stage `tokenize_chunk`: split by document, tokenize with the base tokenizer, pack into fixed-length blocks.

Writes data/tokens/train.npy and val.npy (target language) and general_val.npy (general English, for the
forgetting check), each an [n_blocks, block_size] array with the separator token between documents.

    python pipelines/tokenize_chunk.py
"""
from pathlib import Path

from langcpt.fileio import InputError, read_jsonl, write_json  # langcpt first: it sets the offline defaults
from langcpt.packing import save_blocks, split_documents, tokenize_and_pack
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage
from transformers import AutoTokenizer  # noqa: E402,I001


def main():
    cfg = section(load_params(), "tokenize")
    tokenizer = AutoTokenizer.from_pretrained("models/base")
    sep_token = cfg["separator_token"] or tokenizer.eos_token
    sep_id = tokenizer.convert_tokens_to_ids(sep_token)
    if sep_id is None or sep_id == tokenizer.unk_token_id and sep_token != tokenizer.unk_token:
        raise InputError(f"tokenize.separator_token: {sep_token!r} is not a token of the base tokenizer")
    with Timer() as t:
        texts = [d["text"] for d in read_jsonl("data/clean/target.jsonl")]
        train, val = split_documents(texts, cfg["validation_fraction"], cfg["seed"])
        general = [d["text"] for d in read_jsonl("data/clean/general.jsonl")]
        bs = cfg["block_size"]
        arrays = {"train": tokenize_and_pack(train, tokenizer, bs, sep_id, cfg["max_train_blocks"]),
                  "val": tokenize_and_pack(val, tokenizer, bs, sep_id, cfg["max_val_blocks"]),
                  "general_val": tokenize_and_pack(general, tokenizer, bs, sep_id, cfg["max_val_blocks"])}
        for name, arr in arrays.items():
            if len(arr) == 0:
                raise InputError(f"tokenize: no full {bs}-token block for `{name}`; add text or lower block_size")
            save_blocks(Path(f"data/tokens/{name}.npy"), arr)
    metrics = {"train_documents": len(train), "val_documents": len(val), "general_documents": len(general),
               "block_size": bs, "separator_token": sep_token,
               **{f"{k}_blocks": len(v) for k, v in arrays.items()},
               **{f"{k}_tokens": int(v.size) for k, v in arrays.items()},
               "wall_seconds": t.seconds}
    write_json("reports/tokenize.json", metrics)
    print({k: metrics[k] for k in ("train_tokens", "val_tokens", "general_val_tokens")})


if __name__ == "__main__":
    run_stage(main)
