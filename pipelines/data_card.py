"""Stage `data_card`: documents, characters and tokens per source, what each cleaning rule removed, the language
mix, the length histogram and the licence of each source (langcpt.datacard).

Reads data/clean/*.jsonl, reports/clean.json and reports/clean_stats.json (dedup_clean), reports/ingest.json
(files read, skipped and repaired per source; left out when data/raw came from elsewhere) and the tokenizer in
models/base; writes reports/data_card/: metrics.json (headline numbers, `dvc metrics show`), card.json (the
full card), length_histogram.csv and tokens_per_source.csv (`dvc plots show`), data_card.png and data_card.md.

    python pipelines/data_card.py
"""
from pathlib import Path

from langcpt.datacard import build_card, load_tokenizer, validate_cfg, write_outputs
from langcpt.params import load_params
from langcpt.stage import Timer, run_stage


def main():
    cfg = validate_cfg(load_params().get("data_card"))
    with Timer() as t:
        tokenizer = load_tokenizer(cfg["tokenizer"])
        card = build_card("data/clean", "reports/clean.json", "reports/clean_stats.json", tokenizer,
                          cfg["batch_size"], tokenizer_name=cfg["tokenizer"],
                          ingest_report="reports/ingest.json" if Path("reports/ingest.json").is_file() else None)
        write_outputs(card, "reports/data_card")
    for split, s in card["splits"].items():
        print(f"{split}: {s['documents']} documents, {s['characters']} characters, {s['tokens']} tokens "
              f"({t.seconds}s)", flush=True)


if __name__ == "__main__":
    run_stage(main)
