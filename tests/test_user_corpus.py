"""A user's own corpus -- files from many tools and eras, some hostile -- through the real ingest and dedup_clean
stages: every encoding decoded right, nothing corrupt in data/raw or data/clean, every skip and repair named, and
no line of any file outside the corpus (roff includes, HTML resources, links, zip and .deb members).
"""
from __future__ import annotations

import codecs
import io
import json
import os
import tarfile
import unicodedata
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from test_bad_input import ENGLISH, run, write_params, write_texts

SECRET = "OUTSIDE-SECRET-7f3a"  # every line of the files outside the corpus holds it
ENV_SECRET = "ENV-SECRET-91c2"
GERMAN = ("Größere Übungen für Bäcker: Wir backen süße Brötchen, und die Straße duftet nach frischem Brot. "
          "Äpfel und Öl kommen aus dem Süden, aus Österreich.")
CP1252_GERMAN = "Er sagte „Grüß Gott“ – und zahlte 5 € für die Maß Bier auf der Wiesn in München."
INVALID = ("Kaputte Bytes: " + GERMAN).encode().replace(b"Wir ", b"Wir \xff\xfe").replace(b"und die", b"und \xc3die")
ROFF_REQUESTS = ["so", "mso", "nx", "pso", "sy", "open", "opena", "cf", "trf", "pi", "hpf", "hpfa", "psbb"]


def _page(lines: list[str]) -> bytes:
    return ("\n".join([".TH BOESE 1", ".SH NAME", "boese \\- eine Seite voller Einbindungen", ".SH BESCHREIBUNG",
                       *lines, "Der Text dieser Seite ist harmlos und endet hier."]) + "\n").encode()


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = b"!<arch>\n"
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode() + data
        out += b"\n" if len(data) % 2 else b""
    return out


def _tar(entries: list[dict]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            data = e.get("data", b"")
            if "sym" in e:
                ti.type, ti.linkname = tarfile.SYMTYPE, e["sym"]
            elif "hard" in e:
                ti.type, ti.linkname = tarfile.LNKTYPE, e["hard"]
            elif e["name"].endswith("/"):
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            else:
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data) if ti.isfile() else None)
    return buf.getvalue()


def make_deb(path: Path, package: str, entries: list[dict]) -> None:
    """A .deb as dpkg builds it (ar: debian-binary, control.tar.gz, data.tar.gz) with the given data members."""
    control = f"Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\n" \
              "Description: test\n"
    dirs = [{"name": d} for d in ("./usr/", "./usr/share/", "./usr/share/games/", "./usr/share/games/fortunes/")]
    path.write_bytes(_ar([("debian-binary", b"2.0\n"), ("control.tar.gz", _tar([{"name": "./control",
                                                                                   "data": control.encode()}])),
                          ("data.tar.gz", _tar(dirs + entries))]))


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("user")
    outside = tmp / "outside"  # outside the repository and the corpus
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("".join(f"{SECRET} line {i}\n" for i in range(3)))
    (outside / "secret.tmac").write_text(f"{SECRET} macro\n")
    root = tmp / "repo"
    c = root / "corpus"

    t = c / "texts"
    t.mkdir(parents=True)
    (t / "latin1.txt").write_bytes(GERMAN.encode("latin-1"))
    (t / "cp1252.txt").write_bytes(CP1252_GERMAN.encode("cp1252"))
    (t / "utf16le.txt").write_bytes(codecs.BOM_UTF16_LE + GERMAN.encode("utf-16-le"))
    (t / "utf16be.txt").write_bytes(codecs.BOM_UTF16_BE + CP1252_GERMAN.encode("utf-16-be"))
    (t / "utf8bom.txt").write_bytes(codecs.BOM_UTF8 + ("Mit Byte-Order-Mark: " + GERMAN).encode())
    (t / "invalid.txt").write_bytes(INVALID)
    (t / "nul.txt").write_bytes(("Nullbytes: " + GERMAN).encode().replace(b" ", b"\x00 ", 3))
    (t / "binary.txt").write_bytes(bytes(range(256)) * 16)
    (t / "empty.txt").write_bytes(b"")
    (t / "decomposed.txt").write_text(unicodedata.normalize("NFD", "Zerlegt: " + GERMAN), encoding="utf-8")
    (t / "replacement.txt").write_text("Schon kaputt: Gr\ufffd\ufffde aus K\ufffdln. " + GERMAN, encoding="utf-8")
    (t / "link.txt").symlink_to(secret)
    (t / "rows.jsonl").write_text(json.dumps({"text": "JSON-Escapes: \ud800 und \x00 in " + GERMAN}) + "\n")
    (t / os.fsdecode(b"gr\xfc\xdfe.txt")).write_text("Ein Dateiname aus alter Zeit: " + GERMAN)  # Latin-1 name
    (t / "page.html").write_text(  # DROP: the page's own text that must not reach the corpus
        f'<!DOCTYPE html [<!ENTITY xx SYSTEM "file://{secret}">]><html><head><title>Titel</title>'
        f'<link rel="stylesheet" href="{secret}"><style>p {{ color: red }} /* DROP */</style>'
        f'<script src="file://{secret}">var s = "DROP";</script></head><body>'
        f'<p>Ein Absatz aus HTML über Bäume &xx; und Wälder, der im Korpus bleiben soll und lang genug ist.</p>'
        f'<template><p>DROP template</p></template><iframe src="file://{secret}">DROP</iframe>'
        f'<object data="{secret}">DROP</object><noscript>DROP</noscript><script>DROP()</script>'
        f'<p>Ende&#0; mit Null&#xfffd; und Ersatzzeichen.</p></body></html>', encoding="utf-8")

    m = c / "man" / "man1"
    m.mkdir(parents=True)
    include_lines = [f".{r} {secret}" for r in ROFF_REQUESTS]
    include_lines += [f".mso {outside / 'secret.tmac'}", f".if 1 .so {secret}", f".ie 1 \\{{ .so {secret}", ".\\}",
                      f".do so {secret}", f".do mso {outside / 'secret.tmac'}", ".cc #", f"#so {secret}", "#cc .",
                      ".als holen so", f".holen {secret}", ".rn mso laden", f".laden {outside / 'secret.tmac'}",
                      ".ds s so", f".\\*s {secret}", f"Umgebung: \\V[LANGCPT_TEST_SECRET] \\V(LA",
                      f".sy touch {tmp / 'sy-ran'}", f".pso touch {tmp / 'pso-ran'}",
                      ".mso geheim.tmac", ".mso secret.tmac", ".so man1/teil.1", ".so ../man1/teil.1", f".so {m / '..' / '..' / '..' / '..' / 'outside' / 'secret.txt'}"]
    (m / "boese.1").write_bytes(_page(include_lines))
    (m / "teil.1").write_text(".\\\" a part other pages include\nDieser Teil liegt im selben Paket und wird "
                              f"eingebunden.\n.so {secret}\n")
    (m / "mdoc.1").write_text(f".Dd Januar 1, 2024\n.Dt MDOC 1\n.Os\n.Sh NAME\n.Nm mdoc\n.Nd Datei einbinden\n"
                              f".Sh BESCHREIBUNG\nVor der Datei.\n.Bd -literal -file {secret}\n.Ed\n"
                              f".Hf {secret}\nNach der Datei.\n")
    (m / "latin1.1").write_bytes(_page([GERMAN]).decode().encode("latin-1"))

    cache = tmp / "cache"  # a .deb and a wheel with members that reach outside, taken from the cache
    (cache / "debs").mkdir(parents=True)
    fdir = "./usr/share/games/fortunes/de/"
    make_deb(cache / "debs" / "linky_1.0_all.deb", "linky", [
        {"name": fdir}, {"name": fdir + "gut.u8", "data": f"Ein guter Spruch: {GERMAN}\n%\n".encode()},
        {"name": fdir + "abs.u8", "sym": str(secret)},
        {"name": fdir + "rel.u8", "sym": "../" * 12 + str(secret).lstrip("/")}])
    make_deb(cache / "debs" / "escape_1.0_all.deb", "escape", [
        {"name": fdir}, {"name": fdir + "gut.u8", "data": b"Gut.\n"},
        {"name": fdir + "../" * 8 + str(tmp / "escaped-deb.u8").lstrip("/"), "data": b"escaped\n"},
        {"name": fdir + "dir", "sym": str(outside)}, {"name": fdir + "dir/through.u8", "data": b"through\n"},
        {"name": fdir + "hart.u8", "hard": str(secret)}])
    (cache / "pypi").mkdir()
    with zipfile.ZipFile(cache / "pypi" / "zippy-1.0-py3-none-any.whl", "w") as z:
        z.writestr("zippy/LIESMICH.txt", f"Eine Anleitung: {GERMAN}")
        z.writestr("../../../escaped-zip.txt", "escaped")
        z.writestr(str(tmp / "absolute-zip.txt"), "absolute")
        link = zipfile.ZipInfo("zippy/link.txt")
        link.external_attr = 0o120777 << 16  # a symlink member: zipfile writes its target as a plain file
        z.writestr(link, str(secret))

    write_texts(c / "general", ENGLISH)
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["ingest"].update(cache_dir=str(cache), report_max_files=50, target_sources=[
        {"name": "texts", "kind": "local", "path": "corpus/texts", "format": "auto"},
        {"name": "man", "kind": "local", "path": "corpus/man", "format": "roff"},
        {"name": "linky", "kind": "debian", "package": "linky", "include": [fdir.lstrip("./") + "*"],
         "format": "fortune"},
        {"name": "zippy", "kind": "pypi", "package": "zippy", "include": ["**/*.txt", "*.txt"], "format": "text"}],
        general_sources=[{"name": "general", "kind": "local", "path": "corpus/general", "format": "auto"}])
    params["clean"].update(min_stop_words=None, near_dedup=False)
    write_params(root, params)
    home = tmp / "home"  # groff searches $HOME for `.mso NAME`
    home.mkdir()
    (home / "geheim.tmac").write_text(f"{SECRET} in home\n")
    env = {"LANGCPT_TEST_SECRET": ENV_SECRET, "HOME": str(home), "GROFF_TMAC_PATH": str(outside)}
    ingest = run("ingest", root, env=env)
    clean = run("dedup_clean", root) if ingest.returncode == 0 else None
    escape = dict(params["ingest"], target_sources=[{"name": "escape", "kind": "debian", "package": "escape",
                                                     "include": ["**/*.u8"], "format": "fortune"}])
    return {"root": root, "tmp": tmp, "ingest": ingest, "clean": clean, "params": params, "escape": escape}


def _sources(user) -> dict:
    assert user["ingest"].returncode == 0, user["ingest"].stderr[-4000:]
    return json.loads((user["root"] / "reports/ingest.json").read_text(encoding="utf-8"))["target"]["sources"]


def _docs(path: Path) -> dict[str, str]:
    return {d["path"]: d["text"] for d in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def _named(st: dict, reason: str) -> dict[str, str]:
    return {f["file"].rsplit("/", 1)[-1]: f.get("detail", "") for f in st["named"][reason]["files"]}


def test_every_stage_output_is_clean_utf8_without_outside_lines(user):
    _sources(user)
    assert user["clean"].returncode == 0, user["clean"].stderr[-4000:]
    outputs = [*(user["root"] / "data/raw").glob("*.jsonl"), *(user["root"] / "data/clean").glob("*.jsonl")]
    assert len(outputs) == 4
    for path in outputs:
        raw = path.read_bytes()
        text = raw.decode("utf-8")  # strict: the files are UTF-8
        assert not raw.startswith(codecs.BOM_UTF8)
        for doc in _docs(path).values():
            for bad in ("\ufffd", "\x00", "\ufeff"):
                assert bad not in doc, (path, bad, doc[:200])
            assert not any("\ud800" <= ch <= "\udfff" for ch in doc)
            if "clean" in path.parts[-2]:
                assert unicodedata.is_normalized("NFC", doc)
        for leak in (SECRET, ENV_SECRET, "root:x:0:0"):
            assert leak not in text, (path, leak)
    for marker in ("sy-ran", "pso-ran", "escaped-deb.u8", "escaped-zip.txt", "absolute-zip.txt"):
        assert not (user["tmp"] / marker).exists(), marker
    assert not (user["tmp"] / "outside" / "through.u8").exists()


def test_every_encoding_is_decoded_to_the_right_text(user):
    st = _sources(user)["texts"]
    docs = {p.rsplit("/", 1)[-1]: t for p, t in _docs(user["root"] / "data/raw/target.jsonl").items()}
    assert docs["latin1.txt"] == GERMAN and docs["utf16le.txt"] == GERMAN
    assert docs["cp1252.txt"] == CP1252_GERMAN and docs["utf16be.txt"] == CP1252_GERMAN
    assert docs["utf8bom.txt"] == "Mit Byte-Order-Mark: " + GERMAN
    assert docs["invalid.txt"] == "Kaputte Bytes: " + GERMAN and docs["nul.txt"] == "Nullbytes: " + GERMAN
    decoded = _named(st, "decoded")
    assert decoded["latin1.txt"].startswith("cp1252") and decoded["cp1252.txt"].startswith("cp1252")
    assert decoded["utf16le.txt"] == "utf-16-le (byte order mark)"
    assert decoded["utf16be.txt"] == "utf-16-be (byte order mark)"
    assert "utf8bom.txt" not in decoded  # a UTF-8 BOM is no repair: it is dropped
    offsets = INVALID.index(b"\xff\xfe"), INVALID.index(b"\xc3die")
    assert _named(st, "invalid_utf8")["invalid.txt"] == \
        f"3 invalid UTF-8 byte(s) dropped at byte offset(s) {offsets[0]}, {offsets[1]}"
    assert _named(st, "nul")["nul.txt"] == "3 removed, line(s) 1"
    assert docs["rows.jsonl#1"] == "JSON-Escapes:  und  in " + GERMAN
    assert _named(st, "surrogate")["rows.jsonl"] == "entry 1: 1 lone surrogate(s) removed, line(s) 1"
    assert _named(st, "nul")["rows.jsonl"] == "entry 1: 1 removed, line(s) 1"
    assert set(_named(st, "file_name")) == {"grüße.txt"} and docs["grüße.txt"].startswith("Ein Dateiname")
    assert _named(st, "replacement_char")["replacement.txt"].startswith("3 removed")
    clean = {p.rsplit("/", 1)[-1]: t for p, t in _docs(user["root"] / "data/clean/target.jsonl").items()}
    assert clean["decomposed.txt"] == unicodedata.normalize("NFC", "Zerlegt: " + GERMAN)


def test_every_skip_is_named_with_its_reason(user):
    src = _sources(user)
    st = src["texts"]
    assert set(_named(st, "binary")) == {"binary.txt"}
    assert set(_named(st, "empty")) == {"empty.txt"}
    assert set(_named(st, "link_outside")) == {"link.txt"}
    assert st["skipped"] == {"link_outside": 1, "binary": 1, "empty": 1}
    assert st["files"] == 14 and st["docs"] == 12  # 15 files, the link is never read
    assert set(_named(src["linky"], "link_outside")) == {"abs.u8", "rel.u8"}
    err = user["ingest"].stderr
    for line in ("skipped binary: ", "skipped link_outside: ", "repaired invalid_utf8: ", "repaired decoded: ",
                 "repaired roff_request: ", "repaired roff_env: "):
        assert line in err, (line, err[-3000:])
    assert "ingest.target_sources 'texts': 14 files read, 12 documents, skipped 3 (" in err
    assert err.rstrip().splitlines()[-1].startswith("ingest: ")  # the summary line


def test_roff_includes_outside_the_folder_are_removed_and_named(user):
    st = _sources(user)["man"]
    docs = {p.rsplit("/", 1)[-1]: " ".join(t.split()) for p, t in
            _docs(user["root"] / "data/raw/target.jsonl").items()}
    page = docs["boese.1"]
    assert "Der Text dieser Seite ist harmlos und endet hier." in page
    assert page.count("Dieser Teil liegt im selben Paket und wird eingebunden.") == 2  # .so inside: inlined
    assert "Umgebung:" in page
    assert "Vor der Datei." in docs["mdoc.1"] and "Nach der Datei." in docs["mdoc.1"]
    assert GERMAN in docs["latin1.1"]
    removed = st["named"]["roff_request"]
    assert [f["file"].rsplit("/", 1)[-1] for f in removed["files"]] == ["boese.1", "teil.1"]
    detail = _named(st, "roff_request")["boese.1"]
    assert detail.startswith("line 5: '.so ") and "more" in detail
    assert _named(st, "roff_env")["boese.1"].startswith("line ")


def test_html_scripts_styles_templates_and_resources_stay_out(user):
    docs = {p.rsplit("/", 1)[-1]: t for p, t in _docs(user["root"] / "data/raw/target.jsonl").items()}
    html = docs["page.html"]
    assert "Ein Absatz aus HTML über Bäume" in html and "Ende mit Null und Ersatzzeichen." in html
    assert "DROP" not in html and "color" not in html


def test_zip_members_cannot_escape_and_links_are_not_followed(user):
    docs = {p: t for p, t in _docs(user["root"] / "data/raw/target.jsonl").items()}
    zipped = {p: t for p, t in docs.items() if p.startswith("zippy/") or p.endswith("-zip.txt")}
    assert zipped["zippy/LIESMICH.txt"] == f"Eine Anleitung: {GERMAN}"
    assert zipped["zippy/link.txt"] == str(user["tmp"] / "outside" / "secret.txt")  # the link's target, as text


def test_a_deb_whose_members_leave_the_package_is_refused(user, tmp_path):
    root = tmp_path / "repo"
    write_texts(root / "corpus" / "general", ENGLISH)
    write_params(root, {**user["params"], "ingest": user["escape"]})
    proc = run("ingest", root)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "'dpkg -x " in proc.stderr and "Member name contains '..'" in proc.stderr
    assert not (user["tmp"] / "escaped-deb.u8").exists()
    assert not (user["tmp"] / "outside" / "through.u8").exists()
    assert not (root / "data" / "raw").exists()


def test_every_reason_is_documented():
    from langcpt.ingest import REPAIR_REASONS, SKIP_REASONS

    docs = (REPO / "docs/data.md").read_text(encoding="utf-8")  # "What ingest does with your files"
    params = (REPO / "params.yaml").read_text(encoding="utf-8").split("\nclean:")[0]
    for reason in SKIP_REASONS + REPAIR_REASONS:
        assert f"`{reason}`" in docs and reason in params, reason
