"""Stage `dedup_clean`: Unicode repair, whitespace, length/quality/language filters, exact and MinHash-LSH dedup.

How many documents each rule removed goes to reports/clean.json; a few caught near-duplicate pairs go to
reports/near_duplicates.json (for the data card).

    python pipelines/dedup_clean.py   # data/raw/*.jsonl -> data/clean/*.jsonl
"""
from langcpt.clean import clean_corpus
from langcpt.fileio import InputError, read_jsonl, write_json, write_jsonl
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage


def main():
    params = load_params()
    cfg = section(params, "clean")
    general_cfg = {**cfg, **params.get("clean_general", {})}
    report, examples = {}, {}
    with Timer() as t:
        for split, split_cfg in (("target", cfg), ("general", general_cfg)):
            result = clean_corpus(read_jsonl(f"data/raw/{split}.jsonl"), split_cfg)
            if not result.docs:
                raise InputError(f"dedup_clean: no {split} document survived the rules {result.metrics['removed']}; "
                                 f"check clean.language / thresholds")
            write_jsonl(f"data/clean/{split}.jsonl", result.docs)
            report[split] = result.metrics
            examples[split] = result.near_duplicate_examples
            print(f"{split}: kept {result.metrics['kept_docs']} of {result.metrics['input_docs']}, "
                  f"removed {result.metrics['removed']}", flush=True)
    report["wall_seconds"] = t.seconds
    write_json("reports/clean.json", report)
    write_json("reports/near_duplicates.json", examples)


if __name__ == "__main__":
    run_stage(main)
