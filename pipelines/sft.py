"""Stage `sft`: supervised fine-tuning of the continued-pretraining checkpoint (not the base) on conversations.

A new LoRA adapter, the model's own chat template, loss on assistant tokens only; part of the data held out.
The merged chat model goes to models/sft and is registered in MLflow (transformers flavour).

    python pipelines/sft.py
    dvc exp run -S sft.epochs=3 -S sft.learning_rate=1e-4
"""
from pathlib import Path

from langcpt import tracking
from langcpt.fileio import write_json
from langcpt.params import load_params, section
from langcpt.registry import register_transformers_model
from langcpt.sft import supervised_finetuning
from langcpt.stage import Timer, run_stage
from langcpt.training import choose_backend


def main():
    params = load_params()
    cfg = section(params, "sft")
    backend = choose_backend(cfg["backend"])
    with tracking.stage_run(params["mlflow"]["experiment"], "sft", {**cfg, "backend": backend}) as run, Timer() as t:
        metrics = supervised_finetuning(
            cfg, backend, Path("models/pretrained"), Path(cfg["data"]), out_dir=Path("models/sft"),
            checkpoint_dir=Path("checkpoints/sft"), curves_dir=Path("reports/sft"))
        tracking.log_metrics(metrics)
        if params["mlflow"]["register"]:
            metrics["registered_version"] = register_transformers_model(
                Path("models/sft"), params["mlflow"]["sft_model_name"], run)
    metrics["wall_seconds"] = t.seconds
    write_json("reports/sft/metrics.json", metrics)
    print(f"sft: {metrics['steps']} steps, held-out loss {metrics.get('heldout_loss')} -> models/sft")


if __name__ == "__main__":
    run_stage(main)
