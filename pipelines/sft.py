"""Stage `sft`: supervised fine-tuning of the continued-pretraining checkpoint (not the base) on conversations.

A new LoRA adapter, the model's own chat template, loss on assistant tokens only; part of the data held out.
The merged chat model goes to models/sft and is registered in MLflow (transformers flavour).

    python pipelines/sft.py
    dvc exp run -S sft.epochs=3 -S sft.learning_rate=1e-4
    LANGCPT_MLFLOW=0 python pipelines/sft.py    # without MLflow: nothing logged or registered
    dvc exp run -S sft.processes=2              # data parallel: re-runs itself under torchrun (hf backend)
"""
import os
from pathlib import Path

from langcpt import distributed, tracking
from langcpt.conversations import load_conversations
from langcpt.fileio import write_json
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage


def main():
    params = load_params()
    cfg = section(params, "sft")
    load_conversations(Path(cfg["data"]))  # bad SFT data fails in a second, before torch/transformers load
    distributed.relaunch("sft", cfg, __file__)  # processes > 1: torchrun runs this script in each worker
    os.environ.setdefault("LANGCPT_BACKEND", cfg["backend"])  # read when langcpt.training decides on Unsloth
    from langcpt.sft import supervised_finetuning
    from langcpt.training import choose_backend

    backend = choose_backend(cfg["backend"])
    with tracking.stage_run(params["mlflow"]["experiment"], "sft", {**cfg, "backend": backend}) as run, Timer() as t:
        metrics = supervised_finetuning(
            cfg, backend, Path("models/pretrained"), Path(cfg["data"]), out_dir=Path("models/sft"),
            checkpoint_dir=Path("checkpoints/sft"), curves_dir=Path("reports/sft"))
        tracking.log_metrics(metrics)
        if not distributed.is_main():
            return  # rank 0 registers and writes the metrics
        if params["mlflow"]["register"] and tracking.enabled():
            from langcpt.registry import register_transformers_model

            metrics["registered_version"] = register_transformers_model(
                Path("models/sft"), params["mlflow"]["sft_model_name"], run)
    metrics["wall_seconds"] = t.seconds
    write_json("reports/sft/metrics.json", metrics)
    print(f"sft: {metrics['steps']} steps, held-out loss {metrics.get('heldout_loss')} -> models/sft")


if __name__ == "__main__":
    run_stage(main)
