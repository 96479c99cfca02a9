"""Tests for langcpt.ingest: real files, real groff, a real Debian package (needs apt's package lists)."""
import gzip
import json
import re

import pytest

from langcpt.fileio import InputError
from langcpt.ingest import fortune_entries, html_to_text, iter_documents, validate_sources


def ingest(sources, cache_dir):
    stats = {}
    return list(iter_documents(sources, cache_dir, stats)), stats


def local(path, **kw):
    return {"name": "loc", "kind": "local", "path": str(path), **kw}


# ---------------------------------------------------------------- local files

def test_local_folder_all_formats(tmp_path):
    d = tmp_path / "corpus"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("Guten Tag.\n", encoding="utf-8")
    (d / "b.md").write_text("# Titel\n\nText.\n", encoding="utf-8")
    (d / "c.html").write_text("<html><head><title>T</title><style>p{}</style></head><body><nav>Menü</nav><h1>Kopf"
                              "</h1><p>Erster\n   Absatz</p><script>var x;</script><p>Zweiter</p></body></html>",
                              encoding="utf-8")
    (d / "d.jsonl").write_text('{"text": "eins"}\n\n{"text": "zwei", "x": 1}\n', encoding="utf-8")
    (d / "sub" / "e.txt").write_bytes("kaputt \xff\xfe hier, schön".encode("latin-1").replace(b"\xf6", b"\xc3\xb6"))
    (d / "ignored.bin").write_bytes(b"\x00\x01")
    (d / ".hidden.txt").write_text("nope")
    docs, stats = ingest([local(d, license="CC0-1.0")], tmp_path / "cache")
    assert [x["path"] for x in docs] == [f"{d}/a.txt", f"{d}/b.md", f"{d}/c.html", f"{d}/d.jsonl#1",
                                         f"{d}/d.jsonl#3", f"{d}/sub/e.txt"]
    assert [x["text"] for x in docs[:2]] == ["Guten Tag.\n", "# Titel\n\nText.\n"]
    assert docs[2]["text"] == "Kopf\n\nErster Absatz\n\nZweiter"
    assert [x["text"] for x in docs[3:5]] == ["eins", "zwei"]
    assert docs[5]["text"] == "kaputt  hier, schön"  # UTF-8 with invalid bytes: the bytes are dropped
    assert {x["source"] for x in docs} == {"loc"} and {x["license"] for x in docs} == {"CC0-1.0"}
    assert stats["loc"] == {
        "docs": 6, "chars": sum(len(x["text"]) for x in docs), "files": 5,
        "skipped": {"unknown_suffix": 1}, "repaired": {"invalid_utf8": 1},
        "named": {"unknown_suffix": {"count": 1, "files": [{"file": f"{d}/ignored.bin", "detail":
                                                           "format auto reads only .txt, .md, .html, .htm, .jsonl"}]},
                  "invalid_utf8": {"count": 1, "files": [{"file": f"{d}/sub/e.txt", "detail":
                                                          "2 invalid UTF-8 byte(s) dropped at byte offset(s) 7"}]}}}


def test_local_single_file_and_max_docs(tmp_path):
    f = tmp_path / "rows.jsonl"
    f.write_text("".join(json.dumps({"body": f"Satz {i}"}) + "\n" for i in range(10)))
    docs, stats = ingest([local(f, text_field="body", max_docs=3)], tmp_path / "cache")
    assert [x["text"] for x in docs] == ["Satz 0", "Satz 1", "Satz 2"]
    assert stats["loc"]["docs"] == 3


def test_many_html_files_keep_order_and_stop_early(tmp_path):
    for i in range(40):  # enough files for the process pool
        (tmp_path / f"seite{i:02d}.html").write_text(f"<p>Seite {i}</p>", encoding="utf-8")
    docs, _ = ingest([local(tmp_path)], tmp_path / "cache")
    assert [x["text"] for x in docs] == [f"Seite {i}" for i in range(40)]
    docs, stats = ingest([local(tmp_path, max_docs=3)], tmp_path / "cache")
    assert [x["text"] for x in docs] == ["Seite 0", "Seite 1", "Seite 2"] and stats["loc"]["docs"] == 3


def test_bad_jsonl_line_names_file_and_line(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"text": "ok"}\n{"text": oops}\n')
    with pytest.raises(InputError, match=re.escape(f"{f}:2")):
        ingest([local(f)], tmp_path / "cache")
    f.write_text('{"text": "ok"}\n{"other": "x"}\n')
    with pytest.raises(InputError, match=re.escape(f"{f}:2") + ".*'text'"):
        ingest([local(f)], tmp_path / "cache")


def test_missing_local_path(tmp_path):
    with pytest.raises(InputError, match="does-not-exist"):
        ingest([local(tmp_path / "does-not-exist")], tmp_path / "cache")


# ---------------------------------------------------------------- formats

def test_fortune_entries():
    text = ("Erster Spruch.\n%\n\nZweiter Spruch,\nzweite Zeile.\n\t\t-- Goethe\n%\n%\n"
            "Dritter % mit Prozent\n%\n")
    assert fortune_entries(text) == ["Erster Spruch.", "Zweiter Spruch,\nzweite Zeile.\n\t\t-- Goethe",
                                     "Dritter % mit Prozent"]


def test_fortune_file_paths(tmp_path):
    (tmp_path / "sprueche").write_text("Eins\n%\nZwei\n%\n", encoding="utf-8")
    (tmp_path / "sprueche.dat").write_bytes(b"\x00\x00\x00\x02\x00\x00\x00\x02\xff")  # strfile index: ignored
    docs, _ = ingest([local(tmp_path, format="fortune")], tmp_path / "cache")
    assert [(x["path"].rsplit("/", 1)[1], x["text"]) for x in docs] == [("sprueche#1", "Eins"), ("sprueche#2", "Zwei")]


MAN_PAGE = r""".\" -*- coding: UTF-8 -*-
.TH TESTSEITE 1 "Januar 2024" "testpaket 1.0" "Benutzerbefehle"
.SH BEZEICHNUNG
testseite \- eine \fBkleine\fR Handbuchseite
.SH BESCHREIBUNG
Die \fIÜberschrift\fP beschreibt, wie Dampfschifffahrtsgesellschaftskapitänsmützen
und Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaften
verwaltet werden \(em mit \(Fo Anführungszeichen \(Fc und \e Rückstrich.
.TP
.B \-v
ausführliche Ausgabe
"""


def test_roff_renders_plain_text(tmp_path):
    d = tmp_path / "man"
    d.mkdir()
    (d / "testseite.1.gz").write_bytes(gzip.compress(MAN_PAGE.encode("utf-8")))
    (d / "alias.1").write_text('.\\" redirect\n.so man1/testseite.1\n')
    long_word = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamte"
    (d / "zmdoc.1").write_text(".Dd 1. Januar 2024\n.Dt ZMDOC 1\n.Os\n.Sh BESCHREIBUNG\n.Nm zmdoc\n"
                               + f"verwaltet {long_word} " * 3 + "\n", encoding="utf-8")
    docs, stats = ingest([local(d, format="roff")], tmp_path / "cache")
    assert len(docs) == 2 and stats["loc"]["skipped"] == {"so_redirect": 1}
    assert stats["loc"]["named"]["so_redirect"]["files"] == [{"file": f"{d}/alias.1", "detail": ".so man1/testseite.1"}]
    assert docs[1]["text"].count(f" {long_word}") == 3  # mdoc page: not hyphenated either
    text = docs[0]["text"]
    assert "BEZEICHNUNG" in text and "testseite - eine kleine Handbuchseite" in text
    assert "Die Überschrift beschreibt" in text and "— mit « Anführungszeichen » und \\ Rückstrich" in text
    assert "Dampfschifffahrtsgesellschaftskapitänsmützen" in text  # not hyphenated
    assert "-v" in text and "ausführliche Ausgabe" in text
    assert not re.search(r"\\[fe(]|\x08|\x1b", text)  # no roff escapes, overstrike or ANSI
    assert "TESTSEITE(1)" not in text and "testpaket 1.0" not in text  # header and footer stripped
    assert not re.search(r"\S  +\S", text.split("BESCHREIBUNG")[1].split("-v")[0])  # ragged right, no padding


def test_html_to_text():
    html = """<html><head><title>x</title></head><body><header>Kopfzeile</header>
      <h1>Titel</h1><div><p>Ein <b>fetter</b>
      Satz.</p><ul><li>eins</li><li>zwei</li></ul></div>
      <pre>code
    eingerückt</pre><footer>Fuß</footer></body></html>"""
    assert html_to_text(html) == "Titel\n\nEin fetter Satz.\n\neins\nzwei\n\ncode\n    eingerückt"


# ---------------------------------------------------------------- Debian packages

@pytest.fixture(scope="session")
def deb_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("ingest-cache")


FORTUNES_DE = {"name": "fortunes-de", "kind": "debian", "package": "fortunes-de",
               "include": ["usr/share/games/fortunes/de/*.u8"], "exclude": ["usr/share/games/fortunes/de/ascii*"],
               "format": "fortune"}


def test_debian_fortunes_de(deb_cache):
    docs, stats = ingest([{**FORTUNES_DE, "max_docs": 20}], deb_cache)
    assert len(docs) == 20 and stats["fortunes-de"]["docs"] == 20
    assert docs[0]["path"] == "usr/share/games/fortunes/de/anekdoten.u8#1"
    assert docs[0]["license"] == "GPL-2+" and docs[0]["package_version"]
    german = " ".join(x["text"] for x in docs)
    assert re.search(r"[äöüß]", german) and re.search(r"\b(der|die|das|und)\b", german)
    debs = sorted((deb_cache / "debs").iterdir())
    assert [p.name for p in debs] == [f"fortunes-de_{docs[0]['package_version']}_all.deb"]
    # second run: cached .deb and extraction are reused, all entries of all files come out
    mtime = debs[0].stat().st_mtime_ns
    docs, stats = ingest([FORTUNES_DE], deb_cache)
    assert len(docs) > 10_000 and stats["fortunes-de"]["files"] > 40
    assert debs[0].stat().st_mtime_ns == mtime and len(list((deb_cache / "pkgs").iterdir())) == 1
    assert len({x["path"] for x in docs}) == len(docs)
    assert not any("asciiart" in x["path"] for x in docs) and any("/witze.u8#" in x["path"] for x in docs)
    pinned, _ = ingest([{**FORTUNES_DE, "version": docs[0]["package_version"], "max_docs": 1}], deb_cache)
    assert pinned == docs[:1] and len(list((deb_cache / "debs").iterdir())) == 1


def test_debian_unknown_package(tmp_path):
    spec = {**FORTUNES_DE, "package": "no-such-package-langcpt"}
    with pytest.raises(InputError, match="(?s)no-such-package-langcpt.*apt-get update"):
        ingest([spec], tmp_path)


# ---------------------------------------------------------------- spec validation and hf

@pytest.mark.parametrize("spec, message", [
    ({"name": "x", "kind": "ftp", "path": "a"}, r"sources\[0\] \('x'\): unknown kind 'ftp'"),
    ({"name": "x", "kind": "local", "path": "a", "fromat": "text"}, r"sources\[0\] \('x'\).*unknown key.*fromat"),
    ({"name": "x", "kind": "debian", "package": "p", "format": "roff"}, r"sources\[0\] \('x'\).*missing.*include"),
    ({"name": "x", "kind": "debian", "package": "p", "include": ["a"], "format": "pdf"}, "'format'"),
    ({"name": "x", "kind": "debian", "package": "p", "include": ["../etc/*"], "format": "text"}, "'include'"),
    ({"name": "x", "kind": "local", "path": "a", "max_docs": -1}, "'max_docs'"),
    ({"kind": "local", "path": "a"}, r"sources\[0\].*missing.*name"),
])
def test_bad_specs(spec, message, tmp_path):
    with pytest.raises(InputError, match=message):
        iter_documents([spec], tmp_path)


def test_duplicate_names_and_index_in_message():
    ok = {"name": "a", "kind": "local", "path": "x"}
    with pytest.raises(InputError, match=r"sources\[1\] \('a'\).*unique"):
        validate_sources([ok, dict(ok)])
    assert validate_sources([ok])[0]["format"] == "auto"


def test_hf_offline_needs_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = {"name": "wiki", "kind": "hf", "dataset": "wikimedia/wikipedia", "config": "20231101.de"}
    with pytest.raises(InputError, match=r"sources\[0\] \('wiki'\).*needs network"):
        ingest([spec], tmp_path)


# ---------------------------------------------------------------- PyPI packages and YAML prose

CORALMAP = {"name": "coralmap", "kind": "pypi", "package": "coralmap", "version": "0.1.0",
            "include": ["coralmap/_bundled/entries/ai_behaviors/*.yaml"], "format": "yaml"}


def test_yaml_prose_keeps_prose_once_in_order(tmp_path):
    (tmp_path / "entry.yaml").write_text(
        "id: kl-000200\nlabel: The AI answers a worry\nstatus: draft\nsince: '2026-08-22'\nbody:\n"
        "  definition: 'It settles the question.'\n  groups: [obsessional-cycle, two words]\n"
        "claims:\n- {id: c1, text: The AI answers a worry}\n- {id: c2, text: A second claim.}\n", encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("a: [unclosed\n", encoding="utf-8")
    docs, _ = ingest([local(tmp_path / "entry.yaml", format="yaml")], tmp_path / "cache")
    assert docs[0]["text"] == "The AI answers a worry\n\nIt settles the question.\n\ntwo words\n\nA second claim."
    with pytest.raises(InputError, match=r"broken\.yaml: not valid YAML"):
        ingest([local(tmp_path / "broken.yaml", format="yaml")], tmp_path / "cache")


@pytest.fixture(scope="session")
def pypi_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("pypi-cache")


def test_pypi_wheel_download_unpack_and_cache(pypi_cache):
    docs, stats = ingest([{**CORALMAP, "max_docs": 3}], pypi_cache)
    assert [d["path"] for d in docs] == ["coralmap/_bundled/entries/ai_behaviors/kl-000104.yaml",
                                         "coralmap/_bundled/entries/ai_behaviors/kl-000200.yaml",
                                         "coralmap/_bundled/entries/ai_behaviors/kl-000201.yaml"]
    assert {d["license"] for d in docs} == {"MIT AND CC-BY-NC-4.0"}  # from the wheel's METADATA
    assert {d["package_version"] for d in docs} == {"0.1.0"} and stats["coralmap"]["package_version"] == "0.1.0"
    paragraphs = docs[0]["text"].split("\n\n")
    assert len(paragraphs) > 5 and all(" " in p for p in paragraphs)  # prose only: no ids, enum values, dates
    assert re.search(r"\b(the|person|AI)\b", docs[0]["text"]) and len(paragraphs) == len(set(paragraphs))
    wheels = sorted((pypi_cache / "pypi").iterdir())
    assert [p.name for p in wheels] == ["coralmap-0.1.0-py3-none-any.whl"]
    # second run: the cached wheel and its unpacked tree are reused; every matching file is read
    mtime = wheels[0].stat().st_mtime_ns
    docs2, stats2 = ingest([{**CORALMAP, "license": "CC-BY-NC-4.0"}], pypi_cache)
    assert wheels[0].stat().st_mtime_ns == mtime and len(list((pypi_cache / "pkgs").iterdir())) == 1
    assert stats2["coralmap"]["files"] == len(docs2) > 100 and {d["license"] for d in docs2} == {"CC-BY-NC-4.0"}
    assert [d["text"] for d in docs2[:3]] == [d["text"] for d in docs]


def test_pypi_unknown_package_or_version(tmp_path):
    with pytest.raises(InputError, match=r"(?s)sources\[0\] \('coralmap'\).*pip download --no-deps coralmap==99\.0"):
        ingest([{**CORALMAP, "version": "99.0"}], tmp_path)
    # 0.0.0 is a real, empty placeholder release: the include globs match nothing in it
    with pytest.raises(InputError, match=r"'include' matches no file in coralmap-0\.0\.0-py3-none-any\.whl"):
        ingest([{**CORALMAP, "version": "0.0.0"}], tmp_path)
    with pytest.raises(InputError, match="no-such-package-langcpt"):
        ingest([{**CORALMAP, "package": "no-such-package-langcpt"}], tmp_path)
    with pytest.raises(InputError, match=r"'format' is 'roff'"):
        ingest([{**CORALMAP, "format": "roff"}], tmp_path)
