"""Stage `eval_data`: the fixed inputs of evaluate's proficiency measures (langcpt.proficiency, docs/proficiency.md).

- data/eval/translation.json: English -> target-language sentence pairs from the gettext catalog of a Debian package
  that is not a training source (`evaluate.proficiency.translation`): the sentence-like messages, a seeded sample of
  few-shot examples and scored pairs, and the contamination check of the scored references against the training
  text (data/clean/target.jsonl: word n-gram overlap, references found verbatim).
- data/eval/dictionary/<name>.aff/.dic: the Hunspell dictionary of `evaluate.proficiency.dictionary`.
Packages come through the ingest stage's Debian cache (`ingest.cache_dir`). Without a translation package or
dictionary (or with proficiency off) the file says so and evaluate leaves those measures out.

    python pipelines/eval_data.py
"""
import shutil
from pathlib import Path

from langcpt import proficiency as prof
from langcpt.fileio import InputError, atomic_path, write_json
from langcpt.ingest import debian_license, debian_package
from langcpt.params import load_params, section
from langcpt.stage import Timer, run_stage

OUT = Path("data/eval")
CORPUS = Path("data/clean/target.jsonl")


def main():
    params = load_params()
    cfg = prof.config(params)
    cache = Path(section(params, "ingest").get("cache_dir", "data/cache"))
    language = section(params, "clean").get("language")
    with Timer() as t, atomic_path(OUT, is_dir=True) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        info = {"translation": None, "dictionary": None}
        tr = cfg and cfg["translation"]
        if tr:
            where = "evaluate.proficiency.translation"
            if not language:
                raise InputError(f"{where}: needs clean.language (the catalog's locale)")
            root, version = debian_package(tr["package"], tr["version"], cache, where)
            rel = f"usr/share/locale/{language}/LC_MESSAGES/{tr['domain']}.mo"
            if not (root / rel).is_file():
                raise InputError(f"{where}: package {tr['package']} {version} has no {rel} (no '{language}' "
                                 "translation of that domain; set translation.package: null to leave translation out)")
            pairs = prof.sentence_pairs(prof.read_catalog(root / rel))
            shots, scored = prof.select_pairs(pairs, tr["sentences"], tr["shots"], tr["seed"])
            refs = [t for _, t in scored]
            cont = prof.contamination(refs, prof.iter_jsonl_texts(CORPUS), tr["contamination_ngram"])
            write_json(tmp / "translation.json", {
                "package": tr["package"], "version": version, "catalog": rel,
                "license": debian_license(root, tr["package"]), "language": language,
                "sentence_like_pairs": len(pairs), "contamination": cont,
                "shots": [list(p) for p in shots], "pairs": [list(p) for p in scored]})
            info["translation"] = {"package": tr["package"], "version": version, "pairs": len(scored),
                                   "sentence_like_pairs": len(pairs), "contamination": cont}
            print(f"translation: {len(scored)} of {len(pairs)} sentence-like pairs of {rel} ({tr['package']} "
                  f"{version}); contamination: {cont['ngram_overlap']:.1%} of reference {cont['ngram']}-grams in "
                  f"{CORPUS}, {cont['contaminated_references']} references half-covered, "
                  f"{cont['verbatim_references']} verbatim", flush=True)
        dc = cfg and cfg["dictionary"]
        if dc:
            where = "evaluate.proficiency.dictionary"
            root, version = debian_package(dc["package"], dc["version"], cache, where)
            (tmp / "dictionary").mkdir()
            for ext in (".aff", ".dic"):
                src = root / "usr/share/hunspell" / (dc["name"] + ext)
                if not src.is_file():
                    raise InputError(f"{where}: package {dc['package']} {version} has no "
                                     f"usr/share/hunspell/{dc['name']}{ext} (check dictionary.name)")
                shutil.copyfile(src, tmp / "dictionary" / (dc["name"] + ext))
            info["dictionary"] = {"package": dc["package"], "version": version, "name": dc["name"],
                                  "license": debian_license(root, dc["package"])}
            print(f"dictionary: {dc['name']} from {dc['package']} {version}", flush=True)
        write_json(tmp / "info.json", info)
    print(f"eval_data: {t.seconds}s")


if __name__ == "__main__":
    run_stage(main)
