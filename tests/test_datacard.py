"""Tests for langcpt.datacard and the data_card stage: a small real corpus, the real SmolLM2 tokenizer, real DVC."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from langcpt import datacard
from langcpt.clean import REMOVAL_KEYS, clean_stream
from langcpt.fileio import InputError, write_json, write_jsonl

REPO = Path(__file__).resolve().parents[1]

# Real entries of fortunes-de (GPL-2+), a paragraph in the style of the German LibreOffice help (MPL-2.0) and
# English fortunes (for the general split).
FORTUNES_DE = [
    "Ein Mathematikprofessor trägt sein Fahrrad über den Universitätsplatz.\nEin Bekannter spricht ihn an, ob "
    "denn sein Fahrrad kaputt sei.",
    "Je näher man jemanden kennt, desto weniger versteht man\nihn.\n-- Benjamin Stramke",
    "Ein Kluger bemerkt alles, ein Dummer macht über alles seine\nBemerkungen.\n-- Heinrich Heine",
    "Disziplin ohne Demokratie führt zur Gewalt, Demokratie ohne Disziplin\nzur Anarchie.\n-- Reza Pahlewi",
    "Kurz.",  # too short
    "Ein Kluger bemerkt alles, ein Dummer macht über alles seine\nBemerkungen.\n-- Heinrich Heine",  # exact copy
    "Nothing succeeds like success, and nothing fails like failure in the end.\n-- Alexandre Dumas",  # English
]
HELP_DE = [
    "Erhöht die Priorität der ausgewählten Bedingung. Die Bedingungen werden in der Reihenfolge der Liste "
    "ausgewertet, bis eine davon zutrifft.",
    "Listet die möglichen Datenfelder in der Zieltabelle auf. Nur die in der Quelltabellenliste ausgewählten "
    "Datenfelder werden in die Zieltabelle aufgenommen.",
]
FORTUNES_EN = [
    "I think... I think it's in my basement... Let me go upstairs and check.\n-- Escher",
    "Live from New York ... It's Saturday Night! And now for something completely different.",
    "Mr. Rockford? You don't know me, but I'd like to hire you. Could\nyou call me at... My name is... uh...",
]


def raw_docs() -> dict[str, list[dict]]:
    target = [{"text": t, "source": "fortunes-de", "path": f"de#{i}", "license": "GPL-2+"} for i, t in enumerate(FORTUNES_DE)]
    target += [{"text": t, "source": "libreoffice-help-de", "path": f"help/{i}.html", "license": "MPL-2.0"}
               for i, t in enumerate(HELP_DE)]
    general = [{"text": t, "source": "fortunes-en", "path": f"en#{i}", "license": "see usr/share/doc/fortunes/copyright"}
               for i, t in enumerate(FORTUNES_EN)]
    return {"target": target, "general": general}


def make_clean(root: Path) -> None:
    """What the dedup_clean stage leaves behind, for the small corpus: data/clean and its two reports."""
    report, stats = {}, {}
    for split, docs in raw_docs().items():
        res = clean_stream(iter(docs), root / "data/clean" / f"{split}.jsonl",
                           {"language": "de" if split == "target" else "en", "workers": 1})
        report[split], stats[split] = res.metrics, res.stats
    write_json(root / "reports/clean.json", report)
    write_json(root / "reports/clean_stats.json", stats)


def build(root: Path, tokenizer, batch_size: int = 2) -> dict:
    return datacard.build_card(root / "data/clean", root / "reports/clean.json", root / "reports/clean_stats.json",
                               tokenizer, batch_size, tokenizer_name="smollm2")


def test_card_counts_documents_characters_tokens_and_licences_per_source(tmp_path, smollm2_tokenizer):
    make_clean(tmp_path)
    card = build(tmp_path, smollm2_tokenizer)
    target = card["splits"]["target"]
    fd, help_de = target["sources"]["fortunes-de"], target["sources"]["libreoffice-help-de"]
    kept = [json.loads(ln) for ln in (tmp_path / "data/clean/target.jsonl").read_text(encoding="utf-8").splitlines()]
    for name, s in target["sources"].items():
        texts = [d["text"] for d in kept if d["source"] == name]
        assert s["documents"] == len(texts) and s["characters"] == sum(map(len, texts))
        # batch encode (batches of 2) == one document at a time
        assert s["tokens"] == sum(len(smollm2_tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    assert (fd["documents"], help_de["documents"]) == (4, 2)
    assert fd["tokens"] > 40 and help_de["tokens"] > 40
    assert fd["licenses"] == ["GPL-2+"] and help_de["licenses"] == ["MPL-2.0"]
    assert (fd["input_documents"], fd["removed"]["too_short"], fd["removed"]["exact_duplicate"],
            fd["removed"]["language"]) == (7, 1, 1, 1)
    assert fd["languages"]["de"] == 5 and fd["languages"]["en"] == 1  # the 6 documents that reached rule 10
    assert target["documents"] == 6 and target["input_documents"] == 9 and target["kept_share"] == round(6 / 9, 4)
    assert target["tokens"] == fd["tokens"] + help_de["tokens"]
    assert set(target["removed"]) == set(REMOVAL_KEYS)
    assert sum(target["length_histogram"]["counts"]) == 6
    assert card["splits"]["general"]["sources"]["fortunes-en"]["licenses"] == ["see usr/share/doc/fortunes/copyright"]

    head = datacard.headline(card)
    assert head["target"]["tokens"] == target["tokens"]
    assert head["target"]["sources"]["fortunes-de"] == {"documents": 4, "tokens": fd["tokens"]}
    assert head["target"]["removed"]["language"] == 1


def test_outputs_json_csv_png_markdown(tmp_path, smollm2_tokenizer):
    make_clean(tmp_path)
    card = build(tmp_path, smollm2_tokenizer)
    paths = datacard.write_outputs(card, tmp_path / "out")
    assert json.loads(paths["card.json"].read_text(encoding="utf-8")) == card
    assert json.loads(paths["metrics.json"].read_text(encoding="utf-8")) == datacard.headline(card)
    assert paths["data_card.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tokens_csv = paths["tokens_per_source.csv"].read_text(encoding="utf-8").splitlines()
    assert tokens_csv[0] == "source,documents,characters,tokens"
    fd = card["splits"]["target"]["sources"]["fortunes-de"]
    assert f"target/fortunes-de,4,{fd['characters']},{fd['tokens']}" in tokens_csv
    hist = paths["length_histogram.csv"].read_text(encoding="utf-8").splitlines()
    assert hist[0] == "split,length,documents" and "target,target 50-99,3" in hist and "target,target 100-199,3" in hist
    md = paths["data_card.md"].read_text(encoding="utf-8")
    assert "| libreoffice-help-de | 2 |" in md and "MPL-2.0" in md and "exact_duplicate 1" in md


def test_bad_input_names_the_file_or_key(tmp_path, smollm2_tokenizer):
    with pytest.raises(InputError, match="data_card.batch_size: expected an integer >= 1, got 0"):
        datacard.validate_cfg({"batch_size": 0})
    with pytest.raises(InputError, match="data_card.tokeniser: unknown key"):
        datacard.validate_cfg({"tokeniser": "models/base"})
    with pytest.raises(InputError, match="tokenizer.json not found"):
        datacard.load_tokenizer(tmp_path)
    make_clean(tmp_path)
    (tmp_path / "reports/clean_stats.json").unlink()
    with pytest.raises(InputError, match="clean_stats.json: not found"):
        build(tmp_path, smollm2_tokenizer)
    make_clean(tmp_path)
    write_jsonl(tmp_path / "data/clean/general.jsonl", [{"source": "x"}])
    with pytest.raises(InputError, match=r"general.jsonl:1: expected a JSON object with a string field 'text'"):
        build(tmp_path, smollm2_tokenizer)


def run_script(name: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, str(REPO / "pipelines" / name)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.integration
def test_stages_end_to_end_and_dvc_metrics_show(tmp_path, smollm2_tokenizer):
    """dedup_clean (streaming, 2 spawn workers) then data_card as scripts; `dvc metrics show` lists the card."""
    for split, docs in raw_docs().items():
        write_jsonl(tmp_path / "data/raw" / f"{split}.jsonl", docs)
    smollm2_tokenizer.save_pretrained(tmp_path / "tok")
    params = {"clean": {"workers": 2, "parallel_min_docs": 1}, "clean_general": {"language": "en"},
              "data_card": {"tokenizer": "tok", "batch_size": 3}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    r = run_script("dedup_clean.py", tmp_path)
    assert r.returncode == 0, r.stderr
    stats = json.loads((tmp_path / "reports/clean_stats.json").read_text(encoding="utf-8"))
    assert stats["target"]["sources"]["fortunes-de"]["kept_docs"] == 4
    r = run_script("data_card.py", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "target: 6 documents" in r.stdout
    assert sorted(p.name for p in (tmp_path / "reports/data_card").iterdir()) == [
        "card.json", "data_card.md", "data_card.png", "length_histogram.csv", "metrics.json", "tokens_per_source.csv"]

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"data_card": stages["data_card"]}}), encoding="utf-8")
    dvc = [str(Path(sys.executable).parent / "dvc")]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(dvc + ["init", "-q"], cwd=tmp_path, check=True)
    shown = subprocess.run(dvc + ["metrics", "show", "--json"], cwd=tmp_path, capture_output=True, text=True,
                           check=True)
    metrics = json.loads(shown.stdout)
    [(_, ws)] = metrics.items()
    card_metrics = ws["data"]["reports/data_card/metrics.json"]["data"]
    card = json.loads((tmp_path / "reports/data_card/card.json").read_text(encoding="utf-8"))
    assert card_metrics["target"]["tokens"] == card["splits"]["target"]["tokens"] > 0
    assert card_metrics["target"]["removed"]["language"] == 1

    # Bad params: exit 1 with the key named, nothing half-written.
    params["data_card"]["batch_size"] = "many"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    r = run_script("data_card.py", tmp_path)
    assert r.returncode == 1 and "error: data_card.batch_size" in r.stderr


def test_card_shows_what_ingest_skipped_and_repaired(tmp_path, smollm2_tokenizer):
    make_clean(tmp_path)
    named = {"file": "usr/share/man/de/man1/x.1.gz", "detail": "line 3: '.so /etc/passwd' removed"}
    fd = {"files": 48, "docs": 7, "chars": 1, "skipped": {"empty": 2}, "repaired": {"roff_request": 1},
          "named": {"empty": {"count": 2, "files": [{"file": "de/a"}, {"file": "de/b"}]},
                    "roff_request": {"count": 1, "files": [named]}}}
    write_json(tmp_path / "reports/ingest.json", {"target": {"sources": {"fortunes-de": fd}}, "general": {}})
    card = datacard.build_card(tmp_path / "data/clean", tmp_path / "reports/clean.json",
                               tmp_path / "reports/clean_stats.json", smollm2_tokenizer, 2,
                               ingest_report=tmp_path / "reports/ingest.json")
    src = card["splits"]["target"]["sources"]
    assert src["fortunes-de"]["ingest"] == {k: fd[k] for k in ("files", "skipped", "repaired", "named")}
    assert "ingest" not in src["libreoffice-help-de"]  # not in the ingest report
    md = datacard.markdown(card)
    assert "Ingest of fortunes-de: 48 files read; skipped: empty 2; repaired: roff_request 1." in md
    assert "- roff_request: usr/share/man/de/man1/x.1.gz" in md and "- empty: de/a, de/b" in md
