"""Stage `base`: materialise the base model as an HF checkpoint (safetensors) in models/base.

    python pipelines/base.py          # reads params.yaml `base`, writes models/base and reports/base.json
"""
from pathlib import Path

from langcpt.base_model import materialise_base
from langcpt.fileio import write_json
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage


def main():
    cfg = section(load_params(), "base", required=("source",))
    with Timer() as t:
        summary = materialise_base(cfg, Path("models/base"), Path(cfg.get("cache_dir", "data/cache")))
    write_json("reports/base.json", {**summary, "wall_seconds": t.seconds})
    print(f"base model: {summary['parameters']:,} parameters, vocab {summary['vocab_size']} -> models/base")


if __name__ == "__main__":
    run_stage(main)
