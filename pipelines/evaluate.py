"""Stage `evaluate`: before/after table for base, pretrained (CPT) and SFT models, and the evaluation gates.

Perplexity and bits per byte/character (tokenizer-fair: see langcpt.evaluation) on the held-out target-language
blocks and on the general-English blocks (forgetting), sample generations for the prompts in params, CSVs for
`dvc plots`, metrics for `dvc exp show`. Gates (`evaluate.gates`): the target-language bits per byte must improve
and general English must not worsen beyond a threshold, for every gated model against the base model. The
verdict is `gates.passed` in reports/evaluate/metrics.json (the gguf stage moves the MLflow alias only when it is
true); every report is written first, then a failed gate exits with status 1 and the reason.

    python pipelines/evaluate.py
"""
import csv
import gc
from pathlib import Path

from langcpt import tracking
from langcpt.evaluation import (apply_gates, block_texts, check_gate_params, generate, load_model, score, score_texts,
                                token_text_sizes)
from langcpt.fileio import InputError, atomic_path, write_json
from langcpt.packing import load_blocks
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage

MODELS = {"base": "models/base", "pretrained": "models/pretrained", "sft": "models/sft"}
DATASETS = {"target": "target", "general": "general_english"}
# The tokenizer of the held-out blocks (stage extend_vocab; absent outside DVC: the base's)
BLOCKS_TOKENIZER = Path("models/tokenizer")


def write_csv(path, header, rows):
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def main():
    params = load_params()
    cfg = section(params, "evaluate")
    gate_cfg = check_gate_params(cfg.get("gates"))  # bad gate params fail before minutes of scoring
    target = load_blocks(Path("data/tokens/val.npy"))[: cfg["max_blocks"]]
    general = load_blocks(Path("data/tokens/general_val.npy"))[: cfg["max_blocks"]]
    results, samples, sizes = {}, [], {}
    from transformers import AutoTokenizer

    from langcpt.vocab import same_tokenizer

    blocks_tok = AutoTokenizer.from_pretrained(BLOCKS_TOKENIZER if BLOCKS_TOKENIZER.is_dir() else MODELS["base"])
    # A model whose vocabulary is not the blocks' (vocabulary extension: the base model) cannot score their ids:
    # then every model scores the blocks' text, re-encoded with its own tokenizer (the same bytes for all).
    as_text = not all(same_tokenizer(AutoTokenizer.from_pretrained(p), blocks_tok) for p in MODELS.values())
    if as_text:
        separator = params.get("tokenize", {}).get("separator_token") or blocks_tok.eos_token
        texts = {"target": block_texts(blocks_tok, target), "general": block_texts(blocks_tok, general)}
    with tracking.stage_run(params["mlflow"]["experiment"], "evaluate", cfg), Timer() as t:
        for name, path in MODELS.items():
            model, tokenizer = load_model(Path(path))
            text_sizes = token_text_sizes(tokenizer)  # this model's own tokenizer (fair across vocabularies)
            results[name] = {}
            for key, blocks in (("target", target), ("general", general)):
                r = score_texts(model, tokenizer, texts[key], separator, cfg["batch_size"], text_sizes) if as_text \
                    else score(model, tokenizer, blocks, cfg["batch_size"], text_sizes)
                results[name].update({f"{key}_perplexity": r["perplexity"], f"{key}_bpb": r["bits_per_byte"],
                                      f"{key}_bpc": r["bits_per_character"]})
                sizes[key] = {"bytes": r["bytes"], "characters": r["characters"]}
            for prompt in cfg["prompts"]:
                samples.append({"model": name, "kind": "text", "prompt": prompt,
                                "output": generate(model, tokenizer, prompt, cfg["max_new_tokens"], chat=False)})
            if name != "pretrained":
                for prompt in cfg["chat_prompts"]:
                    samples.append({"model": name, "kind": "chat", "prompt": prompt, "output": generate(
                        model, tokenizer, prompt, cfg["max_new_tokens"], chat=True,
                        system_prompt=cfg["system_prompt"])})
            print(f"{name}: {results[name]}", flush=True)
            del model
            gc.collect()
        b, p, s = results["base"], results["pretrained"], results["sft"]
        target_name = f"target-language ({params.get('clean', {}).get('language', 'target')})"
        gates, failures = apply_gates(results, gate_cfg, target_name)
        metrics = {**results,
                   "target_perplexity_change": round(p["target_perplexity"] / b["target_perplexity"] - 1, 4),
                   "forgetting_general_perplexity_change": round(p["general_perplexity"] / b["general_perplexity"] - 1, 4),
                   "sft_general_perplexity_change": round(s["general_perplexity"] / b["general_perplexity"] - 1, 4),
                   "target_bpb_change": round(p["target_bpb"] / b["target_bpb"] - 1, 4),
                   "forgetting_general_bpb_change": round(p["general_bpb"] / b["general_bpb"] - 1, 4),
                   "sft_target_bpb_change": round(s["target_bpb"] / b["target_bpb"] - 1, 4),
                   "sft_general_bpb_change": round(s["general_bpb"] / b["general_bpb"] - 1, 4),
                   "eval_tokens_target": int(target.size), "eval_tokens_general": int(general.size),
                   # bytes/characters of the base tokenizer's view (the same text for every model sharing it)
                   "eval_bytes_target": sizes["target"]["bytes"], "eval_bytes_general": sizes["general"]["bytes"],
                   "scored_as_text": as_text, "gates": gates}
        tracking.log_metrics({k: v for k, v in metrics.items() if k != "gates"})
        tracking.log_metrics({"gates_passed": int(gates["passed"])})
    metrics["wall_seconds"] = t.seconds
    write_csv("reports/evaluate/perplexity.csv", ["label", "model", "dataset", "perplexity"],
              [[f"{name} / {'target' if key == 'target' else 'general English'}", name, ds, r[f"{key}_perplexity"]]
               for name, r in results.items() for key, ds in DATASETS.items()])
    write_csv("reports/evaluate/bits_per_byte.csv",
              ["label", "model", "dataset", "bits_per_byte", "bits_per_character"],
              [[f"{name} / {'target' if key == 'target' else 'general English'}", name, ds, r[f"{key}_bpb"],
                r[f"{key}_bpc"]] for name, r in results.items() for key, ds in DATASETS.items()])
    write_json("reports/evaluate/samples.json", samples)
    write_json("reports/evaluate/metrics.json", metrics)  # written on a failed gate too: the reason stays visible
    print(f"target perplexity {b['target_perplexity']} -> {p['target_perplexity']} (CPT) -> {s['target_perplexity']} "
          f"(SFT); general English {b['general_perplexity']} -> {p['general_perplexity']}")
    print(f"target bits per byte {b['target_bpb']} -> {p['target_bpb']} (CPT) -> {s['target_bpb']} (SFT); "
          f"general English {b['general_bpb']} -> {p['general_bpb']} -> {s['general_bpb']}")
    if failures:
        raise InputError("evaluate gate: " + "; ".join(failures))
    print("evaluate gates: " + ("passed" if gates["enabled"] else "off (evaluate.gates.enabled: false)"))


if __name__ == "__main__":
    run_stage(main)
