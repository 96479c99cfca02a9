"""Vocabulary extension (tokenize.vocab_extension, langcpt.vocab): tokens per German word, and CPT with/without it.

Part 1 (always; CPU, seconds): for each --new-tokens N, the extension learnt on the training side of the German corpus
(data/clean/target.jsonl split as tokenize_chunk splits it: tokenize.validation_fraction / seed of params.yaml) and
measured on the held-out side: tokens per word before/after, characters per token, and how general English
(data/clean/general.jsonl) changes (documents tokenized differently, token count).

Part 2 (--train): continued pretraining of the base model with the base tokenizer and with the extension (the first
N of --new-tokens), side by side in one run, from the same base and pretrain params of params.yaml (LoRA + trained
embeddings; the new rows start as the mean of their base pieces). Same compute is taken as the same *training text*:
both runs train one pass over exactly the same German training documents, the first --steps x --batch-size x
--block-size tokens of the base tokenizer's stream (their UTF-8 bytes are the budget), and the extended run takes as
many of its own blocks as cover the same bytes. Why bytes, not tokens: the extension's point is to fit more text into
a token, so at equal tokens it would also see ~13% more training text; at equal text the comparison isolates what the
vocabulary does with the same data, and its lower cost shows up as fewer steps and higher characters per second.
Both trained models (and the base) are then scored like the evaluate stage on the same held-out text: German and
general-English bits per byte (langcpt.evaluation.score_texts: each model re-encodes the same text with its own
tokenizer). Throughput: training characters per second (and tokens per second) of each run's steady steps.

    python benchmarks/vocab_extension.py                                    # part 1, default --new-tokens
    python benchmarks/vocab_extension.py --train --device cuda --steps 300 --batch-size 16 --new-tokens 1000
    python benchmarks/vocab_extension.py --train --device cpu --steps 2 --batch-size 2 --block-size 64 \
        --eval-docs 8 --new-tokens 1000 --out /tmp/vocab.json               # a smoke run

Writes --out (default benchmarks/results/vocab_extension.json): the command, the load average, peak RSS, the results.
"""
import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("LANGCPT_MLFLOW", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def read_texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def fertility(base, args, train, held_out, general) -> tuple[dict, dict]:
    from langcpt import vocab

    before = vocab.tokens_per_word(base, held_out)
    rows, tokenizers = {"base": before}, {}
    for n in args.new_tokens:
        t0 = time.perf_counter()
        ext, report = vocab.extend_tokenizer(base, train, n, args.train_vocab_size)
        after = vocab.tokens_per_word(ext, held_out)
        rows[str(n)] = {**after, "tokens_per_word_change": round(after["tokens_per_word"] / before["tokens_per_word"] - 1, 5),
                        "learn_seconds": round(time.perf_counter() - t0, 1), "extension": report,
                        "general_english": vocab.english_drift(base, ext, general)}
        tokenizers[n] = ext
        print(f"new_tokens {n}: German tokens/word {before['tokens_per_word']} -> {after['tokens_per_word']} "
              f"({rows[str(n)]['tokens_per_word_change']:+.2%}); English {rows[str(n)]['general_english']}", flush=True)
    return rows, tokenizers


def train_blocks(tokenizer, texts, block_size, sep, budget_bytes=None, max_blocks=None):
    """Blocks of `texts` packed in order, up to `max_blocks` or until they hold `budget_bytes` bytes of text."""
    import numpy as np

    from langcpt.evaluation import token_text_sizes
    from langcpt.packing import BlockPacker, batched

    from transformers import PreTrainedTokenizerFast

    nbytes, nchars = token_text_sizes(PreTrainedTokenizerFast(tokenizer_object=tokenizer))
    packer, out, total, chars = BlockPacker(tokenizer, block_size, sep), [], 0, 0
    for batch in batched(texts, 200):
        for block in packer.add(batch):
            out.append(block)
            total += int(nbytes[block.astype(np.int64)].sum())
            chars += int(nchars[block.astype(np.int64)].sum())
            if (max_blocks is not None and len(out) >= max_blocks) or (budget_bytes is not None and total >= budget_bytes):
                return np.stack(out), total, chars
    raise SystemExit(f"not enough training text for {max_blocks} blocks / {budget_bytes} bytes")


def train_and_score(name, args, cfg, base_dir, tok_dir, blocks, work, held_out_texts, sep_token):
    import numpy as np

    from langcpt.cpt import continued_pretraining

    run = work / name
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    np.save(run / "train.npy", blocks)
    np.save(run / "val.npy", blocks[: cfg["eval_blocks"]])  # the in-training eval is not the measurement
    steps = max(1, round(len(blocks) / args.batch_size))
    from langcpt.training import choose_backend

    metrics = continued_pretraining({**cfg, "max_steps": steps}, choose_backend(args.backend), base_dir, run / "train.npy",
                                    run / "val.npy", out_dir=run / "model", checkpoint_dir=run / "ckpt",
                                    curves_dir=run / "curves", tokenizer_dir=tok_dir)
    return metrics, score_model(run / "model", held_out_texts, sep_token, args)


def score_model(model_dir, texts: dict, sep_token, args) -> dict:
    import torch

    from langcpt.evaluation import load_model, score_texts, token_text_sizes

    model, tok = load_model(Path(model_dir))
    sizes = token_text_sizes(tok)
    out = {}
    for key, t in texts.items():
        r = score_texts(model, tok, t, sep_token, args.eval_batch_size, sizes)
        out.update({f"{key}_bpb": r["bits_per_byte"], f"{key}_bytes": r["bytes"], f"{key}_tokens": r["tokens"]})
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="models/base", help="base model folder (HF checkpoint + tokenizer)")
    ap.add_argument("--data", default="data/clean", help="folder with target.jsonl and general.jsonl")
    ap.add_argument("--new-tokens", default="500,1000,2000,4000", help="comma-separated N; --train uses the first")
    ap.add_argument("--train-vocab-size", type=int, default=16000)
    ap.add_argument("--train", action="store_true", help="also run CPT with and without the extension")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--backend", default="hf", choices=("hf", "unsloth", "auto"))
    ap.add_argument("--steps", type=int, default=300, help="optimizer steps of the base-tokenizer run")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--block-size", type=int, default=256)
    ap.add_argument("--eval-docs", type=int, default=400, help="held-out documents per set for bits per byte")
    ap.add_argument("--eval-chars", type=int, default=4000, help="characters kept of each held-out document")
    ap.add_argument("--eval-batch-size", type=int, default=8)
    ap.add_argument("--work", default="/tmp/vocab_extension")
    ap.add_argument("--out", default="benchmarks/results/vocab_extension.json")
    args = ap.parse_args()
    args.new_tokens = [int(n) for n in args.new_tokens.split(",")]
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch is imported
    os.environ.setdefault("LANGCPT_BACKEND", args.backend)

    from langcpt.packing import is_validation, load_tokenizer
    from langcpt.params import load_params, section

    params = load_params(validate=False)
    tcfg = section(params, "tokenize")
    base_dir, data = Path(args.base), Path(args.data)
    target = read_texts(data / "target.jsonl")
    general = read_texts(data / "general.jsonl")
    train = [t for t in target if not is_validation(t, tcfg["validation_fraction"], tcfg["seed"])]
    held_out = [t for t in target if is_validation(t, tcfg["validation_fraction"], tcfg["seed"])]
    general_held_out = [t for t in general if is_validation(t, tcfg.get("replay", {}).get("holdout_fraction", 0.5),
                                                            tcfg["seed"])]
    base, _ = load_tokenizer(base_dir)
    t0 = time.time()
    fert, tokenizers = fertility(base, args, train, held_out, general)
    result = {"command": " ".join([Path(sys.executable).name] + sys.argv), "load_average": os.getloadavg(),
              "corpus": {"target_train_documents": len(train), "target_held_out_documents": len(held_out),
                         "general_documents": len(general)},
              "tokens_per_german_word": fert}
    if args.train:
        import torch

        from langcpt import vocab

        if args.device == "cuda" and not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device")
        n = args.new_tokens[0]
        work = Path(args.work)
        tok_dir = work / f"tokenizer_{n}"
        vocab.save_tokenizer_dir(base_dir, tok_dir, tokenizers[n])
        sep_token = tcfg.get("separator_token") or "<|endoftext|>"
        sep = base.token_to_id(sep_token)
        base_blocks, budget, base_chars = train_blocks(base, train, args.block_size, sep,
                                                       max_blocks=args.steps * args.batch_size)
        ext_blocks, ext_bytes, ext_chars = train_blocks(tokenizers[n], train, args.block_size, sep, budget_bytes=budget)
        held = {"target": [t[: args.eval_chars] for t in held_out[: args.eval_docs]],
                "general": [t[: args.eval_chars] for t in general_held_out[: args.eval_docs]]}
        cfg = {**section(params, "pretrain"), "batch_size": args.batch_size, "eval_steps": 10 ** 9, "eval_blocks": 2,
               "save_steps": 10 ** 9, "logging_steps": 10, "train_embeddings": True}
        rows = {"base_model": score_model(base_dir, held, sep_token, args)}
        print("base model", rows["base_model"], flush=True)
        for name, blocks, nbytes, chars, tdir in (("base_tokenizer", base_blocks, budget, base_chars, None),
                                                 (f"extended_{n}", ext_blocks, ext_bytes, ext_chars, tok_dir)):
            metrics, scores = train_and_score(name, args, cfg, base_dir, tdir, blocks, work, held, sep_token)
            secs = metrics["train_seconds"]
            median = metrics.get("step_seconds_median")
            tokens_per_step = args.batch_size * args.block_size
            rows[name] = {**scores, "steps": metrics["steps"], "train_blocks": len(blocks),
                          "train_tokens": int(blocks.size), "train_bytes": nbytes, "train_characters": chars,
                          "train_seconds": secs, "characters_per_second": round(chars / max(secs, 1e-9), 1),
                          "steady_tokens_per_second": metrics.get("steady_tokens_per_second"),
                          "steady_characters_per_second": round(tokens_per_step * chars / blocks.size / median, 1)
                          if median else None,
                          "target_bpb_change_vs_base_model": round(scores["target_bpb"] / rows["base_model"]["target_bpb"] - 1, 5),
                          "general_bpb_change_vs_base_model": round(scores["general_bpb"] / rows["base_model"]["general_bpb"] - 1, 5)}
            print(name, rows[name], flush=True)
        b, e = rows["base_tokenizer"], rows[f"extended_{n}"]
        rows["extended_vs_base_tokenizer"] = {
            "target_bpb_ratio": round(e["target_bpb"] / b["target_bpb"], 5),
            "general_bpb_ratio": round(e["general_bpb"] / b["general_bpb"], 5),
            "train_tokens_ratio": round(e["train_tokens"] / b["train_tokens"], 5),
            "train_seconds_ratio": round(e["train_seconds"] / max(b["train_seconds"], 1e-9), 5),
            "characters_per_second_ratio": round(e["characters_per_second"] / max(b["characters_per_second"], 1e-9), 5),
            "steady_characters_per_second_ratio": round(e["steady_characters_per_second"] / b["steady_characters_per_second"], 5)
            if e["steady_characters_per_second"] and b["steady_characters_per_second"] else None}
        result["cpt"] = {"new_tokens": n, "device": args.device, "backend": args.backend, "steps": args.steps,
                         "batch_size": args.batch_size, "block_size": args.block_size,
                         "same_compute": "same training text: the UTF-8 bytes of the base run's blocks",
                         "eval": {"documents": args.eval_docs, "chars_per_document": args.eval_chars},
                         "pretrain": cfg, "results": rows}
        print("extended vs base tokenizer:", rows["extended_vs_base_tokenizer"], flush=True)
    result["seconds"] = round(time.time() - t0, 1)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
