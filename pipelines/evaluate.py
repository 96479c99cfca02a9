"""Stage `evaluate`: before/after table for base, pretrained (CPT) and SFT models.

Perplexity on the held-out target-language blocks and on the general-English blocks (forgetting), sample
generations for the prompts in params, a bar-chart CSV for `dvc plots`, metrics for `dvc exp show`.

    python pipelines/evaluate.py
"""
import csv
import gc
from pathlib import Path

from langcpt import tracking
from langcpt.evaluation import generate, load_model, perplexity
from langcpt.fileio import atomic_path, write_json
from langcpt.packing import load_blocks
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage

MODELS = {"base": "models/base", "pretrained": "models/pretrained", "sft": "models/sft"}


def main():
    params = load_params()
    cfg = section(params, "evaluate")
    target = load_blocks(Path("data/tokens/val.npy"))[: cfg["max_blocks"]]
    general = load_blocks(Path("data/tokens/general_val.npy"))[: cfg["max_blocks"]]
    results, samples = {}, []
    with tracking.stage_run(params["mlflow"]["experiment"], "evaluate", cfg), Timer() as t:
        for name, path in MODELS.items():
            model, tokenizer = load_model(Path(path))
            results[name] = {"target_perplexity": perplexity(model, target, cfg["batch_size"])["perplexity"],
                             "general_perplexity": perplexity(model, general, cfg["batch_size"])["perplexity"]}
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
        metrics = {**results,
                   "target_perplexity_change": round(p["target_perplexity"] / b["target_perplexity"] - 1, 4),
                   "forgetting_general_perplexity_change": round(p["general_perplexity"] / b["general_perplexity"] - 1, 4),
                   "sft_general_perplexity_change": round(s["general_perplexity"] / b["general_perplexity"] - 1, 4),
                   "eval_tokens_target": int(target.size), "eval_tokens_general": int(general.size)}
        tracking.log_metrics(metrics)
    metrics["wall_seconds"] = t.seconds
    write_json("reports/evaluate/metrics.json", metrics)
    with atomic_path("reports/evaluate/perplexity.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "model", "dataset", "perplexity"])
        for name, r in results.items():
            w.writerow([f"{name} / target", name, "target", r["target_perplexity"]])
            w.writerow([f"{name} / general English", name, "general_english", r["general_perplexity"]])
    write_json("reports/evaluate/samples.json", samples)
    print(f"target perplexity {b['target_perplexity']} -> {p['target_perplexity']} (CPT) -> {s['target_perplexity']} "
          f"(SFT); general English {b['general_perplexity']} -> {p['general_perplexity']}")


if __name__ == "__main__":
    run_stage(main)
