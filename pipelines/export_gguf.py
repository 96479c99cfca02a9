"""Stage `gguf`: convert the SFT model to GGUF (f16) with llama.cpp, quantize, write an Ollama Modelfile.

The gate: a real chat completion from the `gate_quantization` file through llama.cpp must produce text and stop
at the end-of-turn token; otherwise the stage fails and models/gguf is left as it was.

    python pipelines/export_gguf.py     # models/sft -> models/gguf/{model-f16,model-q8_0,model-q4_k_m}.gguf + Modelfile
"""
import shutil
from pathlib import Path

from langcpt import tracking
from langcpt.fileio import InputError, atomic_path, write_json
from langcpt.gguf_export import chat, convert_to_gguf, modelfile_from_chat_template, quantize
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage

SFT_DIR = Path("models/sft")


def main():
    params = load_params()
    cfg = section(params, "gguf")
    cache = Path(params["ingest"].get("cache_dir", "data/cache")) / "llama.cpp"
    if cfg["gate_quantization"] not in cfg["quantizations"]:
        raise InputError(f"gguf.gate_quantization: {cfg['gate_quantization']!r} is not in gguf.quantizations")
    metrics = {"files": {}}
    with tracking.stage_run(params["mlflow"]["experiment"], "gguf", cfg), Timer() as t, \
            atomic_path("models/gguf", is_dir=True) as out:
        f16 = convert_to_gguf(SFT_DIR, out / "model-f16.gguf", outtype="f16", cache_dir=cache)
        files = {"f16": f16}
        for qtype in cfg["quantizations"]:
            if qtype != "f16":
                files[qtype] = quantize(f16, out / f"model-{qtype}.gguf", qtype)
        messages = [{"role": "system", "content": cfg["modelfile"]["system"]},
                    {"role": "user", "content": cfg["gate_prompt"]}]
        for qtype, path in files.items():
            reply = chat(path, messages, max_tokens=cfg["gate_max_tokens"])
            metrics["files"][qtype] = {"size_mb": round(path.stat().st_size / 2**20, 2),
                                       "generation_tokens_per_s": reply["tokens_per_s"]}
            if qtype == cfg["gate_quantization"]:
                if not reply["text"].strip():
                    raise RuntimeError(f"gguf gate: {path.name} produced no text through llama.cpp")
                metrics["gate"] = {"file": path.name, "finish_reason": reply["finish_reason"],
                                   "reply": reply["text"]}
                print(f"gate ({path.name}): {reply['text']!r} [{reply['finish_reason']}]", flush=True)
        sampling = {k: v for k, v in cfg["modelfile"].items() if k != "system"}
        gate_file = files[cfg["gate_quantization"]].name
        (out / "Modelfile").write_text(modelfile_from_chat_template(
            str(SFT_DIR), gate_file, system_prompt=cfg["modelfile"]["system"], params=sampling), encoding="utf-8")
        tracking.log_metrics({k: v for k, v in metrics["files"].items()}, prefix="gguf.")
        if params["mlflow"]["register"]:
            from langcpt.registry import register_gguf

            metrics["registered_version"] = register_gguf(files[cfg["gate_quantization"]], out / "Modelfile",
                                                          params["mlflow"]["gguf_model_name"])
    metrics["ollama"] = ("ollama found: run `ollama create langcpt -f models/gguf/Modelfile`"
                         if shutil.which("ollama") else "skipped: no `ollama` binary on PATH")
    metrics["wall_seconds"] = t.seconds
    write_json("reports/gguf.json", metrics)
    print({k: v["size_mb"] for k, v in metrics["files"].items()}, metrics["ollama"])


if __name__ == "__main__":
    run_stage(main)
