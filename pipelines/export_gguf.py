"""Stage `gguf`: the SFT model as GGUF files checked against it, an Ollama Modelfile, the versions in MLflow.

Reads models/sft, data/tokens/val.npy (held-out text of the parity gates), params gguf, mlflow, safety,
evaluate.system_prompt/chat_prompts, sft.data; with MLflow registering, also reports/evaluate/metrics.json,
reports/safety/metrics.json and reports/sft/metrics.json. Writes models/gguf (model-<type>.gguf, Modelfile) and
reports/gguf.json. A failed parity gate (langcpt.gguf_export.check_export) stops the stage and leaves models/gguf
as it was; the alias moves only when the evaluate and safety gates passed (langcpt.registry.register_gguf_export).

    python pipelines/export_gguf.py
Not named pipelines/gguf.py: that would shadow the `gguf` package (langcpt.base_model) for every script here.
"""
from pathlib import Path

from langcpt import tracking
from langcpt.fileio import atomic_path, write_json
from langcpt.gguf_export import check_export, export_files, run_ollama, write_modelfile
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage

SFT_DIR = Path("models/sft")
VAL = Path("data/tokens/val.npy")


def main():
    from transformers import AutoTokenizer

    params = load_params()
    cfg = section(params, "gguf")
    cache = Path(params["ingest"].get("cache_dir", "data/cache")) / "llama.cpp"
    system = cfg["modelfile"]["system"] or params.get("evaluate", {}).get("system_prompt") or ""
    prompts = [cfg["gate_prompt"]] + list(params.get("evaluate", {}).get("chat_prompts") or [])
    tokenizer = AutoTokenizer.from_pretrained(SFT_DIR)
    registering = params["mlflow"]["register"] and tracking.enabled()
    if registering:
        from langcpt import registry

        registry.gate_reports()  # fail before the work if one is missing
    with tracking.stage_run(params["mlflow"]["experiment"], "gguf", cfg), Timer() as t, \
            atomic_path("models/gguf", is_dir=True) as out:
        files = export_files(SFT_DIR, out, cfg["quantizations"], cache)
        metrics = check_export(cfg, SFT_DIR, VAL, files, tokenizer, system, prompts)
        modelfile = write_modelfile(out, SFT_DIR, files[cfg["gate_quantization"]].name, cfg["modelfile"])
        metrics["ollama"] = run_ollama(out, cfg.get("ollama_name", "langcpt"), cfg["gate_prompt"])
        tracking.log_metrics(metrics["files"], prefix="gguf.")
        if registering:
            metrics["registry"] = registry.register_gguf_export(params, files, modelfile, metrics["files"])
            metrics["registered_version"] = metrics["registry"]["gguf"]["version"]
    metrics["wall_seconds"] = t.seconds
    write_json("reports/gguf.json", metrics)
    print({k: (v["size_mb"], v["generation_tokens_per_s"], v["argmax_agreement"]) for k, v in metrics["files"].items()},
          metrics["ollama"]["status"])


if __name__ == "__main__":
    run_stage(main)
