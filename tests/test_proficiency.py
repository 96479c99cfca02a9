"""Proficiency measures (langcpt.proficiency): chrF wiring, dictionary acceptance with the real Debian German
Hunspell dictionary, distinct-n, repetition, language share, the gettext pairs of a real Debian catalog, the
contamination check, the gates, and the eval_data + evaluate stages on tiny random models."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, make_tiny_model_dir

from langcpt import proficiency as prof
from langcpt.fileio import InputError
from langcpt.ingest import debian_package
from langcpt.packing import save_blocks, tokenize_and_pack

GERMAN = ["Die Straße ist nass, und die Bäume im Garten sind grün.",
          "Mit dem Befehl ls kann man den Inhalt eines Verzeichnisses anzeigen.",
          "Ich fühle mich heute müde, aber eigentlich bin ich zufrieden."]
ENGLISH = ["The street is wet and the trees in the garden are green.",
           "With the command ls you can list the contents of a directory."]


@pytest.fixture(scope="module")
def speller(test_cache):
    root, _ = debian_package("hunspell-de-de", None, test_cache, "test")
    return prof.Speller(root / "usr/share/hunspell/de_DE")


@pytest.fixture(scope="module")
def apt_catalog(test_cache):
    root, _ = debian_package("apt", None, test_cache, "test")
    return root / "usr/share/locale/de/LC_MESSAGES/apt.mo"


def test_chrf_is_sacrebleus_corpus_chrf():
    from sacrebleu.metrics import CHRF

    refs = ["Die Datei wurde nicht gefunden.", "Pakete werden installiert."]
    assert prof.chrf(refs, refs) == 100.0
    hyp = ["Die Datei ist nicht da.", "Katzen schlafen gern."]
    assert prof.chrf(hyp, refs) == round(CHRF().corpus_score(hyp, [refs]).score, 2)
    assert 0 < prof.chrf(hyp, refs) < prof.chrf([hyp[0], refs[1]], refs) < 100
    assert prof.chrf(["", ""], refs) == 0.0
    with pytest.raises(ValueError, match="2 references"):
        prof.chrf(hyp[:1], refs)


def test_words_are_letter_runs():
    assert prof.words("Grüße, 3 Äpfel -- und don't stop! x_y 42") == ["Grüße", "Äpfel", "und", "don't", "stop",
                                                                      "x", "y"]


def test_distinct_n_and_repetition():
    assert prof.distinct_n(["a b c d"], 1) == 1.0 and prof.repetition_rate(["a b c d e f"], 4) == 0.0
    assert prof.distinct_n(["a b a b"], 1) == 0.5
    assert prof.distinct_n(["a b a b"], 2) == round(2 / 3, 4)  # ab ba ab
    assert prof.distinct_n(["A b", "a A"], 1) == 0.75  # case-folded, mean over texts: (1 + 0.5) / 2
    loop = " ".join(["das ist gut"] * 10)
    assert prof.repetition_rate([loop], 4) == round(1 - 3 / 27, 4)  # 27 4-grams, 3 distinct
    assert prof.repetition_rate([loop, GERMAN[1]], 4) == round((1 - 3 / 27) / 2, 4)
    assert prof.distinct_n(["ein"], 2) is None and prof.repetition_rate([], 4) is None


def test_language_share():
    assert prof.language_share(GERMAN, "de") == 1.0
    assert prof.language_share(ENGLISH, "de") == 0.0
    assert prof.language_share(GERMAN + ENGLISH + [""], "de") == round(3 / 6, 4)  # empty text: not German
    assert prof.language_share([], "de") is None


def test_dictionary_acceptance_with_the_debian_german_dictionary(speller):
    assert all(speller.accepts(w) for w in ["Straße", "Verzeichnisses", "Bundesregierung", "Die", "grün"])
    assert not any(speller.accepts(w) for w in ["Strasse", "Verzeichnissess", "xqzt", "Hausers"])
    good = prof.dictionary_acceptance(GERMAN, speller, "de")
    assert good["acceptance"] >= 0.9 and good["texts"] == 3
    bad = prof.dictionary_acceptance(["Die Strase ist nas unt di Beume sint grüün gewesn."], speller, "de")
    assert bad["texts"] == 1 and bad["acceptance"] < 0.6
    # English text is left out when a language is given, counted (and rejected) when not
    assert prof.dictionary_acceptance(ENGLISH, speller, "de") == {"acceptance": None, "words": 0, "texts": 0}
    assert prof.dictionary_acceptance(ENGLISH, speller)["acceptance"] < 0.5


def test_a_repeated_correct_word_does_not_score_well(speller):
    loop = prof.text_measures(["gut " * 40], "de", speller)
    text = prof.text_measures(GERMAN, "de", speller)
    assert loop["dictionary_acceptance"] == 1.0  # every word is spelt right...
    assert loop["distinct_1"] < 0.05 and loop["repetition_4"] > 0.9  # ... and the loop shows here
    assert text["distinct_1"] > 0.9 and text["repetition_4"] == 0.0


def test_sentence_pairs_from_the_real_apt_catalog(apt_catalog):
    catalog = prof.read_catalog(apt_catalog)
    pairs = prof.sentence_pairs(catalog)
    assert len(pairs) >= 40
    assert ("Unable to correct missing packages.", "Fehlende Pakete konnten nicht korrigiert werden.") in pairs
    for src, tgt in pairs:
        assert "%" not in src + tgt and "\n" not in src + tgt and len(prof.words(src)) >= 4 and src[0].isupper()
    assert any("%" in k for k in catalog) and any(len(prof.words(k)) < 4 for k in catalog)  # those were dropped
    shots, scored = prof.select_pairs(pairs, 10, 3, seed=0)
    assert len(shots) == 3 and len(scored) == 10 and not set(shots) & set(scored)
    assert prof.select_pairs(pairs, 10, 3, seed=0) == (shots, scored)
    assert prof.select_pairs(pairs, 10, 3, seed=1) != (shots, scored)
    with pytest.raises(InputError, match="sentence-like"):
        prof.select_pairs(pairs, len(pairs), 1, seed=0)


def test_a_file_that_is_not_a_catalog_is_named(tmp_path):
    bad = tmp_path / "x.mo"
    bad.write_bytes(b"not a catalog at all")
    with pytest.raises(InputError, match="x.mo: not a readable gettext catalog"):
        prof.read_catalog(bad)


def test_contamination_finds_copied_references():
    refs = ["Fehlende Pakete konnten nicht korrigiert werden.", "Der Puffer ist übergelaufen, bitte erneut versuchen.",
            "Ganz neuer Satz ohne jede Spur im Korpus hier."]
    corpus = ["Vorher. Fehlende   Pakete konnten nicht korrigiert werden. Nachher.",
              "der puffer ist übergelaufen, bitte nicht"]
    c = prof.contamination(refs, iter(corpus), n=3)
    # ref 1: 4 of 4 trigrams, verbatim; ref 2: 3 of 5 trigrams (case-folded); ref 3: 0 of 7
    assert c["verbatim_references"] == 1 and c["contaminated_references"] == 2
    assert c["ngram_overlap"] == round(7 / 16, 4) and c["corpus_documents"] == 2
    assert prof.contamination(refs, iter([]), n=3)["ngram_overlap"] == 0.0


def test_continuation_prompts_are_held_out_text_cut_at_words(smollm2_tokenizer):
    tok = smollm2_tokenizer
    sep = tok.convert_tokens_to_ids("<|endoftext|>")
    blocks = tokenize_and_pack(GERMAN * 4, tok, 32, sep)
    prompts, refs = prof.continuation_prompts(tok, blocks, 3, 12, 10, "<|endoftext|>")
    assert len(prompts) == 3 and refs
    vocabulary = set(prof.words(" ".join(GERMAN)))
    for p in prompts + refs:  # whole words only: no fragment of a word cut at a token boundary
        assert "<|endoftext|>" not in p and set(prof.words(p)) <= vocabulary
    assert all(len(prof.words(p)) >= 3 for p in prompts)
    assert prof.continuation_prompts(tok, blocks, 0, 12, 10, "<|endoftext|>") == ([], [])


def test_decoding_settings_follow_the_modelfile():
    s = prof.decoding_settings({"temperature": 0.7, "top_p": 0.9, "repeat_penalty": 1.1, "system": "x"})
    assert s["sampled"] == {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1,
                            "top_k": 40}  # Ollama's default top_k where the Modelfile sets none
    assert s["greedy"] == {"do_sample": False, "repetition_penalty": 1.1}
    assert prof.decoding_settings({"temperature": 0.0})["sampled"]["do_sample"] is False


def test_gates():
    flat = {"base": {"translation_chrf_greedy": 20.0, "continuation_dictionary_greedy": 0.7,
                     "continuation_language_share_greedy": 0.4},
            "pretrained": {"translation_chrf_greedy": 25.0, "continuation_dictionary_greedy": 0.8,
                           "continuation_language_share_greedy": 0.9},
            "sft": {"translation_chrf_greedy": 19.0, "continuation_dictionary_greedy": 0.8,
                    "continuation_language_share_greedy": 0.3}}
    gates = {"enabled": True, "models": ["pretrained", "sft"], "min_translation_chrf_gain": 1.0,
             "min_dictionary_gain": 0.05, "min_language_share": 0.5}
    verdict, failures = prof.apply_gates(flat, gates)
    assert not verdict["passed"] and len(failures) == 2
    assert verdict["checks"]["pretrained_translation_chrf_greedy"]["passed"]
    assert "few-shot translation chrF of `sft` 20.0 -> 19.0" in failures[0] and "share of `sft`" in failures[1]
    assert prof.apply_gates(flat, {**gates, "models": ["pretrained"]})[0]["passed"]
    assert prof.apply_gates(flat, {**gates, "enabled": False}) == ({"enabled": False, "passed": True, "checks": {}}, [])
    _, failures = prof.apply_gates({"base": {}, "pretrained": {}}, {**gates, "models": ["pretrained"],
                                                                     "min_language_share": None})
    assert failures and all("not measured" in f for f in failures)


def test_generate_batch_greedy_is_the_unbatched_greedy(tiny_model_dir):
    from langcpt.evaluation import load_model

    model, tok = load_model(tiny_model_dir)
    side = tok.padding_side
    prompts = ["Die Hauptstadt", "Mit dem Befehl ls kann man den Inhalt"]  # different lengths: left padding
    greedy = {"do_sample": False, "repetition_penalty": 1.0}
    batched = prof.generate_batch(model, tok, prompts, 6, greedy, batch_size=2)
    single = [prof.generate_batch(model, tok, [p], 6, greedy, batch_size=1)[0] for p in prompts]
    assert batched == single and all(batched)
    sampled = prof.decoding_settings({"temperature": 1.0})["sampled"]
    a = prof.generate_batch(model, tok, prompts, 6, sampled, seed=3)
    assert a == prof.generate_batch(model, tok, prompts, 6, sampled, seed=3)  # fixed seed: reproducible
    assert tok.padding_side == side  # the tokenizer is left as it was


def stage_repo(root, tok, test_cache, models=True, **proficiency):
    for seed, name in enumerate(("base", "pretrained", "sft") if models else ()):
        make_tiny_model_dir(root / "models" / name, tok, seed=seed)
    sep = tok.convert_tokens_to_ids("<|endoftext|>")
    (root / "data" / "tokens").mkdir(parents=True)
    save_blocks(root / "data" / "tokens" / "val.npy", tokenize_and_pack(GERMAN * 8, tok, 32, sep))
    save_blocks(root / "data" / "tokens" / "general_val.npy", tokenize_and_pack(ENGLISH * 8, tok, 32, sep))
    (root / "data" / "clean").mkdir(parents=True)  # the "training text": one scored reference copied into it
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"]["cache_dir"] = str(test_cache)
    params["evaluate"].update(max_blocks=2, batch_size=4, max_new_tokens=2, prompts=["Die Hauptstadt"],
                              chat_prompts=["Ich bin müde.", "Hallo!"], gates={**params["evaluate"]["gates"],
                                                                               "enabled": False})
    p = params["evaluate"]["proficiency"]
    p.update(continuations=2, prompt_tokens=16, max_new_tokens=10, chat_max_new_tokens=4, sample_seeds=[0, 1])
    p["translation"].update(sentences=3, shots=1, max_new_tokens=4)
    p.update(proficiency)
    (root / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    return params


def run_script(root, name):
    env = {**os.environ, "LANGCPT_MLFLOW": "0"}
    return subprocess.run([sys.executable, str(REPO / "pipelines" / f"{name}.py")], cwd=root, env=env,
                          capture_output=True, text=True)


@pytest.mark.integration
def test_eval_data_and_evaluate_stages_report_proficiency(tmp_path, smollm2_tokenizer, test_cache):
    stage_repo(tmp_path, smollm2_tokenizer, test_cache)
    (tmp_path / "data/clean/target.jsonl").write_text("")
    assert run_script(tmp_path, "eval_data").returncode == 0
    tr = json.loads((tmp_path / "data/eval/translation.json").read_text())
    copied = tr["pairs"][0][1]  # a scored reference, now put into the training text: the check must see it
    (tmp_path / "data/clean/target.jsonl").write_text(json.dumps({"text": f"Vorher. {copied} Nachher."}) + "\n")
    proc = run_script(tmp_path, "eval_data")
    assert proc.returncode == 0, proc.stderr
    tr = json.loads((tmp_path / "data/eval/translation.json").read_text())
    assert tr["package"] == "apt" and len(tr["pairs"]) == 3 and len(tr["shots"]) == 1
    assert tr["contamination"]["verbatim_references"] == 1 and tr["contamination"]["ngram_overlap"] > 0
    assert (tmp_path / "data/eval/dictionary/de_DE.dic").stat().st_size > 1_000_000

    proc = run_script(tmp_path, "evaluate")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "reports/evaluate/metrics.json").read_text())
    p = metrics["proficiency"]
    assert p["translation_data"]["contamination"]["verbatim_references"] == 1
    for model in ("base", "pretrained", "sft"):
        for decoding in ("greedy", "sampled"):
            assert 0 <= p[model][f"translation_chrf_{decoding}"] <= 100
            assert 0 <= p[model][f"continuation_language_share_{decoding}"] <= 1
        for key in ("distinct_1", "distinct_2", "repetition_4", "dictionary"):  # None (left out): no German words
            assert all(0 <= p[model][k] <= 1 for k in p[model] if f"_{key}_" in k and "spread" not in k)
        assert "translation_chrf_sampled_spread" in p[model] and set(p["seeds"][model]) == {"0", "1"}
    assert "chat_language_share_greedy" in p["sft"] and "chat_language_share_greedy" not in p["pretrained"]
    assert "translation_chat_chrf_greedy" in p["sft"] and "translation_chat_chrf_greedy" not in p["base"]
    assert p["reference"]["continuation_language_share"] == 1.0  # the held-out German text itself
    assert p["reference"]["continuation_dictionary"] > 0.8
    rows = (tmp_path / "reports/evaluate/proficiency_translation.csv").read_text().splitlines()
    assert rows[0] == "label,model,measure,decoding,chrf" and len(rows) == 1 + 3 * 2 + 1 * 2
    text = (tmp_path / "reports/evaluate/proficiency_text.csv").read_text()
    assert "continuation_language_share (greedy) / base" in text
    assert "continuation_dictionary (human) / held-out text" in text
    samples = json.loads((tmp_path / "reports/evaluate/proficiency_samples.json").read_text())
    assert {(s["model"], s["set"]) for s in samples} >= {("base", "translation"), ("sft", "chat")}

    # the gates: random models write no German, so a language-share bound fails the stage with the reason
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["evaluate"]["proficiency"]["gates"].update(enabled=True, min_translation_chrf_gain=None,
                                                      min_dictionary_gain=None, min_language_share=0.5)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    proc = run_script(tmp_path, "evaluate")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "target-language share of `pretrained`'s continuations" in proc.stderr
    gates = json.loads((tmp_path / "reports/evaluate/metrics.json").read_text())["gates"]
    assert gates["passed"] is False and gates["proficiency"]["enabled"] is True


def test_eval_data_names_a_missing_catalog(tmp_path, smollm2_tokenizer, test_cache):
    params = stage_repo(tmp_path, smollm2_tokenizer, test_cache, models=False)
    params["evaluate"]["proficiency"]["translation"]["domain"] = "no-such-domain"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    (tmp_path / "data/clean/target.jsonl").write_text("")
    proc = run_script(tmp_path, "eval_data")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "evaluate.proficiency.translation: package apt" in proc.stderr and "no-such-domain.mo" in proc.stderr
    assert not (tmp_path / "data/eval").exists()
