"""The data card: what the cleaned corpus holds and how it got there (the library behind the `data_card` stage).

`build_card(clean_dir, clean_report, clean_stats, tokenizer, batch_size)` combines
  * the cleaned documents (data/clean/<split>.jsonl): documents, characters and tokens (the base tokenizer's
    batch encode, no special tokens) and the licences (the documents' `license` field) per source;
  * the dedup_clean reports: documents/characters that came in, what each rule removed or modified, the
    language mix (py3langid's top language of the documents that reached the language rule) and the length
    histogram of the kept documents, per source.
`headline(card)` is the small metrics file (`dvc metrics show`); `write_outputs(card, out_dir)` writes the
card JSON, the plot CSVs, a PNG and a Markdown summary.

Card layout: {"tokenizer": str, "splits": {split: {documents, characters, tokens, input_documents,
input_characters, kept_share, removed, modified, languages, length_histogram: {bins, counts}, sources: {name:
{documents, characters, tokens, licenses, input_documents, input_characters, removed, modified, languages,
length_histogram, ingest (with reports/ingest.json): {files, skipped, repaired, named}}}}}}.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .fileio import InputError, atomic_path, iter_jsonl, write_json

SPLITS = ("target", "general")
DEFAULTS = {"tokenizer": "models/base", "batch_size": 1000}


def validate_cfg(cfg: dict | None) -> dict:
    """The `data_card:` section merged over DEFAULTS; InputError naming `data_card.<key>` when bad."""
    cfg = cfg or {}
    if not isinstance(cfg, dict):
        raise InputError(f"data_card: expected a mapping of settings, got {type(cfg).__name__}")
    if unknown := sorted(set(cfg) - set(DEFAULTS)):
        raise InputError(f"data_card.{unknown[0]}: unknown key (known keys: {', '.join(DEFAULTS)})")
    out = {**DEFAULTS, **cfg}
    if not isinstance(out["tokenizer"], str) or not out["tokenizer"]:
        raise InputError(f"data_card.tokenizer: expected a folder name, got {out['tokenizer']!r}")
    b = out["batch_size"]
    if isinstance(b, bool) or not isinstance(b, int) or b < 1:
        raise InputError(f"data_card.batch_size: expected an integer >= 1, got {b!r}")
    return out


def load_tokenizer(path: str | Path):
    """The fast tokenizer saved in `path` (e.g. models/base)."""
    if not (Path(path) / "tokenizer.json").is_file():
        raise InputError(f"data_card.tokenizer: {path}/tokenizer.json not found (run the base stage first)")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: not found (run the dedup_clean stage first)") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e.msg})") from None


def count_sources(path: Path, tokenizer, batch_size: int = 1000) -> dict[str, dict]:
    """Per source of a cleaned JSONL: {documents, characters, tokens, licenses}; streams in batches."""
    out: dict[str, dict] = {}
    batch: list[tuple[str, str]] = []

    def flush() -> None:
        ids = tokenizer([t for _, t in batch], add_special_tokens=False, return_attention_mask=False)["input_ids"]
        for (src, _), row in zip(batch, ids):
            out[src]["tokens"] += len(row)
        batch.clear()

    for lineno, doc in iter_jsonl(path):
        if not isinstance(doc.get("text"), str):
            raise InputError(f"{path}:{lineno}: expected a JSON object with a string field 'text'")
        src = str(doc.get("source", "(none)"))
        st = out.setdefault(src, {"documents": 0, "characters": 0, "tokens": 0, "licenses": set()})
        st["documents"] += 1
        st["characters"] += len(doc["text"])
        st["licenses"].add(str(doc.get("license")))
        batch.append((src, doc["text"]))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    for st in out.values():
        st["licenses"] = sorted(st["licenses"])
    return out


def build_card(clean_dir: str | Path, clean_report: str | Path, clean_stats: str | Path, tokenizer,
               batch_size: int = 1000, tokenizer_name: str = "", ingest_report: str | Path | None = None) -> dict:
    """The full data card (module docstring) of the splits in clean_dir; with `ingest_report` (reports/ingest.json)
    each source also carries what ingest read, skipped and repaired (`ingest`: files, skipped and repaired by
    reason, the named files)."""
    report, stats = _read_json(Path(clean_report)), _read_json(Path(clean_stats))
    ingest = _read_json(Path(ingest_report)) if ingest_report is not None else {}
    splits = {}
    for split in SPLITS:
        path = Path(clean_dir) / f"{split}.jsonl"
        if not path.is_file():
            raise InputError(f"{path}: not found (run the dedup_clean stage first)")
        if split not in report or split not in stats:
            raise InputError(f"{clean_report} / {clean_stats}: no `{split}` entry; rerun the dedup_clean stage")
        counted = count_sources(path, tokenizer, batch_size)
        rep, st = report[split], stats[split]
        sources = {}
        for name in list(st["sources"]) + [s for s in counted if s not in st["sources"]]:
            c = counted.get(name, {"documents": 0, "characters": 0, "tokens": 0, "licenses": []})
            s = st["sources"].get(name, {})
            sources[name] = {
                "documents": c["documents"], "characters": c["characters"], "tokens": c["tokens"],
                "licenses": c["licenses"] or s.get("licenses", []),
                "input_documents": s.get("input_docs", 0), "input_characters": s.get("input_chars", 0),
                "removed": s.get("removed", {}), "modified": s.get("modified", {}),
                "languages": s.get("languages", {}),
                "length_histogram": {"bins": st["length_bins"], "counts": s.get("length_histogram", [])},
            }
            if (ing := ingest.get(split, {}).get("sources", {}).get(name)) is not None:
                sources[name]["ingest"] = {k: ing.get(k, {}) for k in ("files", "skipped", "repaired", "named")}
        docs = sum(s["documents"] for s in sources.values())
        splits[split] = {
            "documents": docs,
            "characters": sum(s["characters"] for s in sources.values()),
            "tokens": sum(s["tokens"] for s in sources.values()),
            "input_documents": rep["input_docs"],
            "input_characters": rep["input_chars"],
            "kept_share": round(docs / rep["input_docs"], 4) if rep["input_docs"] else 0.0,
            "removed": rep["removed"],
            "modified": rep.get("modified", {}),
            "languages": st.get("languages", {}),
            "length_histogram": {"bins": st["length_bins"], "counts": st["length_histogram"]},
            "sources": sources,
        }
    return {"tokenizer": tokenizer_name, "splits": splits}


def headline(card: dict) -> dict:
    """The numbers `dvc metrics show` lists: per split documents/characters/tokens, kept share, removals per
    rule, and documents/tokens per source."""
    out = {}
    for split, s in card["splits"].items():
        out[split] = {
            "documents": s["documents"], "characters": s["characters"], "tokens": s["tokens"],
            "kept_share": s["kept_share"],
            "removed": s["removed"],
            "sources": {name: {"documents": v["documents"], "tokens": v["tokens"]} for name, v in s["sources"].items()},
        }
    return out


def _bin_labels(bins: list[int]) -> list[str]:
    return [f"{lo}-{hi - 1}" for lo, hi in zip(bins, bins[1:])] + [f"{bins[-1]}+"]


def _csv(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def markdown(card: dict) -> str:
    """A short human-readable summary of the card."""
    lines = ["# Data card", "", f"Tokens counted with the tokenizer in `{card['tokenizer']}`.", ""]
    for split, s in card["splits"].items():
        lines += [f"## {split}", "",
                  f"{s['documents']:,} documents, {s['characters']:,} characters, {s['tokens']:,} tokens "
                  f"(kept {s['documents']:,} of {s['input_documents']:,} documents, {100 * s['kept_share']:.1f}%).", "",
                  "| source | documents | characters | tokens | licence | top languages at the language rule |",
                  "|---|---:|---:|---:|---|---|"]
        for name, v in s["sources"].items():
            langs = ", ".join(f"{k} {n}" for k, n in list(v["languages"].items())[:3]) or "-"
            lines.append(f"| {name} | {v['documents']:,} | {v['characters']:,} | {v['tokens']:,} | "
                         f"{'; '.join(v['licenses'])} | {langs} |")
        removed = ", ".join(f"{k} {n}" for k, n in s["removed"].items() if n) or "nothing"
        modified = ", ".join(f"{k} {n}" for k, n in s["modified"].items() if n) or "nothing"
        labels = _bin_labels(s["length_histogram"]["bins"])
        hist = ", ".join(f"{lab}: {n}" for lab, n in zip(labels, s["length_histogram"]["counts"]) if n)
        lines += ["", f"Removed (documents, by rule): {removed}.", "",
                  f"Modified (documents; boilerplate_lines: lines): {modified}.", "",
                  f"Kept-document lengths (characters: documents): {hist}.", ""]
        for name, v in s["sources"].items():  # what ingest read, skipped and repaired (reports/ingest.json)
            if "ingest" not in v:
                continue
            ing = v["ingest"]
            by = {k: ", ".join(f"{r} {n}" for r, n in ing[k].items()) or "none" for k in ("skipped", "repaired")}
            lines += [f"Ingest of {name}: {ing['files']:,} files read; skipped: {by['skipped']}; "
                      f"repaired: {by['repaired']}."]
            for reason, named in ing["named"].items():
                more = named["count"] - min(5, len(named["files"]))
                lines.append(f"- {reason}: {', '.join(f['file'] for f in named['files'][:5])}"
                             + (f" (+{more} more, reports/ingest.json)" if more > 0 else ""))
            lines.append("")
    return "\n".join(lines)


def plot_png(card: dict, path: Path) -> None:
    """One PNG: tokens per source, documents removed per rule, kept-length histogram (one row per split)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = list(card["splits"].items())
    fig, axes = plt.subplots(len(splits), 3, figsize=(15, 4 * len(splits)), squeeze=False)
    for row, (split, s) in zip(axes, splits):
        names = list(s["sources"])
        row[0].barh(names, [s["sources"][n]["tokens"] for n in names])
        row[0].set_title(f"{split}: tokens per source")
        rules = [k for k, n in s["removed"].items()]
        row[1].barh(rules, [s["removed"][k] for k in rules])
        row[1].set_title(f"{split}: documents removed per rule")
        labels = _bin_labels(s["length_histogram"]["bins"])
        row[2].bar(range(len(labels)), s["length_histogram"]["counts"])
        row[2].set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
        row[2].set_title(f"{split}: kept documents by length (characters)")
        for ax in row:
            ax.tick_params(labelsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


def write_outputs(card: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write metrics.json (headline), card.json, length_histogram.csv, tokens_per_source.csv, data_card.png and
    data_card.md into out_dir; return their paths by name."""
    out = Path(out_dir)
    paths = {name: out / name for name in ("metrics.json", "card.json", "length_histogram.csv",
                                           "tokens_per_source.csv", "data_card.png", "data_card.md")}
    write_json(paths["metrics.json"], headline(card))
    write_json(paths["card.json"], card)
    hist_rows = [["split", "length", "documents"]]
    src_rows = [["source", "documents", "characters", "tokens"]]
    for split, s in card["splits"].items():
        for lab, n in zip(_bin_labels(s["length_histogram"]["bins"]), s["length_histogram"]["counts"]):
            hist_rows.append([split, f"{split} {lab}", n])
        for name, v in s["sources"].items():
            src_rows.append([f"{split}/{name}", v["documents"], v["characters"], v["tokens"]])
    _write_text(paths["length_histogram.csv"], _csv(hist_rows))
    _write_text(paths["tokens_per_source.csv"], _csv(src_rows))
    plot_png(card, paths["data_card.png"])
    _write_text(paths["data_card.md"], markdown(card))
    return paths

