"""Stage `pretrain`: continued pretraining of models/base on the packed target-language blocks.

LoRA (rsLoRA) on all linear layers + embed_tokens/lm_head trained in full with their own learning rate; cosine
schedule with warmup; held-out eval every `eval_steps`; checkpoints every `save_steps` (an interrupted run with
unchanged inputs resumes from the last one). The merged model goes to models/pretrained.
With `tokenize.vocab_extension` on, models/tokenizer has new tokens: embed_tokens/lm_head grow to it, each new row
starts as the mean of its base pieces' rows (langcpt.vocab) and is trained with the embeddings.

    python pipelines/pretrain.py
    LANGCPT_MLFLOW=0 python pipelines/pretrain.py    # without MLflow (a GPU worker that lacks it)
    dvc exp run -S pretrain.processes=2              # data parallel: re-runs itself under torchrun (hf backend)

With CUDA the Unsloth backend is chosen (`backend: auto`, one process); see docs/gpu.md.
"""
import os
from pathlib import Path

from langcpt import distributed, tracking
from langcpt.fileio import write_json
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage


# The blocks' tokenizer (stage extend_vocab); larger than the base's: the model is resized to it first. Absent (a run
# outside DVC on hand-made inputs): the base model's own tokenizer.
TOKENIZER = Path("models/tokenizer")


def main():
    params = load_params()
    cfg = section(params, "pretrain")
    distributed.relaunch("pretrain", cfg, __file__)  # processes > 1: torchrun runs this script in each worker
    os.environ.setdefault("LANGCPT_BACKEND", cfg["backend"])  # read when langcpt.training decides on Unsloth
    from langcpt.cpt import continued_pretraining
    from langcpt.training import choose_backend

    backend = choose_backend(cfg["backend"])
    with tracking.stage_run(params["mlflow"]["experiment"], "pretrain", {**cfg, "backend": backend}), Timer() as t:
        metrics = continued_pretraining(
            cfg, backend, Path("models/base"), Path("data/tokens/train.npy"), Path("data/tokens/val.npy"),
            out_dir=Path("models/pretrained"), checkpoint_dir=Path("checkpoints/pretrain"),
            curves_dir=Path("reports/pretrain"), tokenizer_dir=TOKENIZER if TOKENIZER.is_dir() else None)
        tracking.log_metrics(metrics)
    if not distributed.is_main():
        return  # rank 0 writes the metrics
    metrics["wall_seconds"] = t.seconds
    write_json("reports/pretrain/metrics.json", metrics)
    print(f"pretrain: {metrics['steps']} steps, eval perplexity {metrics.get('eval_perplexity')}, "
          f"{metrics['tokens_per_second']} tokens/s ({backend})")


if __name__ == "__main__":
    run_stage(main)
