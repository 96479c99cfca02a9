"""Stage `extend_vocab`: the tokenizer of the training stages, models/tokenizer (langcpt.vocab).

`tokenize.vocab_extension.new_tokens: 0` (the default): models/tokenizer is a byte-for-byte copy of the base's
tokenizer files, nothing else is read. N > 0: a BPE trained on the target-language *training* documents (the side of
the tokenize split that is not held out) gives up to N new tokens, appended after the base ids with their merges
after the base merges; tokenize_chunk packs with it and pretrain resizes the model to it. reports/extend_vocab.json:
tokens per target-language word before/after (on the held-out documents) and how much general English changed.

    python pipelines/extend_vocab.py
"""
from pathlib import Path

from langcpt.fileio import InputError, iter_jsonl, write_json
from langcpt.packing import check_fraction, is_validation, load_tokenizer
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage
from langcpt.vocab import check_config, english_drift, extend_tokenizer, save_tokenizer_dir, tokens_per_word

BASE = Path("models/base")
OUT = Path("models/tokenizer")


def texts(path):
    for lineno, doc in iter_jsonl(path):
        if not isinstance(doc.get("text"), str):
            raise InputError(f"{path}:{lineno}: expected a JSON object with a string field 'text'")
        yield doc["text"]


def main():
    cfg = section(load_params(), "tokenize")
    ext = check_config(cfg.get("vocab_extension"))
    check_fraction(cfg["validation_fraction"])
    base, _ = load_tokenizer(BASE)
    with Timer() as t:
        if ext["new_tokens"] == 0:
            save_tokenizer_dir(BASE, OUT)
            metrics = {"new_tokens": 0, "vocab_size": base.get_vocab_size(with_added_tokens=True)}
        else:
            train, held_out = [], []
            for text in texts("data/clean/target.jsonl"):
                (held_out if is_validation(text, cfg["validation_fraction"], cfg["seed"]) else train).append(text)
            if not train:
                raise InputError("data/clean/target.jsonl: no training documents to learn new tokens from")
            extended, report = extend_tokenizer(base, train, ext["new_tokens"], ext["train_vocab_size"],
                                                ext["min_frequency"])
            before, after = tokens_per_word(base, held_out), tokens_per_word(extended, held_out)
            general = list(texts("data/clean/general.jsonl")) if Path("data/clean/general.jsonl").is_file() else []
            metrics = {**report, "requested_new_tokens": ext["new_tokens"],
                       "target_tokens_per_word_before": before["tokens_per_word"],
                       "target_tokens_per_word_after": after["tokens_per_word"],
                       "target_tokens_per_word_change": round(after["tokens_per_word"] / before["tokens_per_word"] - 1, 5),
                       "target_heldout_words": before["words"],
                       "general_english": english_drift(base, extended, general)}
            save_tokenizer_dir(BASE, OUT, extended, metrics)
    metrics["wall_seconds"] = t.seconds
    write_json("reports/extend_vocab.json", metrics)
    print({k: v for k, v in metrics.items() if k not in ("first_tokens", "general_english")})


if __name__ == "__main__":
    run_stage(main)
