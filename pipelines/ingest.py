"""Stage `ingest`: collect the corpora named in params into data/raw as JSONL documents with provenance.

    python pipelines/ingest.py     # -> data/raw/target.jsonl, data/raw/general.jsonl, reports/ingest.json

Prints per source (stderr) the files read, documents, files skipped and repaired by reason, naming each such
file up to ingest.report_max_files per reason (the same as reports/ingest.json), then a summary line.
"""
import sys
from pathlib import Path

from langcpt.fileio import InputError, atomic_path, write_json, write_jsonl
from langcpt.ingest import iter_documents, source_summary, validate_sources
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage


def main():
    cfg = section(load_params(), "ingest", required=("target_sources", "general_sources"))
    cache = Path(cfg.get("cache_dir", "data/cache"))
    max_named = cfg.get("report_max_files", 20)
    validate_sources(cfg["target_sources"])
    validate_sources(cfg["general_sources"])
    report = {}
    with Timer() as t, atomic_path("data/raw", is_dir=True) as out_dir:  # replaced only when both splits worked
        for split, key in (("target", "target_sources"), ("general", "general_sources")):
            stats: dict = {}
            try:
                n = write_jsonl(out_dir / f"{split}.jsonl", iter_documents(cfg[key], cache, stats, max_named))
            except InputError as e:  # langcpt.ingest names a source as sources[i]: say which list it is in
                msg = str(e)
                raise InputError(f"ingest.{key}{msg[len('sources'):]}" if msg.startswith("sources[") else msg) \
                    from None
            for name, st in stats.items():
                print("\n".join(source_summary(key, name, st)), file=sys.stderr, flush=True)
            if n == 0:
                per_source = "; ".join(f"{name!r}: {s['files']} files, {sum(s['skipped'].values())} skipped "
                                       f"({', '.join(s['skipped']) or 'none'})" for name, s in stats.items())
                raise InputError(f"ingest.{key}: the sources yielded no document ({per_source})")
            report[split] = {"documents": n, "chars": sum(s["chars"] for s in stats.values()), "sources": stats}
            print(f"{split}: {n} documents, {report[split]['chars']:,} chars", flush=True)
    report["wall_seconds"] = t.seconds
    write_json("reports/ingest.json", report)
    every = [s for r in report.values() if isinstance(r, dict) for s in r["sources"].values()]
    print(f"ingest: {sum(s['files'] for s in every)} files read, {sum(s['docs'] for s in every)} documents, "
          f"{sum(sum(s['skipped'].values()) for s in every)} skipped, "
          f"{sum(sum(s['repaired'].values()) for s in every)} repairs (per file: reports/ingest.json)",
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    run_stage(main)
