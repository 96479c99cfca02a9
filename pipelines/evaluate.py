"""Stage `evaluate`: before/after table for base, pretrained (CPT) and SFT models, and the evaluation gates.

Perplexity and bits per byte/character (tokenizer-fair: see langcpt.evaluation) on the held-out target-language
blocks and on the general-English blocks (forgetting), sample generations for the prompts in params, CSVs for
`dvc plots`, metrics for `dvc exp show`. Proficiency (`evaluate.proficiency`, langcpt.proficiency,
docs/proficiency.md): translation chrF, language share, dictionary acceptance, distinct-n and repetition of what each
model writes, greedy and sampled, on the inputs of stage eval_data (data/eval); `proficiency` in the metrics, its own
CSVs and samples. Gates (`evaluate.gates`): the target-language bits per byte must improve
and general English must not worsen beyond a threshold, for every gated model against the base model. The
verdict is `gates.passed` in reports/evaluate/metrics.json (the gguf stage moves the MLflow alias only when it is
true); every report is written first, then a failed gate exits with status 1 and the reason.

    python pipelines/evaluate.py
"""
import csv
import gc
import time
from pathlib import Path

from langcpt import proficiency as prof
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
EVAL_DATA = Path("data/eval")  # stage eval_data: translation pairs, Hunspell dictionary


def write_csv(path, header, rows):
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def proficiency_inputs(pcfg: dict, params: dict, blocks_tok, separator: str):
    """({"continuations", "chat", "translation", "about"}, Speller or None, measures of the held-out text itself)."""
    language = params["clean"]["language"]
    info = prof.load_json(EVAL_DATA / "info.json")
    tr = None
    if pcfg["translation"] is not None:
        if not info.get("translation"):
            raise InputError(f"{EVAL_DATA}/info.json has no translation set but evaluate.proficiency.translation is "
                             "set: run `dvc repro eval_data`")
        tr = {**prof.load_translation_set(EVAL_DATA / "translation.json"),
              "target_name": pcfg["translation"]["target_name"]}
    speller = None
    if pcfg["dictionary"] is not None:
        speller = prof.Speller(EVAL_DATA / "dictionary" / pcfg["dictionary"]["name"])
    val = load_blocks(Path("data/tokens/val.npy"))
    prompts, human = prof.continuation_prompts(blocks_tok, val, pcfg["continuations"], pcfg["prompt_tokens"],
                                               pcfg["max_new_tokens"], separator)
    if pcfg["continuations"] and not prompts:
        raise InputError(f"evaluate.proficiency.continuations: no held-out prompt of 3 whole words in the first "
                         f"{pcfg['prompt_tokens']} tokens of a data/tokens/val.npy block: raise prompt_tokens")
    reference = {k: v for k, v in prof.set_measures("continuation", human, language, speller).items()
                 if v is not None} if human else {}
    about = {k: v for k, v in (tr or {}).items() if k not in ("shots", "pairs")}
    return {"continuations": prompts, "chat": params["evaluate"]["chat_prompts"], "translation": tr,
            "about": about or None}, speller, reference


def write_proficiency_csvs(p_flat: dict, reference: dict):
    """reports/evaluate/proficiency_translation.csv (chrF, 0-100) and proficiency_text.csv (shares, 0-1): one row
    per measure, decoding and model, for the before/after bar charts of `dvc plots`."""
    rows = {"translation": [], "text": []}
    for model, r in {**p_flat, "held-out text": {f"{k}_human": v for k, v in reference.items()}}.items():
        for key, value in r.items():
            if key.endswith("_spread"):
                continue
            measure, decoding = key.rsplit("_", 1)
            kind = "translation" if measure.endswith("chrf") else "text"
            rows[kind].append([f"{measure} ({decoding}) / {model}", model, measure, decoding, value])
    for kind, name in (("translation", "chrf"), ("text", "value")):
        write_csv(f"reports/evaluate/proficiency_{kind}.csv", ["label", "model", "measure", "decoding", name],
                  sorted(rows[kind], key=lambda row: (row[2], row[3])))


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
    separator = params.get("tokenize", {}).get("separator_token") or blocks_tok.eos_token
    if as_text:
        texts = {"target": block_texts(blocks_tok, target), "general": block_texts(blocks_tok, general)}
    pcfg = prof.config(params)
    if pcfg is not None:
        language = section(params, "clean").get("language")
        if not language:
            raise InputError("evaluate.proficiency: needs clean.language (the target language)")
        start, cpu = time.time(), time.process_time()
        p_inputs, speller, p_reference = proficiency_inputs(pcfg, params, blocks_tok, separator)
        settings = prof.decoding_settings(params.get("gguf", {}).get("modelfile"))
        p_results, p_samples = {}, []
        p_seconds, p_cpu = time.time() - start, time.process_time() - cpu  # + each model's generations below
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
            if pcfg is not None:
                start, cpu = time.time(), time.process_time()
                p_results[name], s_ = prof.evaluate_model(model, tokenizer, name, p_inputs, pcfg, settings, language,
                                                           speller, cfg["batch_size"], cfg["system_prompt"])
                p_samples += s_
                p_seconds += time.time() - start
                p_cpu += time.process_time() - cpu
                print(f"{name} proficiency (greedy): {p_results[name]['greedy']} ({time.time() - start:.0f}s)",
                      flush=True)
            print(f"{name}: {results[name]}", flush=True)
            del model
            gc.collect()
        b, p, s = results["base"], results["pretrained"], results["sft"]
        target_name = f"target-language ({params.get('clean', {}).get('language', 'target')})"
        gates, failures = apply_gates(results, gate_cfg, target_name)
        if pcfg is not None:
            p_flat = prof.flat(p_results)
            p_gates, p_failures = prof.apply_gates(p_flat, pcfg["gates"])
            gates = {**gates, "passed": gates["passed"] and p_gates["passed"], "proficiency": p_gates}
            failures += p_failures
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
        if pcfg is not None:
            metrics["proficiency"] = {**p_flat, "reference": p_reference, "translation_data": p_inputs["about"],
                                      "sample_seeds": pcfg["sample_seeds"], "decoding": settings,
                                      "seeds": {m: r["seeds"] for m, r in p_results.items()},
                                      "cpu_seconds_per_set": {m: r["cpu_seconds"] for m, r in p_results.items()},
                                      "wall_seconds": round(p_seconds, 1), "cpu_seconds": round(p_cpu, 1)}
        tracking.log_metrics({k: v for k, v in metrics.items() if k not in ("gates", "proficiency")})
        if pcfg is not None:
            tracking.log_metrics({f"prof_{k}_{m}": v for m, r in p_flat.items() for k, v in r.items()})
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
    write_proficiency_csvs(p_flat if pcfg is not None else {}, p_reference if pcfg is not None else {})
    write_json("reports/evaluate/proficiency_samples.json", p_samples if pcfg is not None else [])
    write_json("reports/evaluate/metrics.json", metrics)  # written on a failed gate too: the reason stays visible
    print(f"target perplexity {b['target_perplexity']} -> {p['target_perplexity']} (CPT) -> {s['target_perplexity']} "
          f"(SFT); general English {b['general_perplexity']} -> {p['general_perplexity']}")
    print(f"target bits per byte {b['target_bpb']} -> {p['target_bpb']} (CPT) -> {s['target_bpb']} (SFT); "
          f"general English {b['general_bpb']} -> {p['general_bpb']} -> {s['general_bpb']}")
    if pcfg is not None:
        for key in ("translation_chrf_greedy", "continuation_language_share_sampled",
                    "continuation_dictionary_sampled"):
            print(f"proficiency {key}: " + " -> ".join(f"{p_flat[m].get(key)} ({m})" for m in MODELS), flush=True)
        print(f"proficiency took {round(p_seconds, 1)} s of {t.seconds} s (CPU time {round(p_cpu, 1)} s)")
    if failures:
        raise InputError("evaluate gate: " + "; ".join(failures))
    print("evaluate gates: " + ("passed" if gates["enabled"] else "off (evaluate.gates.enabled: false)"))


if __name__ == "__main__":
    run_stage(main)
