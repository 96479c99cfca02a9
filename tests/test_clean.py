"""Tests for langcpt.clean: every rule on real German / English text, metrics, config checks, determinism."""
from __future__ import annotations


import pytest

from langcpt import clean
from langcpt.fileio import InputError

from langcpt.clean import REMOVAL_KEYS, clean_corpus

# ------------------------------------------------------------------------------------------------ test texts

# About 60 words each, ordinary German prose on unrelated topics.
ZUG = (
    "Am frühen Morgen fuhr der Zug langsam aus dem Bahnhof, und die Reisenden suchten ihre Plätze. "
    "Draußen lag noch Nebel über den Feldern, während die Sonne sich hinter den Hügeln zeigte. "
    "Eine ältere Frau las die Zeitung, ein Kind drückte die Nase an die Scheibe und zählte die Kühe. "
    "Der Schaffner kam vorbei, kontrollierte die Fahrkarten und wünschte allen eine angenehme Reise."
)
# The same paragraph with three words changed (Morgen->Abend, Feldern->Wiesen, Kühe->Pferde).
ZUG_NEAR = (
    "Am frühen Abend fuhr der Zug langsam aus dem Bahnhof, und die Reisenden suchten ihre Plätze. "
    "Draußen lag noch Nebel über den Wiesen, während die Sonne sich hinter den Hügeln zeigte. "
    "Eine ältere Frau las die Zeitung, ein Kind drückte die Nase an die Scheibe und zählte die Pferde. "
    "Der Schaffner kam vorbei, kontrollierte die Fahrkarten und wünschte allen eine angenehme Reise."
)
BROT = (
    "Für ein einfaches Brot braucht man nur Mehl, Wasser, Salz und etwas Hefe. Der Teig wird gründlich "
    "geknetet, bis er glatt und elastisch ist, und ruht dann zugedeckt an einem warmen Ort. Nach etwa "
    "einer Stunde hat er sein Volumen verdoppelt. Anschließend formt man einen Laib und backt ihn im "
    "vorgeheizten Ofen, bis die Kruste goldbraun ist und hohl klingt."
)
WETTER = (
    "Der Wetterdienst kündigte für das Wochenende kräftige Gewitter an. Besonders im Süden des Landes "
    "könne es zu Starkregen, Hagel und Sturmböen kommen. Die Behörden rieten dazu, Gartenmöbel zu sichern "
    "und Fahrten möglichst zu verschieben. Ab Montag soll es wieder ruhiger werden, allerdings bleiben die "
    "Temperaturen für die Jahreszeit ungewöhnlich niedrig."
)
BIBLIOTHEK = (
    "Die Stadtbibliothek hat ihre Öffnungszeiten erweitert und ist nun auch am Samstagnachmittag geöffnet. "
    "Neben Büchern können Besucher dort Zeitschriften, Hörbücher und Filme ausleihen. Im ersten Stock gibt "
    "es ruhige Arbeitsplätze, an denen Schüler und Studenten lernen können. Wer keinen Ausweis besitzt, "
    "kann ihn an der Information gegen eine kleine Gebühr beantragen."
)
ENGLISH = (
    "The committee met on Tuesday to discuss the new budget. After a long debate, the members agreed to "
    "spend more money on schools and public libraries, while the plans for a new parking garage were "
    "postponed until next year. The decision was welcomed by teachers and parents alike."
)
ASCII_ART = (
    "      <<\n"
    "      _>>_    Tee.\n"
    "     |    |\n"
    "     |    |)\n"
    "     |____|\n"
    " =========================================\n"
    " ,:';  ::;  ::  ::  ::   ::   ::  ::,::''.\n"
    " `:,,,,;;' ,;; ,;;, ;;, ,;;, ,;;, `:,,,,:'"
)
ZAHLEN_TABELLE = "Nr. | 2019 | 2020 | 2021\n1 | 1.234,5 | 2.345,6 | 3.456,7\n2 | 4.567,8 | 5.678,9 | 6.789,0\n3 | 7.890,1 | 8.901,2 | 9.012,3"
BOILERPLATE = "\n".join(
    ["Startseite | Impressum | Datenschutz | Kontakt"] * 6 + ["Willkommen auf unserer Seite über den Gartenbau."]
)


def doc(text: str, i: int | str = 0, **extra) -> dict:
    return {"text": text, "source": "test", "path": f"mem/{i}", "license": "CC0-1.0", **extra}


def run(texts: list[str], **cfg):
    return clean_corpus([doc(t, i) for i, t in enumerate(texts)], cfg)


def assert_metrics_add_up(res) -> None:
    m = res.metrics
    assert set(m["removed"]) == set(REMOVAL_KEYS)
    assert m["input_docs"] == m["kept_docs"] + sum(m["removed"].values())
    assert m["kept_docs"] == len(res.docs)
    assert m["kept_chars"] == sum(len(d["text"]) for d in res.docs)


# ---------------------------------------------------------------------------------------------- rule 1 / 2


def test_mojibake_is_repaired():
    res = run(["Mein FranzÃ¶sisch ist schlecht, aber ich verstehe die Leute in Paris ganz gut, wenn sie langsam sprechen."])
    assert len(res.docs) == 1
    text = res.docs[0]["text"]
    assert "Französisch" in text
    assert "Ã" not in text


def test_nfc_control_characters_and_german_quotes():
    decomposed = "Cafe\u0301"  # e + combining acute accent
    raw = f"Er sagte: „Wir treffen uns im {decomposed}.“\x00\x07 Danach\u200b gingen wir\ufeff nach Hause.\fEnde."
    res = run([raw], min_chars=1)
    text = res.docs[0]["text"]
    assert "Café" in text and "\u0301" not in text
    assert "„Wir treffen uns" in text and "“" in text  # German quotes are not "uncurled"
    for ch in ("\x00", "\x07", "\u200b", "\ufeff", "\f"):
        assert ch not in text
    assert text.endswith("nach Hause.\nEnde.")


def test_whitespace_is_normalised_but_paragraphs_stay():
    raw = (
        "  Erster Absatz   mit\t\tzu vielen   Leerzeichen.   \n"
        "Noch eine Zeile im ersten Absatz.\r\n\r\n\r\n\r\n\n"
        "\tZweiter Absatz nach vielen Leerzeilen.  \n\n"
        "Dritter Absatz."
    )
    res = run([raw], min_chars=1, language=None)
    assert res.docs[0]["text"] == (
        "Erster Absatz mit zu vielen Leerzeichen.\n"
        "Noch eine Zeile im ersten Absatz.\n\n"
        "Zweiter Absatz nach vielen Leerzeilen.\n\n"
        "Dritter Absatz."
    )


def test_empty_documents_are_counted():
    res = run(["", "   \n\t \n", "\x00\x01\u200b", BROT], min_chars=0)
    assert [d["text"] for d in res.docs] == [BROT]
    assert res.metrics["removed"]["empty"] == 3
    assert_metrics_add_up(res)


# ---------------------------------------------------------------------------------------------- rules 3-5


def test_length_rule():
    short = "Guten Morgen!"
    long = BROT + "\n\n" + WETTER
    res = run([short, BROT, long], min_chars=20, max_chars=len(BROT))
    assert [d["text"] for d in res.docs] == [BROT]
    assert res.metrics["removed"]["too_short"] == 1
    assert res.metrics["removed"]["too_long"] == 1
    # The bounds are inclusive and measured on the cleaned text.
    res = run(["  " + BROT + "  "], min_chars=len(BROT), max_chars=len(BROT))
    assert [d["text"] for d in res.docs] == [BROT]
    assert_metrics_add_up(res)


def test_quality_rule_removes_ascii_art_tables_and_boilerplate():
    assert clean.alpha_ratio(BROT) > 0.8
    assert clean.alpha_ratio(ASCII_ART) < 0.6
    assert clean.alpha_ratio(ZAHLEN_TABELLE) < 0.6
    assert clean.duplicate_line_ratio(BOILERPLATE) > 0.5
    res = run([ASCII_ART, BROT, ZAHLEN_TABELLE, BOILERPLATE], min_chars=1, language=None)
    assert [d["text"] for d in res.docs] == [BROT]
    assert res.metrics["removed"]["low_quality"] == 3
    assert_metrics_add_up(res)
    # Off switches: ratio 0 / 1 let everything through.
    res = run([ASCII_ART, ZAHLEN_TABELLE, BOILERPLATE], min_chars=1, language=None,
              min_alpha_ratio=0.0, max_duplicate_line_ratio=1.0)
    assert res.metrics["removed"]["low_quality"] == 0


def test_language_rule_keeps_german_removes_english():
    res = run([ENGLISH, BROT, "Bonjour à tous, nous allons visiter le musée du Louvre cet après-midi avec les enfants.", WETTER])
    assert [d["text"] for d in res.docs] == [BROT, WETTER]
    assert res.metrics["removed"]["language"] == 2
    assert_metrics_add_up(res)
    # language "en" flips it; language null switches the rule off.
    assert [d["text"] for d in run([ENGLISH, BROT], language="en").docs] == [ENGLISH]
    assert len(run([ENGLISH, BROT], language=None).docs) == 2
    lang, prob = clean.detect_language(BROT)
    assert lang == "de" and 0.5 <= prob <= 1.0


# ---------------------------------------------------------------------------------------------- rules 6-7


def test_exact_duplicates_including_case_and_whitespace_variants():
    variants = [BROT, BROT.upper(), "  " + BROT.replace(" ", "  \t") + "\n\n", BROT.replace(". ", ".\n")]
    res = run([*variants, WETTER])
    assert [d["path"] for d in res.docs] == ["mem/0", "mem/4"]
    assert res.docs[0]["text"] == BROT
    assert res.metrics["removed"]["exact_duplicate"] == 3
    assert res.metrics["removed"]["near_duplicate"] == 0
    assert_metrics_add_up(res)
    # exact_dedup off: the near-dedup rule catches them instead.
    res = run([*variants, WETTER], exact_dedup=False)
    assert res.metrics["removed"]["exact_duplicate"] == 0
    assert res.metrics["removed"]["near_duplicate"] == 3


def test_near_duplicate_removed_unrelated_kept():
    assert len(ZUG.split()) >= 55
    res = run([ZUG, BROT, ZUG_NEAR, WETTER])
    assert [d["text"] for d in res.docs] == [ZUG, BROT, WETTER]
    assert res.metrics["removed"]["near_duplicate"] == 1
    assert_metrics_add_up(res)
    [ex] = res.near_duplicate_examples
    assert ex["kept"] == ZUG and ex["removed"] == ZUG_NEAR
    assert 0.6 <= ex["jaccard"] < 1.0
    # Switched off, both stay.
    res = run([ZUG, BROT, ZUG_NEAR, WETTER], near_dedup=False)
    assert len(res.docs) == 4 and res.near_duplicate_examples == []


def test_near_duplicate_with_word_shingles_and_example_limit():
    texts = [ZUG, ZUG_NEAR, BROT, BROT.replace("Hefe", "Sauerteig"), WETTER]
    res = run(texts, shingle_words=2, threshold=0.5, max_examples=1)
    assert [d["text"] for d in res.docs] == [ZUG, BROT, WETTER]
    assert res.metrics["removed"]["near_duplicate"] == 2
    assert len(res.near_duplicate_examples) == 1


def test_shingles():
    assert clean.shingles("abcdef", 5) == {"abcde", "bcdef"}
    assert clean.shingles("abc", 5) == {"abc"}
    assert clean.shingles("a b c d", shingle_words=3) == {"a b c", "b c d"}
    assert clean.normalize_for_dedup("  Das  IST\n\n ein\tTEST ") == "das ist ein test"


# ------------------------------------------------------------------------------------------ whole corpus


def corpus() -> list[dict]:
    texts = [
        ZUG, ENGLISH, "FranzÃ¶sisch ist eine schöne Sprache, aber Deutsch gefällt mir noch besser.",
        "", "Zu kurz.", ASCII_ART, BROT, BROT.upper(), ZUG_NEAR, WETTER, BOILERPLATE, BIBLIOTHEK,
        "  " + WETTER + "  ", BIBLIOTHEK.replace("Samstagnachmittag", "Sonntagvormittag"),
    ]
    return [doc(t, i, extra_field={"n": i}) for i, t in enumerate(texts)]


EXPECTED_REMOVED = {
    "empty": 1, "too_short": 1, "too_long": 0, "low_quality": 2, "language": 1,
    "exact_duplicate": 2, "near_duplicate": 2,
}


def test_corpus_order_fields_and_metrics():
    docs = corpus()
    res = clean_corpus(docs, {})
    assert res.metrics["removed"] == EXPECTED_REMOVED
    kept_paths = [d["path"] for d in res.docs]
    assert kept_paths == ["mem/0", "mem/2", "mem/6", "mem/9", "mem/11"]  # input order
    for d in res.docs:
        orig = docs[int(d["path"].split("/")[1])]
        assert {k: v for k, v in d.items() if k != "text"} == {k: v for k, v in orig.items() if k != "text"}
        assert list(d) == list(orig)  # field order kept
    assert res.docs[1]["text"].startswith("Französisch ist")
    assert res.metrics["input_docs"] == len(docs)
    assert res.metrics["input_chars"] == sum(len(d["text"]) for d in docs)
    assert_metrics_add_up(res)
    assert docs[2]["text"].startswith("FranzÃ¶sisch")  # the input is not modified
    assert len(res.near_duplicate_examples) == 2


def test_deterministic_across_runs():
    a = clean_corpus(corpus(), {})
    b = clean_corpus(corpus(), {})
    assert a.docs == b.docs
    assert a.metrics == b.metrics
    assert a.near_duplicate_examples == b.near_duplicate_examples


def test_multiprocessing_path_matches_single_process():
    # Enough documents for several chunks per worker: the corpus plus edited copies of its paragraphs.
    base = [d["text"] for d in corpus()]
    texts = base + [t.replace("die", "eine") for t in base] + [f"{t} Nummer {i}." for i, t in enumerate(base)]
    docs = [doc(t, i) for i, t in enumerate(texts)]
    single = clean_corpus(docs, {"workers": 1})
    pooled = clean_corpus(docs, {"workers": 2, "parallel_min_docs": 1})
    assert pooled.docs == single.docs
    assert pooled.metrics == single.metrics
    assert pooled.near_duplicate_examples == single.near_duplicate_examples
    assert single.metrics["removed"]["near_duplicate"] > 0


def test_accepts_a_generator_and_empty_input():
    res = clean_corpus((doc(t, i) for i, t in enumerate([BROT, WETTER])), None)
    assert len(res.docs) == 2
    res = clean_corpus([], {})
    assert res.docs == [] and res.metrics["input_docs"] == 0
    assert_metrics_add_up(res)


# ------------------------------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"treshold": 0.7}, "clean.treshold: unknown key"),
        ({"threshold": "x"}, "clean.threshold: expected a number in (0, 1], got 'x'"),
        ({"threshold": 0}, "clean.threshold: expected a number in (0, 1], got 0"),
        ({"threshold": 1.5}, "clean.threshold"),
        ({"min_chars": 3.5}, "clean.min_chars: expected an integer >= 0, got 3.5"),
        ({"min_chars": True}, "clean.min_chars"),
        ({"max_chars": 0}, "clean.max_chars"),
        ({"near_dedup": "yes"}, "clean.near_dedup: expected true or false, got 'yes'"),
        ({"language": 7}, "clean.language: expected a string or null, got 7"),
        ({"language": "klingonisch"}, "clean.language: 'klingonisch' is not a language"),
        ({"shingle_words": 0}, "clean.shingle_words"),
        ({"workers": 0}, "clean.workers"),
        ({"seed": -1}, "clean.seed: expected an integer in [0, 4294967295], got -1"),
        ({"min_alpha_ratio": None}, "clean.min_alpha_ratio"),
        ({"min_chars": 500, "max_chars": 100}, "clean.min_chars: 500 is larger than clean.max_chars"),
        ({"threshold": 0.99}, "clean.threshold: 0.99 does not work with clean.num_perm 128"),
    ],
)
def test_bad_config_names_the_key(cfg, message):
    with pytest.raises(InputError) as exc:
        clean_corpus([doc(BROT)], cfg)
    assert message in str(exc.value)


def test_bad_config_type_and_bad_documents():
    with pytest.raises(InputError, match="clean: expected a mapping"):
        clean_corpus([doc(BROT)], ["threshold", 0.7])
    with pytest.raises(InputError, match="document 1: 'text' must be a string"):
        clean_corpus([doc(BROT), {"source": "x"}], {})
    with pytest.raises(InputError, match="document 0: expected a JSON object"):
        clean_corpus(["just a string"], {})


def test_defaults_are_documented():
    for key, default in clean.DEFAULTS.items():
        line = next((ln for ln in clean.__doc__.splitlines() if ln.strip().startswith(key + " ")), None)
        assert line is not None, f"{key} is not documented in the module docstring"
        shown = "null" if default is None else ("true" if default is True else f'"{default}"' if isinstance(default, str) else str(default))
        assert shown in line.split(), f"{key}: default {shown} not in {line!r}"
