"""Bad input against the real stage scripts (`python pipelines/<stage>.py` in a temporary repository).

Each case ends either in a clear error -- exit status 1, `error: ...` naming the file and line or the params key,
no traceback, no output written or replaced -- or in a documented skip that the stage's metrics count.
Cases: the corpus (ingest + dedup_clean), the SFT conversations (sft), the base model (base).
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, make_tiny_model_dir

GERMAN = [
    "Der Bahnhof liegt am Rand der kleinen Stadt, und jeden Morgen fahren die ersten Züge schon um fünf Uhr ab.",
    "Wenn es regnet, bleiben wir zu Hause und lesen Bücher, die wir schon lange einmal lesen wollten.",
    "Die Katze schläft auf dem Fensterbrett in der Sonne, während draußen die Kinder im Garten spielen.",
    "Im Herbst werden die Blätter gelb und rot, und der Wind trägt sie über die Felder bis an den Fluss.",
    "Meine Großmutter hat mir gezeigt, wie man Brot backt, und seitdem backe ich jeden Sonntag für die Familie.",
    "Das Konzert hat später begonnen als geplant, aber die Musik war so schön, dass niemand darüber geklagt hat.",
]
MORE_GERMAN = [
    "Auf dem Wochenmarkt verkauft ein alter Bauer Äpfel, Kartoffeln und frische Eier von seinen eigenen Hühnern.",
    "Nach dem langen Winter freuen sich alle auf den Frühling, wenn die Tage wieder länger und wärmer werden.",
    "Unser Nachbar repariert am Wochenende gern alte Fahrräder und verschenkt sie an Kinder aus der Schule.",
]
ENGLISH = [
    "The train station is at the edge of the small town, and the first trains leave at five in the morning.",
    "When it rains we stay at home and read the books we have wanted to read for a long time.",
    "The cat sleeps on the windowsill in the sun while the children play in the garden outside.",
]
FRENCH = ["Le chat dort sur le rebord de la fenêtre au soleil pendant que les enfants jouent dans le jardin."]


def make_repo(tmp_path: Path, **sections) -> Path:
    """A temporary repository: the committed params.yaml with `sections` merged in (section by section)."""
    root = tmp_path / "repo"
    root.mkdir()
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for name, value in sections.items():
        params[name] = {**params[name], **value} if isinstance(value, dict) else value
    write_params(root, params)
    return root


def write_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")


def run(stage: str, root: Path, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "LANGCPT_MLFLOW": "0", "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, str(REPO / "pipelines" / f"{stage}.py")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)


def files(root: Path) -> dict[str, int]:
    """Every file under root (relative path -> mtime_ns): to see that a failed stage wrote or replaced nothing."""
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout[-2000:], proc.stderr[-4000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    assert "error: " in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr[-4000:])


def assert_fails_cleanly(stage: str, root: Path, *needles: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run `stage`, expect a clean error, and check that no file was added, changed or removed."""
    before = files(root)
    proc = run(stage, root, timeout)
    assert_clean_error(proc, *needles)
    assert files(root) == before
    return proc


def write_texts(folder: Path, texts: list[str], suffix: str = ".txt") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, t in enumerate(texts):
        (folder / f"doc{i:03d}{suffix}").write_text(t, encoding="utf-8")


def local(name: str, path: str, fmt: str = "auto") -> dict:
    return {"name": name, "kind": "local", "path": path, "format": fmt, "max_docs": None}


GENERAL = [local("general", "corpus/general")]


# ------------------------------------------------------------------------------------------ the corpus

@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """One ingest + dedup_clean run over a corpus with every recoverable defect, one source per defect."""
    tmp = tmp_path_factory.mktemp("messy")
    c = tmp / "repo" / "corpus"
    write_texts(c / "good", GERMAN)
    write_texts(c / "general", ENGLISH)
    write_texts(c / "empty_files", ["", "   \n\n", GERMAN[0] + " Dazu kommt noch ein Satz über das Wetter."])
    (c / "bad_utf8").mkdir()
    (c / "bad_utf8" / "a.txt").write_bytes(
        ("Die Brücke über den Fluss wurde im letzten Sommer neu gebaut und ist jetzt viel breiter als "
         "vorher, sodass auch Radfahrer sicher hinüberfahren können.").encode("utf-8").replace(b"\xc3\xbc", b"\xfc"))
    (c / "nul").mkdir()
    (c / "nul" / "a.txt").write_text("Am Abend sitzen wir\x00 gemeinsam am Tisch und erzählen uns, was wir am Tag "
                                     "erlebt haben, bevor\x00\x00 alle müde ins Bett gehen.", encoding="utf-8")
    (c / "long_line").mkdir()
    line = ("Ein sehr langer Satz ohne Zeilenumbruch geht immer weiter. " * 900_000)[: 50 * 2**20]
    (c / "long_line" / "a.txt").write_text(line, encoding="utf-8")  # 50 MiB, one line
    (c / "html_junk").mkdir()
    (c / "html_junk" / "a.html").write_text(
        "<html><<<>>><div class=<p>Kaputtes <b>HTML</i> mit <script>alert(1)</scr ipt> und &#xZZ; &amp &nbsp;"
        "</div></table></html><!-- offen", encoding="utf-8")
    (c / "roff_junk").mkdir()
    (c / "roff_junk" / "a.1").write_bytes(b".TH \\f[ \\*(\n.SH\n\\(xx\\[unknown]\n.de\n.if \\n[\n\x00\xff\n")
    (c / "roff_junk" / "b.1.gz").write_bytes(b"not gzip at all")
    (c / "roff_junk" / "c.1.gz").write_bytes(gzip.compress(b".TH T 1\n.SH NAME\nhallo\n")[:20])  # truncated
    write_texts(c / "mixed", MORE_GERMAN[:2] + ENGLISH + FRENCH)
    write_texts(c / "duplicates", [MORE_GERMAN[2]] * 12)
    root = c.parent
    target = [local("good", "corpus/good"), local("empty_files", "corpus/empty_files"),
              local("bad_utf8", "corpus/bad_utf8"), local("nul", "corpus/nul"),
              local("long_line", "corpus/long_line"), local("html_junk", "corpus/html_junk"),
              local("roff_junk", "corpus/roff_junk", "roff"), local("mixed", "corpus/mixed"),
              local("duplicates", "corpus/duplicates")]
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["ingest"].update(target_sources=target, general_sources=GENERAL)
    write_params(root, params)
    ingest = run("ingest", root)
    clean = run("dedup_clean", root) if ingest.returncode == 0 else None
    return {"root": root, "ingest": ingest, "clean": clean}


def _ingest_sources(messy) -> dict:
    assert messy["ingest"].returncode == 0, messy["ingest"].stderr[-4000:]
    return json.loads((messy["root"] / "reports/ingest.json").read_text())["target"]["sources"]


def _clean_sources(messy) -> dict:
    assert messy["clean"].returncode == 0, messy["clean"].stderr[-4000:]
    return json.loads((messy["root"] / "reports/clean_stats.json").read_text())["target"]["sources"]


def test_empty_files_are_skipped_and_counted(messy):
    s = _ingest_sources(messy)["empty_files"]
    assert (s["files"], s["skipped"], s["docs"]) == (3, {"empty": 2}, 1)
    assert [f["file"] for f in s["named"]["empty"]["files"]] == ["corpus/empty_files/doc000.txt",
                                                                  "corpus/empty_files/doc001.txt"]


def test_a_latin1_file_is_decoded_not_replaced(messy):
    s = _ingest_sources(messy)["bad_utf8"]
    assert (s["docs"], s["repaired"]) == (1, {"decoded": 1})
    kept = [json.loads(l) for l in (messy["root"] / "data/clean/target.jsonl").read_text().splitlines()]
    [doc] = [d for d in kept if d["source"] == "bad_utf8"]
    assert "\ufffd" not in doc["text"] and "Die Brücke über den Fluss" in doc["text"]


def test_nul_bytes_are_removed_and_named_by_ingest(messy):
    s = _ingest_sources(messy)["nul"]
    assert s["docs"] == 1 and s["named"]["nul"]["files"] == [{"file": "corpus/nul/a.txt",
                                                              "detail": "3 removed, line(s) 1"}]
    assert _clean_sources(messy)["nul"]["modified"]["unicode"] == 0  # nothing left for the unicode rule
    kept = (messy["root"] / "data/clean/target.jsonl").read_text(encoding="utf-8")
    assert "\\u0000" not in kept and "gemeinsam am Tisch" in kept


def test_a_50_mb_single_line_is_dropped_as_too_long(messy):
    assert _ingest_sources(messy)["long_line"]["chars"] == 50 * 2**20
    s = _clean_sources(messy)["long_line"]
    assert s["kept_docs"] == 0 and s["removed"]["too_long"] == 1


def test_html_and_roff_junk_end_as_text_or_counted_skips(messy):
    src = _ingest_sources(messy)
    assert src["html_junk"]["docs"] == 1 and "<script>" not in (messy["root"] / "data/raw/target.jsonl").read_text()
    roff = src["roff_junk"]
    assert roff["files"] == 3 and roff["docs"] + sum(roff["skipped"].values()) == 3
    assert roff["skipped"]["not_gzip"] == 2  # the bad .gz files, named:
    assert [f["file"] for f in roff["named"]["not_gzip"]["files"]] == ["corpus/roff_junk/b.1.gz",
                                                                        "corpus/roff_junk/c.1.gz"]


def test_mixed_languages_keep_only_the_target_language(messy):
    s = _clean_sources(messy)["mixed"]
    assert s["input_docs"] == 6 and s["kept_docs"] == 2 and s["removed"]["language"] == 4


def test_a_source_of_duplicates_keeps_one_document(messy):
    s = _clean_sources(messy)["duplicates"]
    assert s["input_docs"] == 12 and s["kept_docs"] == 1 and s["removed"]["exact_duplicate"] == 11


def test_the_messy_corpus_still_cleans_the_good_documents(messy):
    assert _clean_sources(messy)["good"]["kept_docs"] == len(GERMAN)
    report = json.loads((messy["root"] / "reports/clean.json").read_text())["target"]
    assert report["input_docs"] == report["kept_docs"] + sum(report["removed"].values())


def test_an_empty_folder_names_the_folder(tmp_path):
    root = make_repo(tmp_path, ingest={"target_sources": [local("mine", "corpus/mine")], "general_sources": GENERAL})
    (root / "corpus/mine").mkdir(parents=True)
    write_texts(root / "corpus/general", ENGLISH)
    assert_fails_cleanly("ingest", root, "ingest.target_sources[0] ('mine')", "'corpus/mine' holds no files")


def test_a_missing_folder_names_the_path(tmp_path):
    root = make_repo(tmp_path, ingest={"target_sources": [local("mine", "corpus/nope")], "general_sources": GENERAL})
    assert_fails_cleanly("ingest", root, "('mine')", "'corpus/nope' does not exist")


def test_only_empty_files_is_an_error_that_counts_them(tmp_path):
    root = make_repo(tmp_path, ingest={"target_sources": [local("mine", "corpus/mine")], "general_sources": GENERAL})
    write_texts(root / "corpus/mine", ["", "\n \n"])
    write_texts(root / "corpus/general", ENGLISH)
    old = {"data/raw/target.jsonl": "previous output\n", "reports/ingest.json": "{}\n"}
    for rel, text in old.items():  # the previous outputs stay as they were
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    assert_fails_cleanly("ingest", root, "ingest.target_sources: the sources yielded no document",
                         "'mine': 2 files, 2 skipped")
    assert all((root / rel).read_text() == text for rel, text in old.items())


def test_a_bad_jsonl_line_names_file_and_line(tmp_path):
    root = make_repo(tmp_path, ingest={"target_sources": [local("mine", "corpus/mine.jsonl")],
                                       "general_sources": GENERAL})
    (root / "corpus").mkdir()
    (root / "corpus/mine.jsonl").write_text(json.dumps({"text": GERMAN[0]}) + "\n{\"text\": \"kaputt\n")
    assert_fails_cleanly("ingest", root, "corpus/mine.jsonl:2: not valid JSON")


def _raw_corpus(root: Path, target: list[str], general: list[str] = ENGLISH) -> None:
    for split, texts in (("target", target), ("general", general)):
        rows = [{"text": t, "source": "mine", "path": f"{split}{i}", "license": "CC0"} for i, t in enumerate(texts)]
        (root / "data/raw").mkdir(parents=True, exist_ok=True)
        (root / "data/raw" / f"{split}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_a_language_filter_that_leaves_nothing_names_the_key(tmp_path):
    root = make_repo(tmp_path, clean={"language": "fr"})
    _raw_corpus(root, GERMAN)
    assert_fails_cleanly("dedup_clean", root, "no target document survived", "'language': 6", "clean.language")


def test_an_entirely_duplicated_corpus_keeps_one_document(tmp_path):
    root = make_repo(tmp_path)
    _raw_corpus(root, [GERMAN[1]] * 30)
    proc = run("dedup_clean", root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((root / "reports/clean.json").read_text())["target"]
    assert report["kept_docs"] == 1 and report["removed"]["exact_duplicate"] == 29


def test_a_bad_raw_line_names_file_and_line(tmp_path):
    root = make_repo(tmp_path)
    _raw_corpus(root, GERMAN)
    with open(root / "data/raw/target.jsonl", "ab") as f:
        f.write(b'{"text": "\xff\xfe"}\n')
    assert_fails_cleanly("dedup_clean", root, "data/raw/target.jsonl:7: not valid UTF-8")


def test_a_missing_raw_corpus_names_the_file(tmp_path):
    root = make_repo(tmp_path)
    assert_fails_cleanly("dedup_clean", root, "data/raw/target.jsonl", "cannot read")


# ------------------------------------------------------------------------------------------ SFT data

def conv(*turns: tuple[str, str]) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


GOOD = conv(("user", "Ich bin traurig."), ("assistant", "Das tut mir leid. Magst du erzählen, was los ist?"))


@pytest.fixture(scope="module")
def sft_repo(tmp_path_factory, smollm2_tokenizer):
    """A repository with a tiny random model as models/pretrained (what the sft stage starts from)."""
    root = tmp_path_factory.mktemp("sft") / "repo"
    make_tiny_model_dir(root / "models/pretrained", smollm2_tokenizer)
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["sft"].update(data="data/sft/convs.jsonl", backend="hf", max_steps=1, batch_size=2, max_length=96,
                         logging_steps=1, eval_steps=1, save_steps=1, lora={**params["sft"]["lora"], "r": 2})
    write_params(root, params)
    return root


def write_convs(root: Path, lines: list) -> None:
    path = root / "data/sft/convs.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((l if isinstance(l, str) else json.dumps(l, ensure_ascii=False)) + "\n" for l in lines),
                    encoding="utf-8")


@pytest.mark.parametrize("bad_line, needle", [
    ('{"messages": [{"role": "user", "content": "Hallo"}', "data/sft/convs.jsonl:3: not valid JSON"),
    ('["user", "Hallo"]', "data/sft/convs.jsonl:3: expected a JSON object, got list"),
    (conv(("user", "Hallo"), ("bot", "Hi")), "data/sft/convs.jsonl:3: messages[1] has unknown role 'bot'"),
    ({"messages": [{"content": "Hallo"}, {"role": "assistant", "content": "Hi"}]},
     "data/sft/convs.jsonl:3: messages[0] needs string 'role' and 'content'"),
    (conv(("user", "Hallo"), ("assistant", "  ")), "data/sft/convs.jsonl:3: messages[1] is an empty assistant turn"),
    (conv(("user", "Hallo")), "data/sft/convs.jsonl:3: conversation has no assistant turn"),
    ({"text": "Hallo"}, "data/sft/convs.jsonl:3: missing 'messages'"),
])
def test_a_bad_conversation_names_file_and_line(sft_repo, bad_line, needle):
    write_convs(sft_repo, [GOOD, GOOD, bad_line, GOOD])
    assert_fails_cleanly("sft", sft_repo, needle)


def test_a_file_without_conversations_is_an_error(sft_repo):
    write_convs(sft_repo, ["", "   "])
    assert_fails_cleanly("sft", sft_repo, "data/sft/convs.jsonl: no conversations found")


def test_a_missing_sft_file_names_it(sft_repo):
    (sft_repo / "data/sft/convs.jsonl").unlink(missing_ok=True)
    assert_fails_cleanly("sft", sft_repo, "data/sft/convs.jsonl", "cannot read")


def test_conversations_longer_than_the_context_are_an_error_when_none_fits(sft_repo):
    long = conv(("user", "Erzähl mir alles. " * 200), ("assistant", "Gern. " * 200))
    write_convs(sft_repo, [long] * 4)
    assert_fails_cleanly("sft", sft_repo, "data/sft/convs.jsonl: no conversation has an assistant turn within "
                                          "sft.max_length=96")


def test_conversations_longer_than_the_context_are_dropped_and_counted(sft_repo):
    long = conv(("user", "Erzähl mir alles. " * 200), ("assistant", "Gern. " * 200))
    write_convs(sft_repo, [GOOD, long, GOOD, GOOD, long, GOOD, GOOD])
    proc = run("sft", sft_repo)
    assert proc.returncode == 0, proc.stderr[-4000:]
    metrics = json.loads((sft_repo / "reports/sft/metrics.json").read_text())
    assert metrics["dropped_too_long"] == 2 and metrics["train_conversations"] + metrics["heldout_conversations"] == 5
    shutil.rmtree(sft_repo / "models/sft")
    shutil.rmtree(sft_repo / "reports/sft")


def test_a_tokenizer_without_chat_template_is_refused_by_sft(sft_repo, tmp_path):
    write_convs(sft_repo, [GOOD] * 4)
    model = sft_repo / "models/pretrained"
    backup = tmp_path / "pretrained"
    shutil.copytree(model, backup)
    try:
        _drop_chat_template(model)
        assert_fails_cleanly("sft", sft_repo, "has no chat template")
    finally:
        shutil.rmtree(model)
        shutil.copytree(backup, model)


def _drop_chat_template(model_dir: Path) -> None:
    (model_dir / "chat_template.jinja").unlink(missing_ok=True)
    cfg_path = model_dir / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("chat_template", None)
    cfg_path.write_text(json.dumps(cfg))


# ------------------------------------------------------------------------------------------ the base model

def base_repo(tmp_path: Path, path: str) -> Path:
    return make_repo(tmp_path, base={"source": "local", "path": path})


def test_a_missing_base_model_path_names_the_key(tmp_path):
    root = base_repo(tmp_path, "models/nowhere")
    assert_fails_cleanly("base", root, "base.path: models/nowhere does not exist")


def test_a_base_model_folder_with_only_pickled_weights_is_refused(tmp_path, smollm2_tokenizer):
    root = base_repo(tmp_path, "models/pickled")
    folder = make_tiny_model_dir(root / "models/pickled", smollm2_tokenizer)
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    assert_fails_cleanly("base", root, "base.path: models/pickled holds no *.safetensors weights")


def test_a_base_model_folder_that_is_not_a_model_is_named(tmp_path):
    root = base_repo(tmp_path, "models/junk")
    (root / "models/junk").mkdir(parents=True)
    (root / "models/junk/model.safetensors").write_bytes(b"\x00" * 64)
    assert_fails_cleanly("base", root, "base.path: models/junk")


def test_a_file_that_is_not_gguf_is_named(tmp_path):
    root = base_repo(tmp_path, "models/fake.gguf")
    (root / "models").mkdir()
    (root / "models/fake.gguf").write_text("this is not a GGUF file")
    assert_fails_cleanly("base", root, "base.path: models/fake.gguf")


def test_a_base_tokenizer_without_chat_template_is_refused(tmp_path, smollm2_tokenizer):
    root = base_repo(tmp_path, "models/plain")
    _drop_chat_template(make_tiny_model_dir(root / "models/plain", smollm2_tokenizer))
    assert_fails_cleanly("base", root, "base: the tokenizer has no chat template, which the sft stage needs",
                         "base.chat_template_required")


# ------------------------------------------------------------------------------------------ faults: a full disk

@pytest.fixture()
def small_disk(tmp_path):
    """A 4 MiB tmpfs (needs root / CAP_SYS_ADMIN; skipped otherwise)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_a_full_disk_is_a_clear_error_and_the_previous_outputs_stay(tmp_path, small_disk):
    """The ingest stage writes ~6 MB into a repository on a 4 MiB disk: `error: data/raw/...: no space left`,
    exit 1, data/raw and reports/ingest.json as they were, no temporary file left behind."""
    corpus = tmp_path / "corpus"
    write_texts(corpus, [GERMAN[i % len(GERMAN)] + f" Absatz {i}. " + "Noch mehr Text zum Füllen. " * 2000
                         for i in range(100)])  # ~5.6 MB of documents, read from outside the small disk
    write_texts(tmp_path / "general", ENGLISH)
    root = small_disk / "repo"
    root.mkdir()
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["ingest"].update(target_sources=[local("big", str(corpus))],
                            general_sources=[local("general", str(tmp_path / "general"))])
    params["paths"] = {"allow_outside_repo": True}
    write_params(root, params)
    for rel, text in {"data/raw/target.jsonl": '{"text": "alt"}\n', "data/raw/general.jsonl": '{"text": "old"}\n',
                      "reports/ingest.json": "{}\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for _ in range(12):  # the error stops ingest's worker pool mid-stream; multiprocessing.Pool hung there ~1 in 7
        assert_fails_cleanly("ingest", root, "no space left on device", "data/raw", timeout=120)
    assert (root / "data/raw/target.jsonl").read_text() == '{"text": "alt"}\n'


# ------------------------------------------------------------------------------------------ faults: SIGKILL

def _digest(root: Path, folder: str) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / folder).glob("*.jsonl"))}


@pytest.mark.integration
def test_sigkill_during_a_data_stage_then_dvc_repro_recovers(tmp_path):
    """`dvc repro` of ingest and dedup_clean (the real dvc.yaml stages) is SIGKILLed, dvc and stage together, as
    soon as the stage has started writing its output; the output is absent (dvc removed it before the run), not
    half-written, and the next `dvc repro` succeeds with outputs equal to an uninterrupted run's."""
    import signal
    import time

    root = tmp_path / "repo"
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for rel in {d for s in ("ingest", "dedup_clean") for d in stages[s]["deps"] if not d.startswith("data/")}:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)  # the stages' code deps, as dvc.yaml lists them
        shutil.copy2(REPO / rel, root / rel)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {s: stages[s] for s in ("ingest", "dedup_clean")}}))
    words = (" ".join(GERMAN + MORE_GERMAN)).split()
    write_texts(root / "corpus/target", [" ".join(words[(i * 7) % 60:] + words[: (i * 7) % 60]) + f" Nummer {i}."
                                         for i in range(1500)])
    write_texts(root / "corpus/general", ENGLISH)
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["ingest"].update(target_sources=[local("target", "corpus/target")], general_sources=GENERAL)
    write_params(root, params)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "LANGCPT_MLFLOW": "0", "HF_HUB_OFFLINE": "1"}

    def sh(*cmd):
        proc = subprocess.run(list(cmd), cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (cmd, proc.stdout[-3000:], proc.stderr[-3000:])
        return proc.stdout + proc.stderr

    sh("git", "init", "-q")
    sh("dvc", "init", "-q")
    sh("dvc", "repro", "dedup_clean")
    reference = {d: _digest(root, d) for d in ("data/raw", "data/clean")}
    assert all(reference.values())
    for stage, out in (("ingest", "raw"), ("dedup_clean", "clean")):
        proc = subprocess.Popen(["dvc", "repro", "-f", "-s", stage], cwd=root, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while not list((root / "data").glob(f".{out}.*.tmp")) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, f"{stage} finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        # dvc removes a stage's outputs before running it (they stay in its cache): absent, never half-written
        assert not (root / f"data/{out}").exists() or _digest(root, f"data/{out}") == reference[f"data/{out}"]
        log = sh("dvc", "repro", "dedup_clean")
        assert {d: _digest(root, d) for d in reference} == reference, log
        assert "up to date" in sh("dvc", "status")
