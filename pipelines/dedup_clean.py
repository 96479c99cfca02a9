"""Stage `dedup_clean`: Unicode repair, markup/boilerplate, length/quality/language filters, PII masking, exact and
MinHash-LSH dedup (the rules: langcpt.clean's docstring).

Streams: each split's raw JSONL is read line by line and the kept documents are written as they are decided, so
memory does not grow with the corpus beyond what dedup needs per document (see langcpt.clean). data/clean is
replaced as a whole only when both splits succeeded.

Outputs: data/clean/{target,general}.jsonl; reports/clean.json (metric: documents/characters in and kept, removed
per rule, modified per rule, per split); reports/clean_stats.json (per source: documents/characters, removals
and modifications per rule, language mix, licences, kept-length histogram -- read by the data_card stage);
reports/near_duplicates.json (a few caught near-duplicate pairs).

    python pipelines/dedup_clean.py   # data/raw/*.jsonl -> data/clean/*.jsonl
"""
from langcpt.clean import clean_stream
from langcpt.fileio import InputError, atomic_path, read_jsonl, write_json
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage

SPLITS = ("target", "general")


def main():
    params = load_params()
    cfg = section(params, "clean")
    general_cfg = {**cfg, **(params.get("clean_general") or {})}
    report, stats, examples = {}, {}, {}
    with Timer() as t, atomic_path("data/clean", is_dir=True) as out_dir:
        for split, split_cfg in zip(SPLITS, (cfg, general_cfg)):
            result = clean_stream(read_jsonl(f"data/raw/{split}.jsonl"), out_dir / f"{split}.jsonl", split_cfg,
                                  desc=f"clean + MinHash {split}")
            m = result.metrics
            if not m["kept_docs"]:
                raise InputError(f"dedup_clean: no {split} document survived the rules {m['removed']}; "
                                 f"check clean.language / thresholds")
            report[split], stats[split], examples[split] = m, result.stats, result.near_duplicate_examples
            print(f"{split}: kept {m['kept_docs']} of {m['input_docs']}, removed {m['removed']}, "
                  f"modified {m['modified']}", flush=True)
    report["wall_seconds"] = t.seconds
    write_json("reports/clean.json", report)
    write_json("reports/clean_stats.json", stats)
    write_json("reports/near_duplicates.json", examples)


if __name__ == "__main__":
    run_stage(main)
