"""Stage `summary`: the run's headline numbers in one flat file, reports/summary.json (langcpt.summary).

Reads the other stages' metric files (reports/*.json, reports/*/metrics.json) and writes target/general perplexity
and bits per byte before and after CPT and SFT, the forgetting delta, the SFT held-out loss, the GGUF size per type
and each stage's wall time under flat names (README "Experiments" lists them), so `dvc exp show` is readable.

    python pipelines/summary.py
"""
from langcpt.fileio import write_json
from langcpt.params import load_params
from langcpt.stage import run_stage
from langcpt.summary import load_reports, summarize


def main():
    load_params()  # no section of its own, but a bad params.yaml fails here as in every stage, before any work
    summary = summarize(load_reports("."))
    write_json("reports/summary.json", summary)
    for key, value in summary.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    run_stage(main)
