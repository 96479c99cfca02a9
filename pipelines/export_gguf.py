"""Stage `gguf`: convert the SFT model to GGUF with llama.cpp, quantize, check it against HF, write an Ollama
Modelfile, register the versions in MLflow.

Gates (the stage fails with a message naming what differs, and models/gguf is left as it was):
  tokenizer parity  HF token ids == llama.cpp's on held-out text (data/tokens/val.npy decoded) and on chat-template
                    renderings (special and chat tokens), for every file;
  logit parity      argmax agreement HF (float32) vs GGUF on held-out blocks and chat texts, and the GGUF's perplexity
                    as a multiple of HF's on the same next tokens; reported for every type, gated by
                    gguf.min_argmax_agreement (f16 >= 0.99, q8_0 >= 0.98, positions that are not near-ties) and
                    gguf.max_perplexity_ratio (f16 <= 1.01, q8_0 <= 1.03);
  chat parity       the GGUF metadata carries the SFT chat template and its end-of-turn token (<|im_end|>,
                    <|eot_id|>) as EOS, llama.cpp's chat handler renders the same prompts as HF; greedy create_chat_completion on f16 starts with the HF SFT model's
                    own greedy reply; sampled chats (Modelfile sampling) through the gate file stop at it
                    (gguf.min_stopped_samples of them).
The MLflow alias (mlflow.alias) moves to the SFT and GGUF versions only when reports/evaluate/metrics.json says
gates.passed: true and reports/safety/metrics.json says safety.passed: true. The registered pyfunc chats with the
Modelfile's system prompt and, with safety.guard on, appends the crisis referral (langcpt.safety).

    python pipelines/export_gguf.py     # models/sft -> models/gguf/model-<type>.gguf + Modelfile, reports/gguf.json
"""
import json
import shutil
import subprocess
from pathlib import Path

from langcpt import tracking
from langcpt.fileio import InputError, atomic_path, write_json
from langcpt.gguf_export import (chat, chat_conversations, chat_template_parity, convert_to_gguf, decode_speed,
                                 chat_markers, heldout_blocks, hf_greedy_reply, hf_reference, load, logit_parity,
                                 modelfile_from_chat_template, quantize, tokenizer_parity)
from langcpt.params import load_params, section
from langcpt.safety import CrisisGuard
from langcpt.stage import Timer, run_stage

SFT_DIR = Path("models/sft")
VAL = Path("data/tokens/val.npy")
EVALUATE_METRICS = Path("reports/evaluate/metrics.json")
SFT_METRICS = Path("reports/sft/metrics.json")
SAFETY_METRICS = Path("reports/safety/metrics.json")
DEFAULT_MIN_AGREEMENT = {"f16": 0.99, "q8_0": 0.98}
DEFAULT_MAX_PERPLEXITY_RATIO = {"f16": 1.01, "q8_0": 1.03}


class GateError(RuntimeError):
    pass


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"{path}: not found (run the stage that writes it first)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def parity_gates(cfg: dict, files: dict[str, Path], tokenizer, model, system: str, prompts: list[str]) -> dict:
    """Run the tokenizer, logit and chat gates; per-type figures in the returned dict, failures in its "failed"."""
    blocks = heldout_blocks(VAL, cfg.get("parity_blocks", 4))
    convs = chat_conversations(system, prompts)
    chat_texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in convs]
    texts = [tokenizer.decode(b) for b in blocks] + chat_texts
    sequences = blocks + [tokenizer(t, add_special_tokens=False).input_ids for t in chat_texts]
    reference = hf_reference(model, sequences)
    failed, out = [], {"heldout_blocks": len(blocks), "chat_texts": len(chat_texts)}
    for qtype, path in files.items():
        tp = tokenizer_parity(path, tokenizer, texts)
        if tp["mismatches"]:
            m = tp["mismatches"][0]
            failed.append(f"tokenizer parity ({path.name}): {len(tp['mismatches'])} of {tp['texts']} texts differ; "
                          f"first: text {m['text']} at token {m['position']}: HF {m['hf']} vs llama.cpp "
                          f"{m['llama_cpp']} ({m['excerpt']!r})")
        lp = logit_parity(path, sequences, reference, cfg.get("parity_tie_margin", 0.5))
        need = cfg.get("min_argmax_agreement", DEFAULT_MIN_AGREEMENT).get(qtype)
        if need is not None and lp["decisive_agreement"] < need:
            failed.append(f"logit parity ({path.name}): argmax agreement {lp['decisive_agreement']:.4f} < {need} "
                          f"over {lp['decisive_positions']} positions whose HF top-2 logits are >= "
                          f"{lp['tie_margin']} apart (all {lp['positions']} positions: {lp['argmax_agreement']:.4f})")
        max_ratio = cfg.get("max_perplexity_ratio", DEFAULT_MAX_PERPLEXITY_RATIO).get(qtype)
        if max_ratio is not None and lp["perplexity_ratio"] > max_ratio:
            failed.append(f"logit parity ({path.name}): perplexity {lp['perplexity_ratio']:.4f}x the HF model's on "
                          f"the {lp['positions'] - len(sequences)} next tokens of the parity texts > {max_ratio}")
        out[qtype] = {"tokenizer_texts_differing": len(tp["mismatches"]), "tokenizer_tokens": tp["tokens"],
                      "argmax_agreement": lp["argmax_agreement"], "argmax_positions": lp["positions"],
                      "argmax_agreement_decisive": lp["decisive_agreement"],
                      "argmax_positions_decisive": lp["decisive_positions"], "argmax_min": need,
                      "perplexity_ratio_vs_hf": lp["perplexity_ratio"], "perplexity_ratio_max": max_ratio}
        print(f"parity {qtype}: tokenizer {tp['texts'] - len(tp['mismatches'])}/{tp['texts']} texts equal; argmax "
              f"agreement {lp['argmax_agreement']:.4f} over all {lp['positions']} positions, "
              f"{lp['decisive_agreement']:.4f} over the {lp['decisive_positions']} with HF margin >= "
              f"{lp['tie_margin']} (gate: {need}); perplexity x{lp['perplexity_ratio']} of HF's", flush=True)

    gate_file = files[cfg["gate_quantization"]]
    for path in dict.fromkeys([files["f16"], gate_file]):
        failed += [f"chat parity ({path.name}): {p}" for p in chat_template_parity(path, tokenizer, convs)]

    # Greedy: llama.cpp (f16) answers as the HF SFT model does.
    messages = [{"role": "system", "content": system}, {"role": "user", "content": cfg["gate_prompt"]}]
    n = cfg.get("greedy_match_tokens", 16)
    hf_ids = hf_greedy_reply(model, tokenizer, messages, n)
    # both replies as their text tokenized canonically: a model may generate a split the tokenizer would not make
    # (with an extended vocabulary, "Ich" as the base pieces "I" + "ch"), which re-tokenizing llama.cpp's text merges
    hf_ids = tokenizer(tokenizer.decode(hf_ids), add_special_tokens=False).input_ids
    llm = load(files["f16"])
    try:
        greedy = chat(llm, messages, max_tokens=n)
        cpp_ids = llm.tokenize(greedy["text"].encode("utf-8"), add_bos=False, special=False)
    finally:
        llm.close()
    same = next((i for i, (a, b) in enumerate(zip(hf_ids, cpp_ids)) if a != b), min(len(hf_ids), len(cpp_ids)))
    if same < min(n, len(hf_ids)):
        failed.append(f"chat parity ({files['f16'].name}): greedy reply differs from the HF SFT model's after "
                      f"{same} tokens: HF {tokenizer.decode(hf_ids)!r} vs llama.cpp {greedy['text']!r}")
    out["greedy"] = {"hf": tokenizer.decode(hf_ids), "llama_cpp": greedy["text"], "same_tokens": same}

    # Sampled with the Modelfile's parameters: the replies must stop at the end-of-turn token, without markers.
    sampling = {k: cfg["modelfile"].get(k) for k in ("temperature", "top_p", "repeat_penalty")}
    llm = load(gate_file)
    try:
        replies = [chat(llm, messages, max_tokens=cfg["gate_max_tokens"], seed=s, **{k: v for k, v in sampling.items()
                                                                                  if v is not None})
                   for s in range(cfg.get("chat_samples", 3))]
    finally:
        llm.close()
    stopped = [r for r in replies if r["finish_reason"] == "stop" and r["text"].strip()]
    markers = chat_markers(tokenizer)
    leaked = [r["text"] for r in replies if any(m in r["text"] for m in markers)]
    need = cfg.get("min_stopped_samples", 1)
    if len(stopped) < need:
        failed.append(f"chat parity ({gate_file.name}): {len(stopped)} of {len(replies)} sampled replies stopped at "
                      f"the end-of-turn token within {cfg['gate_max_tokens']} tokens, fewer than "
                      f"gguf.min_stopped_samples={need}")
    if leaked:
        failed.append(f"chat parity ({gate_file.name}): template tokens leaked into a reply: {leaked[0][:120]!r}")
    best = (stopped or replies)[0]
    out["gate"] = {"file": gate_file.name, "finish_reason": best["finish_reason"], "reply": best["text"],
                   "samples": len(replies), "stopped": len(stopped)}
    print(f"gate ({gate_file.name}): {len(stopped)}/{len(replies)} sampled replies stopped; "
          f"{best['text']!r} [{best['finish_reason']}]", flush=True)
    out["failed"] = failed
    return out


def run_ollama(out: Path, name: str, prompt: str) -> dict:
    """`ollama create` + one `ollama run` where an ollama binary is on PATH; otherwise say that they were skipped."""
    if not shutil.which("ollama"):
        msg = "skipped: no `ollama` binary on PATH (ollama create/run not run; see README)"
        print(f"ollama: {msg}", flush=True)
        return {"status": msg}
    res = {}
    for what, cmd in (("create", ["ollama", "create", name, "-f", "Modelfile"]),
                      ("run", ["ollama", "run", name, prompt])):
        proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise GateError(f"`{' '.join(cmd)}` failed ({proc.returncode}): {proc.stderr.strip()[-1000:]}")
        res[what] = proc.stdout.strip()[-500:]
    if not res["run"]:
        raise GateError(f"`ollama run {name}` answered nothing")
    print(f"ollama run {name}: {res['run']!r}", flush=True)
    return {"status": "ran: ollama create + ollama run", "model": name, "reply": res["run"]}


def register(params: dict, cfg: dict, out: Path, files: dict, metrics: dict) -> dict:
    """Register the GGUF version, tag it and the SFT version, move the alias when the evaluate and safety gates
    passed."""
    from langcpt import registry

    mcfg = params["mlflow"]
    alias = mcfg.get("alias", "candidate")
    evaluate = read_json(EVALUATE_METRICS)
    passed, why = registry.gates_passed(evaluate)
    safe, safe_why = registry.safety_passed(read_json(SAFETY_METRICS))
    passed, why = passed and safe, f"{why}; {safe_why}"
    print(f"registry: {why}; alias {alias!r} {'moves' if passed else 'stays'}", flush=True)
    commit = tracking.git_commit()
    data = ["data/clean", "data/tokens"] + ([params["sft"]["data"]] if params.get("sft", {}).get("data") else [])
    res = {"gates_passed": passed, "gates": why, "alias": alias}

    extra = {f"gguf_{q}": files[q] for q in mcfg.get("gguf_artifacts", []) if q in files}
    scfg = params.get("safety") or {}
    guard = CrisisGuard.from_params(scfg).to_config() if scfg.get("guard", True) and scfg else None
    version = registry.register_gguf(files[cfg["gate_quantization"]], out / "Modelfile", mcfg["gguf_model_name"],
                                     extra_files=extra, system=cfg["modelfile"]["system"], guard=guard)
    gguf_tags = registry.provenance_tags(
        commit, registry.dvc_lock_hashes("dvc.lock", data + ["models/pretrained", "models/sft"]), evaluate)
    gguf_tags |= {f"gguf.{k}": str(v) for k, v in tracking.flatten(metrics["files"]).items()}
    registry.tag_version(mcfg["gguf_model_name"], version, gguf_tags)
    res["gguf"] = {"name": mcfg["gguf_model_name"], "version": version,
                   "alias_moved": registry.move_alias(mcfg["gguf_model_name"], version, alias, passed)}

    sft_version = read_json(SFT_METRICS).get("registered_version")
    if sft_version is None:
        res["sft"] = {"name": mcfg["sft_model_name"], "version": None,
                      "note": f"{SFT_METRICS} has no registered_version (sft ran without MLflow): not tagged"}
    else:
        sft_tags = registry.provenance_tags(commit, registry.dvc_lock_hashes("dvc.lock", data), evaluate)
        registry.tag_version(mcfg["sft_model_name"], sft_version, sft_tags)
        res["sft"] = {"name": mcfg["sft_model_name"], "version": sft_version,
                      "alias_moved": registry.move_alias(mcfg["sft_model_name"], sft_version, alias, passed)}
    return res


def main():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    params = load_params()
    cfg = section(params, "gguf")
    cache = Path(params["ingest"].get("cache_dir", "data/cache")) / "llama.cpp"
    system = cfg["modelfile"]["system"] or params.get("evaluate", {}).get("system_prompt") or ""
    prompts = [cfg["gate_prompt"]] + list(params.get("evaluate", {}).get("chat_prompts") or [])
    tokenizer = AutoTokenizer.from_pretrained(SFT_DIR)
    registering = params["mlflow"]["register"] and tracking.enabled()
    if registering:
        read_json(EVALUATE_METRICS)  # fail before the work if one is missing
        read_json(SAFETY_METRICS)
    metrics = {"files": {}}
    with tracking.stage_run(params["mlflow"]["experiment"], "gguf", cfg), Timer() as t, \
            atomic_path("models/gguf", is_dir=True) as out:
        f16 = convert_to_gguf(SFT_DIR, out / "model-f16.gguf", outtype="f16", cache_dir=cache)
        files = {"f16": f16}
        for qtype in cfg["quantizations"]:
            if qtype != "f16":
                files[qtype] = quantize(f16, out / f"model-{qtype}.gguf", qtype)

        speed_prompt = tokenizer.apply_chat_template(
            [{"role": "system", "content": system}, {"role": "user", "content": cfg["gate_prompt"]}],
            tokenize=False, add_generation_prompt=True)
        for qtype, path in files.items():
            llm = load(path, n_ctx=1024)
            try:
                tps = decode_speed(llm, speed_prompt, cfg.get("speed_tokens", 64))
            finally:
                llm.close()
            metrics["files"][qtype] = {"size_mb": round(path.stat().st_size / 2**20, 2),
                                       "generation_tokens_per_s": tps}

        model = AutoModelForCausalLM.from_pretrained(SFT_DIR, dtype=torch.float32).eval()
        gates = parity_gates(cfg, files, tokenizer, model, system, prompts)
        del model
        for qtype in files:
            metrics["files"][qtype].update(gates.pop(qtype))
        if gates["failed"]:
            raise GateError("gguf gates failed:\n  " + "\n  ".join(gates["failed"]))
        metrics["gate"] = gates.pop("gate")
        metrics["parity"] = {k: v for k, v in gates.items() if k != "failed"}

        sampling = {k: v for k, v in cfg["modelfile"].items() if k != "system"}
        gate_file = files[cfg["gate_quantization"]].name
        (out / "Modelfile").write_text(modelfile_from_chat_template(
            str(SFT_DIR), gate_file, system_prompt=cfg["modelfile"]["system"], params=sampling), encoding="utf-8")
        metrics["ollama"] = run_ollama(out, cfg.get("ollama_name", "langcpt"), cfg["gate_prompt"])
        tracking.log_metrics(metrics["files"], prefix="gguf.")
        if registering:
            metrics["registry"] = register(params, cfg, out, files, metrics)
            metrics["registered_version"] = metrics["registry"]["gguf"]["version"]
    metrics["wall_seconds"] = t.seconds
    write_json("reports/gguf.json", metrics)
    print({k: (v["size_mb"], v["generation_tokens_per_s"], v["argmax_agreement"]) for k, v in metrics["files"].items()},
          metrics["ollama"]["status"])


if __name__ == "__main__":
    run_stage(main)
