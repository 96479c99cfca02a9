"""Tests for langcpt.clean: every rule on real German / English text, metrics, per-source stats, streaming,
config checks, determinism."""
from __future__ import annotations

import json

import pytest

from langcpt import clean
from langcpt.fileio import InputError

from langcpt.clean import MODIFIED_KEYS, REMOVAL_KEYS, clean_corpus, clean_stream

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
    assert set(m["modified"]) == set(MODIFIED_KEYS)
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


def test_unicode_fast_path_equals_ftfy():
    """_ftfy_fix_text skips lines ftfy cannot change; on every mix of tricky pieces it must equal ftfy.fix_text."""
    import random

    import ftfy

    pieces = ["Grüße aus Köln", "„Zitat“ – ‚halb‘ …", "FranzÃ¶sisch", "Ã„rger", "cafÃ©", "&amp; &lt;b&gt;", "<b>fett</b>",
              "a\r\nb", "\x1b[31mrot\x1b[0m", "ﬁnden", "ＡＢＣ", "\x85", "Â§ 5", "§ 5 °C «x» 10 €", "├──┤", "\u2028",
              "x\x00y", "plain ascii", "\n", "\n\n", "¿Qué?", "â€œquotedâ€\x9d", "Ø ø æ", "ÃƒÂ¼", "Ä„ Ö… Ü–"]
    rng = random.Random(0)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) + rng.choice(["", " ", "\n"]) for _ in range(rng.randint(1, 8)))
        assert clean._ftfy_fix_text(text) == ftfy.fix_text(text, clean._FTFY_CONFIG), repr(text)


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
    # boilerplate off: otherwise rule 3 drops BOILERPLATE's menu lines before the repeated-line check
    res = run([ASCII_ART, BROT, ZAHLEN_TABELLE, BOILERPLATE], min_chars=1, language=None, boilerplate=False)
    assert [d["text"] for d in res.docs] == [BROT]
    assert res.metrics["removed"]["low_quality"] == 3
    assert_metrics_add_up(res)
    # Off switches: ratio 0 / 1 let everything through.
    res = run([ASCII_ART, ZAHLEN_TABELLE, BOILERPLATE], min_chars=1, language=None, boilerplate=False,
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


def test_mixed_language_documents_are_classified_whole_unless_language_paragraphs():
    french = "Bonjour à tous, nous allons visiter le musée du Louvre cet après-midi avec les enfants et leurs amis."
    mixed = "\n\n".join(["Rezept", BROT, ENGLISH, "Kurz: gut.", french, WETTER])
    whole = run([mixed, "\n\n".join([ENGLISH, BROT[:120]])])
    assert [d["text"] for d in whole.docs] == [mixed]  # kept whole, English and French included
    assert whole.metrics["removed"]["language"] == 1 and whole.metrics["modified"]["language_paragraphs"] == 0
    res = run([mixed, "\n\n".join([ENGLISH, ENGLISH.upper()])], language_paragraphs=True)
    assert [d["text"] for d in res.docs] == ["\n\n".join(["Rezept", BROT, "Kurz: gut.", WETTER])]
    assert res.metrics["modified"]["language_paragraphs"] == 2  # the second loses everything: removed
    assert res.metrics["removed"]["language"] == 1
    assert_metrics_add_up(res)


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


# BOILERPLATE loses its six menu lines to rule 3 and its one real sentence stays (it was "low_quality" before
# rule 3 existed).
EXPECTED_REMOVED = {
    "empty": 1, "too_short": 1, "too_long": 0, "low_quality": 1, "symbols": 0, "word_length": 0, "stop_words": 0,
    "language": 1, "exact_duplicate": 2, "near_duplicate": 2,
}


def test_corpus_order_fields_and_metrics():
    docs = corpus()
    res = clean_corpus(docs, {})
    assert res.metrics["removed"] == EXPECTED_REMOVED
    kept_paths = [d["path"] for d in res.docs]
    assert kept_paths == ["mem/0", "mem/2", "mem/6", "mem/9", "mem/10", "mem/11"]  # input order
    assert res.docs[4]["text"] == "Willkommen auf unserer Seite über den Gartenbau."
    assert res.metrics["modified"]["boilerplate"] == 1 and res.metrics["modified"]["boilerplate_lines"] == 6
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
        shown = ("null" if default is None else "true" if default is True else "false" if default is False
                 else f'"{default}"' if isinstance(default, str) else str(default))
        assert shown in line.split(), f"{key}: default {shown} not in {line!r}"


# ------------------------------------------------------------------------------------------ new rules 2-3


def test_markup_rule_strips_leftover_tags_and_roff_escapes_only_when_on():
    html_left = "<p>Der Wetterdienst kündigte für das Wochenende <b>kräftige Gewitter</b> an.</p><br/>Ab Montag soll es ruhiger werden."
    roff_left = "Wer \\fBkillall\\fP \\fIname\\fP tippt, beendet alle Prozesse dieses Namens \\(em auch fremde."
    # Real fortune / man-page text with things that look like tags: an IRC nick, a placeholder.
    irc = "<Joey> Ich nix Boss, ich bloss Oberdepp. Aber das sage ich nur hier im Kanal."
    res = run([html_left, roff_left, irc], markup=True, language=None)
    assert [d["text"] for d in res.docs] == [
        "Der Wetterdienst kündigte für das Wochenende kräftige Gewitter an.\n\nAb Montag soll es ruhiger werden.",
        "Wer killall name tippt, beendet alle Prozesse dieses Namens — auch fremde.",
        irc,
    ]
    assert res.metrics["modified"]["markup"] == 2
    assert clean.strip_markup("Werte werden hexadezimal maskiert (\\x<Code>).") == "Werte werden hexadezimal maskiert (\\x<Code>)."
    # Off by default: the text comes through unchanged.
    res = run([html_left, roff_left], language=None)
    assert [d["text"] for d in res.docs] == [html_left, roff_left]
    assert res.metrics["modified"]["markup"] == 0


def test_boilerplate_lines_are_removed_and_counted():
    page = "\n".join([
        "Startseite > Ratgeber > Garten",
        "Zum Inhalt springen",
        BROT,
        "Diese Website verwendet Cookies, um Ihnen das beste Nutzererlebnis zu bieten.",
        "Bitte aktivieren Sie JavaScript, um alle Funktionen zu nutzen.",
        "Startseite | Impressum | Datenschutz | Kontakt",
        "© 2021 Bäckerei Müller GmbH. Alle Rechte vorbehalten.",
    ])
    # Good text that mentions cookies, JavaScript, "Nach oben" or uses | and > is left alone (real corpus lines).
    fortune = "Wer JavaScript aktiviert hat, hat's leichter mit dem Klicken.\nfortune-Cookies zu extrahieren."
    manpage = "mcookie - magische Cookies für xauth erzeugen\ncrontab [ -u Benutzer ] [ -i ] { -e | -l | -r }"
    help_page = "Nach oben\n\nErhöht die Priorität der ausgewählten Bedingung.\n\nNach unten\n\nVerringert die Priorität."
    only_boilerplate = "Alle Rechte vorbehalten.\nStartseite | Impressum | Datenschutz | Kontakt"
    res = run([page, fortune, manpage, help_page, only_boilerplate], language=None)
    assert [d["text"] for d in res.docs] == [BROT, fortune, manpage, help_page]
    assert res.metrics["modified"]["boilerplate"] == 2
    assert res.metrics["modified"]["boilerplate_lines"] == 8
    assert res.metrics["removed"]["empty"] == 1  # nothing left of the last document
    assert_metrics_add_up(res)
    res = run([page, only_boilerplate], language=None, boilerplate=False)
    assert res.docs[0]["text"] == page and res.metrics["modified"]["boilerplate_lines"] == 0


# ------------------------------------------------------------------------------------------ new rules 7-9

HASHTAGS = ("Sommer #sommer #sonne #strand #urlaub #meer #ferien #reisen #glück #liebe #instagood #fotografie "
            "#natur #blau #himmel #wellen #sand #entspannung #lebensfreude #auszeit")
ELLIPSIS_FORTUNE = ('Letzte Worte eines Stotterers im Auto als Beifahrer:\n"Frei... frei... frei... frei... '
                    'freilich kommt was!"')


def test_symbol_rule():
    assert clean.symbol_word_ratio(HASHTAGS) > 0.9
    assert clean.symbol_word_ratio(ELLIPSIS_FORTUNE) < 0.5
    res = run([HASHTAGS, ELLIPSIS_FORTUNE, BROT], language=None)
    assert [d["text"] for d in res.docs] == [ELLIPSIS_FORTUNE, BROT]
    assert res.metrics["removed"]["symbols"] == 1
    # Gopher's 0.1 would take the fortune too; null switches the rule off.
    assert run([ELLIPSIS_FORTUNE], language=None, max_symbol_word_ratio=0.1).metrics["removed"]["symbols"] == 1
    assert len(run([HASHTAGS], language=None, max_symbol_word_ratio=None).docs) == 1


def test_word_length_rule():
    vowelless = "f u cn rd ths, u cn gt a gd jb n cmptr prgrmmng."  # a real English fortune
    blob = "Anhang: " + "TWFuIGlzIGRpc3Rpbmd1aXNoZWQsIG5vdCBvbmx5IGJ5IGhpcyByZWFzb24sIGJ1dCBieSB0aGlz " * 3
    compounds = "Lieber Kontaktlinsen als Kontaktschwierigkeiten, sagte der Donaudampfschifffahrtskapitän."
    assert clean.mean_word_length(vowelless) < 2.5 and clean.mean_word_length(blob) > 15
    assert 10 < clean.mean_word_length(compounds) < 15  # Gopher's upper bound 10 would drop it
    res = run([vowelless, blob, compounds, BROT], language=None, min_stop_words=None)
    assert [d["text"] for d in res.docs] == [compounds, BROT]
    assert res.metrics["removed"]["word_length"] == 2
    res = run([vowelless, blob], language=None, min_stop_words=None, min_mean_word_length=None,
              max_mean_word_length=None)
    assert len(res.docs) == 2


def test_stop_word_rule():
    # 30+ words without one German function word: a keyword list, not prose.
    keywords = ("Gartenschlauch Rasenmäher Heckenschere Laubbläser Gartenschere Schubkarre Blumenerde Rindenmulch "
                "Rasendünger Gießkanne Pflanzkübel Hochbeet Gewächshaus Kompostbehälter Vertikutierer Rasentrimmer "
                "Motorsäge Gartenbank Sonnenschirm Gartenleuchte Regentonne Spaten Harke Rechen Gartenhandschuhe "
                "Saatgut Blumenzwiebeln Obstbäume Beerensträucher Rasensamen Teichpumpe Gartenhaus")
    short_quote = "Wer ängstlich fragt, lehrt abzulehnen.\n-- Lucius Annaeus Seneca"  # no stop word, but short
    assert clean.stop_word_count(keywords, clean.STOP_WORDS["de"]) == 0
    assert clean.stop_word_count(BROT, clean.STOP_WORDS["de"]) >= 5
    res = run([keywords, short_quote, BROT])
    assert [d["text"] for d in res.docs] == [short_quote, BROT]
    assert res.metrics["removed"]["stop_words"] == 1
    # Short documents are checked too when stop_words_min_words is 0; the rule is off with min_stop_words null.
    assert run([short_quote], stop_words_min_words=0).metrics["removed"]["stop_words"] == 1
    assert len(run([keywords], min_stop_words=None, language=None).docs) == 1
    # An own list, and English / Basque lists ship.
    assert run([keywords], stop_words=["Spaten", "Harke"], min_stop_words=2, language=None).docs
    assert run([ENGLISH], language="en").docs and {"en", "de", "eu"} <= set(clean.STOP_WORDS)
    basque = ("Euskara Euskal Herriko hizkuntza da eta milaka pertsonak hitz egiten dute egunero etxean, "
              "kalean eta eskolan, baina beste hizkuntza batzuk ere entzuten dira herri askotan.")
    assert clean.stop_word_count(basque, clean.STOP_WORDS["eu"]) >= 3


# ------------------------------------------------------------------------------------------ rule 11 (PII)


def test_email_masking_default_on_phone_masking_opt_in():
    text = ("Fehler meldest du bitte an max.mustermann@example.de oder ruf an: +49 30 1234567 bzw. "
            "(030) 12 34 56. Die Version 4.18.1-1 erschien am 12.03.2021 auf Port 8080.")
    res = run([text])
    masked = res.docs[0]["text"]
    assert "max.mustermann@example.de" not in masked and "an <EMAIL> oder" in masked
    assert "+49 30 1234567" in masked  # phones are left alone by default
    assert res.metrics["modified"]["email"] == 1 and res.metrics["modified"]["phone"] == 0
    res = run([text], mask_phones=True)
    masked = res.docs[0]["text"]
    assert masked.count("<PHONE>") == 2 and "4.18.1-1" in masked and "12.03.2021" in masked and "8080" in masked
    assert res.metrics["modified"]["phone"] == 1
    assert run([text], mask_emails=False).docs[0]["text"] == text
    assert clean.mask_emails("Mit @Anna und a@b reden.") == ("Mit @Anna und a@b reden.", 0)


# ------------------------------------------------------------------------------------------ stats and streaming


def test_per_source_stats_add_up():
    docs = [doc(BROT, 0, source="a", license="GPL-2+"), doc(ENGLISH, 1, source="a", license="GPL-2+"),
            doc(WETTER, 2, source="b", license="MPL-2.0"), doc(BROT.upper(), 3, source="b", license="MPL-2.0"),
            doc("Zu kurz.", 4, source="b", license="MPL-2.0")]
    res = clean_corpus(docs, {})
    st = res.stats
    assert list(st["sources"]) == ["a", "b"]
    a, b = st["sources"]["a"], st["sources"]["b"]
    assert (a["input_docs"], a["kept_docs"], a["removed"]["language"]) == (2, 1, 1)
    assert (b["input_docs"], b["kept_docs"], b["removed"]["exact_duplicate"], b["removed"]["too_short"]) == (3, 1, 1, 1)
    assert a["licenses"] == ["GPL-2+"] and b["licenses"] == ["MPL-2.0"]
    assert a["languages"] == {"de": 1, "en": 1} and b["languages"] == {"de": 2}  # docs that reached rule 10
    for key in ("input_docs", "kept_docs", "input_chars", "kept_chars"):
        assert a[key] + b[key] == res.metrics[key]
    for k in REMOVAL_KEYS:
        assert a["removed"][k] + b["removed"][k] == res.metrics["removed"][k]
    assert sum(st["length_histogram"]) == res.metrics["kept_docs"]
    assert st["length_histogram"][clean.length_bin(len(BROT))] == 2  # BROT and WETTER: 200-499 characters
    assert clean.length_bin(0) == 0 and clean.length_bin(10**6) == len(clean.LENGTH_BINS) - 1
    assert json.loads(json.dumps(st)) == st  # JSON-ready


def big_corpus() -> list[dict]:
    base = [d["text"] for d in corpus()]
    texts = base + [t.replace("die", "eine") for t in base] + [f"{t} Nummer {i}." for i, t in enumerate(base)]
    return [doc(t, i, source=f"s{i % 3}") for i, t in enumerate(texts)]


def test_stream_writes_the_same_as_clean_corpus_with_1_and_2_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(clean, "_CHUNK_DOCS", 4)  # many chunks, several in flight
    docs = big_corpus()
    ref = clean_corpus(docs, {"workers": 1})
    for workers in (1, 2):
        out = tmp_path / f"w{workers}.jsonl"
        res = clean_stream(iter(docs), out, {"workers": workers, "parallel_min_docs": 1})
        lines = out.read_text(encoding="utf-8").splitlines()
        assert [json.loads(ln) for ln in lines] == ref.docs
        assert lines == [json.dumps(d, ensure_ascii=False) for d in ref.docs]
        assert res.metrics == ref.metrics and res.stats == ref.stats
        assert res.near_duplicate_examples == ref.near_duplicate_examples
    assert ref.metrics["removed"]["near_duplicate"] > 0 and ref.metrics["removed"]["exact_duplicate"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w1.jsonl", "w2.jsonl"]  # no temporary files left


def test_stream_reads_input_lazily_with_bounded_lookahead(monkeypatch):
    """The pool gets at most 2 x workers chunks ahead of the consumer: memory does not grow with the input."""
    monkeypatch.setattr(clean, "_CHUNK_DOCS", 10)
    pulled = 0

    def endless():
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield doc(f"{BROT} Nummer {i}.", i)

    p = clean.validate_cfg({"workers": 2, "parallel_min_docs": 1})
    gen = clean._processed(endless(), p)
    chunk, rows, sigs = next(gen)
    assert len(chunk) == len(rows) == 10 and sigs.shape == (10, 128)
    assert pulled <= (2 * 2 + 2) * 10
    gen.close()  # stops the pool


def test_bad_document_mid_stream_leaves_no_output(tmp_path):
    out = tmp_path / "kept.jsonl"
    docs = [doc(BROT, 0)] * 700 + [{"source": "x"}]
    with pytest.raises(InputError, match="document 700: 'text' must be a string"):
        clean_stream(iter(docs), out, {})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"markup": 1}, "clean.markup: expected true or false, got 1"),
        ({"max_symbol_word_ratio": -0.1}, "clean.max_symbol_word_ratio: expected a number >= 0 or null, got -0.1"),
        ({"min_mean_word_length": 8, "max_mean_word_length": 4}, "clean.min_mean_word_length: 8.0 is larger"),
        ({"min_stop_words": 1.5}, "clean.min_stop_words: expected an integer >= 0 or null"),
        ({"stop_words": "der die das"}, "clean.stop_words: expected a list of strings or null"),
        ({"stop_words": ["der", ""]}, "clean.stop_words"),
        ({"language": "pl"}, "clean.min_stop_words: no stop-word list ships for language 'pl'"),
        ({"mask_phones": True, "phone_region": "XX"}, "clean.phone_region: 'XX' is not a region"),
    ],
)
def test_bad_config_of_new_rules_names_the_key(cfg, message):
    with pytest.raises(InputError) as exc:
        clean_corpus([doc(BROT)], cfg)
    assert message in str(exc.value)
    assert clean.validate_cfg({"language": "pl", "min_stop_words": None})["language"] == "pl"
