"""Vocabulary extension (langcpt.vocab, stage extend_vocab) with the real SmolLM2 tokenizer, real German text
(Debian's fortunes-de) and real English text (the standard library's docstrings), tiny real models; and one tiny
end-to-end `dvc repro` with the extension on through the GGUF stage and its llama.cpp parity gates."""
from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO, make_tiny_model_dir, run as sh
from langcpt import vocab
from langcpt.evaluation import block_texts, score, score_texts, token_text_sizes
from langcpt.packing import is_validation, load_tokenizer, tokenize_and_pack
from test_dedup import fortunes  # noqa: F401 - the German fixture (~1000 fortunes-de entries)

NEW = 100  # new tokens in the unit tests


def english_texts() -> list[str]:
    """Real English prose: docstrings of standard-library modules, classes and functions."""
    out = []
    for name in ("json", "argparse", "pathlib", "subprocess", "logging", "collections", "functools", "shutil",
                 "tempfile", "textwrap", "unittest", "email", "http.client", "urllib.request", "csv", "random"):
        mod = importlib.import_module(name)
        for _, obj in [(name, mod)] + inspect.getmembers(mod):
            doc = inspect.getdoc(obj) if (inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isfunction(obj)) else None
            if doc and len(doc) > 80 and doc not in out:
                out.append(doc)
    return out


@pytest.fixture(scope="module")
def base_dir(smollm2_tokenizer, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("base") / "base"
    smollm2_tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def split(fortunes):  # noqa: F811
    train = [t for t in fortunes if not is_validation(t, 0.2, 0)]
    return train, [t for t in fortunes if is_validation(t, 0.2, 0)]


@pytest.fixture(scope="module")
def extended(base_dir, split):
    base, _ = load_tokenizer(base_dir)
    ext, report = vocab.extend_tokenizer(base, split[0], NEW, train_vocab_size=3000)
    return base, ext, report


def test_new_tokens_are_new_and_appended_after_the_unchanged_base(extended):
    base, ext, report = extended
    b, e = json.loads(base.to_str())["model"], json.loads(ext.to_str())["model"]
    n0 = base.get_vocab_size(with_added_tokens=True)
    assert report["new_tokens"] == NEW and ext.get_vocab_size(with_added_tokens=True) == n0 + NEW
    new = {t: i for t, i in e["vocab"].items() if t not in b["vocab"]}
    assert sorted(new.values()) == list(range(n0, n0 + NEW))  # appended at the end, no gap
    assert all(e["vocab"][t] == i for t, i in b["vocab"].items())  # every base id unchanged
    assert e["merges"][:len(b["merges"])] == b["merges"] and len(e["merges"]) == len(b["merges"]) + NEW
    for a, c in e["merges"][len(b["merges"]):]:  # each new merge joins tokens that exist before it
        assert a in e["vocab"] and c in e["vocab"] and e["vocab"][a + c] >= n0
    assert json.loads(base.to_str())["added_tokens"] == json.loads(ext.to_str())["added_tokens"]


def test_german_gets_fewer_tokens_and_english_stays_almost_the_same(extended, split):
    base, ext, _ = extended
    before, after = vocab.tokens_per_word(base, split[1]), vocab.tokens_per_word(ext, split[1])  # held-out side
    print(f"held-out German tokens per word {before['tokens_per_word']} -> {after['tokens_per_word']}")
    assert after["tokens_per_word"] < 0.97 * before["tokens_per_word"]  # measured: 2.569 -> 2.419 (-5.9%)
    english = english_texts()
    drift = vocab.english_drift(base, ext, english)
    print(f"English: {drift}")
    assert drift["documents"] > 200
    assert drift["documents_changed"] <= 0.1 * drift["documents"]  # measured: 0 of 235 docstrings
    assert -0.005 <= drift["token_change"] <= 0  # new merges only join what the base left apart: never more tokens
    # llama.cpp's pre-tokenizer probe (convert_hf_to_gguf.py's chkhsh) is encoded exactly as by the base
    assert ext.encode(vocab.GGUF_PRE_PROBE).ids == base.encode(vocab.GGUF_PRE_PROBE).ids


def test_decoding_new_tokens_gives_back_the_text(extended, split):
    _, ext, _ = extended
    for text in split[1][:50]:
        assert ext.decode(ext.encode(text).ids) == text


def test_new_rows_are_the_mean_of_their_base_pieces(extended, smollm2_tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM

    base, ext, _ = extended
    n0 = base.get_vocab_size(with_added_tokens=True)
    for tie in (True, False):
        model = AutoModelForCausalLM.from_pretrained(make_tiny_model_dir(tmp_path / f"m{tie}", smollm2_tokenizer, tie=tie))
        emb0 = model.get_input_embeddings().weight.detach().clone()
        head0 = model.get_output_embeddings().weight.detach().clone()
        assert vocab.resize_model(model, base, ext) == NEW
        emb, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
        assert emb.shape[0] == head.shape[0] == model.config.vocab_size == n0 + NEW
        assert torch.equal(emb[:n0], emb0) and torch.equal(head[:n0], head0)  # base rows untouched
        for i in (n0, n0 + NEW // 2, n0 + NEW - 1):
            pieces = vocab.base_pieces(base, ext.id_to_token(i))
            assert len(pieces) >= 2 and max(pieces) < n0
            assert "".join(base.id_to_token(p) for p in pieces) == ext.id_to_token(i)  # the same bytes
            assert torch.allclose(emb[i], emb0[pieces].mean(0), atol=1e-6)
            assert torch.allclose(head[i], head0[pieces].mean(0), atol=1e-6)
        assert (model.get_output_embeddings().weight.data_ptr() == emb.data_ptr()) == tie


def test_switch_off_is_a_no_op(base_dir, split, tmp_path):
    base, _ = load_tokenizer(base_dir)
    same, report = vocab.extend_tokenizer(base, split[0], 0)
    assert same is base and report == {"new_tokens": 0}
    root = stage_root(tmp_path, base_dir, split, new_tokens=0)
    proc = run_script(root, "extend_vocab")
    assert proc.returncode == 0, proc.stderr
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (root / "models/tokenizer" / name).read_bytes() == (base_dir / name).read_bytes()
    assert json.loads((root / "reports/extend_vocab.json").read_text())["new_tokens"] == 0
    # and the pretrain seam leaves the base model alone
    assert vocab.extended_checkpoint(base_dir, root / "models/tokenizer", tmp_path / "unused") is False
    assert not (tmp_path / "unused").exists()


def stage_root(root: Path, base_dir: Path, split, **ext) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "models/base").symlink_to(base_dir)
    (root / "data/clean").mkdir(parents=True)
    for name, docs in (("target", split[0] + split[1]), ("general", english_texts()[:200])):
        (root / "data/clean" / f"{name}.jsonl").write_text(
            "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in docs), encoding="utf-8")
    tokenize = {"block_size": 32, "validation_fraction": 0.2, "seed": 0, "separator_token": "<|endoftext|>",
                "max_train_blocks": None, "max_val_blocks": 8, "vocab_extension": {"train_vocab_size": 3000, **ext}}
    (root / "params.yaml").write_text(yaml.safe_dump({"tokenize": tokenize}))
    return root


def run_script(root: Path, stage: str):
    return subprocess.run([sys.executable, str(REPO / "pipelines" / f"{stage}.py")], cwd=root, capture_output=True,
                          text=True)


def test_stage_extends_and_tokenize_packs_with_the_new_tokens(base_dir, split, tmp_path):
    root = stage_root(tmp_path, base_dir, split, new_tokens=NEW)
    proc = run_script(root, "extend_vocab")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((root / "reports/extend_vocab.json").read_text())
    assert report["new_tokens"] == NEW and report["vocab_size"] == 49152 + NEW
    assert report["target_tokens_per_word_after"] < report["target_tokens_per_word_before"]
    assert report["general_english"]["documents"] == 200
    assert json.loads((root / "models/tokenizer/vocab_extension.json").read_text())["new_tokens"] == NEW
    assert run_script(root, "tokenize_chunk").returncode == 0
    train = np.load(root / "data/tokens/train.npy")
    assert train.max() >= 49152  # new tokens in the packed blocks
    ext, _ = load_tokenizer(root / "models/tokenizer")
    assert train.dtype == np.uint16 and ext.get_vocab_size(with_added_tokens=True) == 49152 + NEW


@pytest.mark.parametrize("ext, message", [
    ({"new_tokens": -1}, "tokenize.vocab_extension.new_tokens: expected an integer >= 0, got -1"),
    ({"new_tokens": 10, "train_vocab_size": 10}, "tokenize.vocab_extension.train_vocab_size: expected an integer >= 512"),
    ({"new_tokens": 10, "tokens": 3}, "tokenize.vocab_extension.tokens: unknown key"),
])
def test_bad_params_fail_cleanly(base_dir, split, tmp_path, ext, message):
    root = stage_root(tmp_path, base_dir, split, **ext)
    proc = run_script(root, "extend_vocab")
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (root / "models/tokenizer").exists()


def test_extension_needs_trained_embeddings():
    from langcpt.fileio import InputError
    from langcpt.params_schema import validate_params

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tokenize"]["vocab_extension"]["new_tokens"] = 10
    params["pretrain"]["train_embeddings"] = False
    with pytest.raises(InputError, match="need pretrain.train_embeddings: true"):
        validate_params(params, root=REPO)
    params["tokenize"]["vocab_extension"]["new_tokens"] = 0
    validate_params(params, root=REPO)


def test_pretraining_trains_the_new_rows(extended, split, smollm2_tokenizer, tmp_path, monkeypatch):
    """The pretrain seam resizes a tiny base to the extended tokenizer, trains (new rows included) and merges."""
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("LANGCPT_MLFLOW", "0")  # the Trainer would log to ./mlflow.db

    from langcpt.cpt import continued_pretraining

    base, ext, _ = extended
    n0 = base.get_vocab_size(with_added_tokens=True)
    base_dir = make_tiny_model_dir(tmp_path / "base", smollm2_tokenizer)
    tok_dir = tmp_path / "tokenizer"
    vocab.save_tokenizer_dir(base_dir, tok_dir, ext)
    sep = ext.token_to_id("<|endoftext|>")
    blocks = {name: tokenize_and_pack(texts, ext, 32, sep, max_blocks=16) for name, texts in zip(("train", "val"), split)}
    for name, b in blocks.items():
        np.save(tmp_path / f"{name}.npy", b)
    assert blocks["train"].max() >= n0
    cfg = {"seed": 0, "max_steps": 4, "epochs": 1, "batch_size": 4, "gradient_accumulation_steps": 1,
           "learning_rate": 1e-3, "embedding_learning_rate": 1e-2, "warmup_ratio": 0.0, "lr_scheduler": "constant",
           "weight_decay": 0.0, "logging_steps": 1, "eval_steps": 4, "eval_blocks": 4, "save_steps": 100,
           "train_embeddings": True, "lora": {"r": 4, "alpha": 4, "dropout": 0.0, "rslora": True}}
    metrics = continued_pretraining(cfg, "hf", base_dir, tmp_path / "train.npy", tmp_path / "val.npy",
                                    tmp_path / "out", tmp_path / "ckpt", tmp_path / "curves", tokenizer_dir=tok_dir)
    assert metrics["vocab_size"] == n0 + NEW and metrics["steps"] == 4
    out = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    init = AutoModelForCausalLM.from_pretrained(base_dir)
    vocab.resize_model(init, base, ext)
    used = sorted(set(np.unique(blocks["train"][:16]).tolist()) & set(range(n0, n0 + NEW)))
    assert used
    emb, emb0 = out.get_input_embeddings().weight, init.get_input_embeddings().weight
    assert not torch.allclose(emb[used], emb0[used])  # the new rows were trained
    out_tok, _ = load_tokenizer(tmp_path / "out")
    assert out_tok.to_str() == ext.to_str() or vocab.same_tokenizer(out_tok, ext)
    # without trained embeddings the new rows would stay at their init: refused
    with pytest.raises(Exception, match="train_embeddings"):
        continued_pretraining({**cfg, "train_embeddings": False}, "hf", base_dir, tmp_path / "train.npy",
                              tmp_path / "val.npy", None, tmp_path / "ckpt2", tmp_path / "curves2", tokenizer_dir=tok_dir)


def test_models_of_different_vocabularies_are_scored_on_the_same_bytes(extended, split, smollm2_tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, ext, _ = extended
    base_dir = make_tiny_model_dir(tmp_path / "base", smollm2_tokenizer)
    ext_dir = tmp_path / "ext"
    vocab.save_tokenizer_dir(base_dir, tmp_path / "tok", ext)
    assert vocab.extended_checkpoint(base_dir, tmp_path / "tok", ext_dir)
    tok_b, tok_e = AutoTokenizer.from_pretrained(base_dir), AutoTokenizer.from_pretrained(ext_dir)
    assert not vocab.same_tokenizer(tok_b, tok_e) and vocab.same_tokenizer(tok_e, ext)
    sep = ext.token_to_id("<|endoftext|>")
    blocks = tokenize_and_pack(split[1], ext, 48, sep, max_blocks=6)
    texts = block_texts(tok_e, blocks)
    assert "<|endoftext|>" in "".join(texts)
    whole = tok_e.decode(blocks.reshape(-1).tolist())
    assert all(t.replace("\ufffd", "") in whole for t in texts)  # the blocks' own text, byte-exact inside
    r_b = score_texts(AutoModelForCausalLM.from_pretrained(base_dir), tok_b, texts, "<|endoftext|>", 4)
    r_e = score_texts(AutoModelForCausalLM.from_pretrained(ext_dir), tok_e, texts, "<|endoftext|>", 4)
    n_special = sum(t.count("<|endoftext|>") for t in texts)
    assert r_b["bytes"] == r_e["bytes"] == sum(len(t.encode()) for t in texts) - n_special * (len("<|endoftext|>") - 1)
    assert r_b["characters"] == r_e["characters"] and r_e["tokens"] < r_b["tokens"]
    assert 0 < r_e["bits_per_byte"] and 0 < r_b["bits_per_byte"]
    # on its own blocks, text scoring agrees with block scoring up to the block edges (same model, same ids)
    model_e = AutoModelForCausalLM.from_pretrained(ext_dir)
    r_blocks = score(model_e, tok_e, blocks, 4, token_text_sizes(tok_e))
    assert abs(r_blocks["bits_per_byte"] - r_e["bits_per_byte"]) < 0.05 * r_e["bits_per_byte"]


def test_tiny_pipeline_with_extension_passes_the_gguf_parity_gates(tiny_upstream, tmp_path):
    """A copy of the tiny pipeline (built with the extension off) switched to tokenize.vocab_extension.new_tokens:
    200: `dvc repro` reruns extend_vocab and everything after it; the extended SFT model converts to GGUF, and
    llama.cpp tokenizes like HF and agrees on the logits (the gguf stage's gates)."""
    import re
    import shutil

    root, env = tmp_path / "repo", dict(tiny_upstream["env"])
    shutil.copytree(tiny_upstream["path"], root, symlinks=True)
    off = json.loads((root / "reports/extend_vocab.json").read_text())
    assert off["new_tokens"] == 0  # the switch off: the base tokenizer, byte for byte
    assert (root / "models/tokenizer/tokenizer.json").read_bytes() == (root / "models/base/tokenizer.json").read_bytes()
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["tokenize"]["vocab_extension"]["new_tokens"] = 200
    # 3 CPT steps cannot teach 200 fresh rows enough to beat the base's bits per byte: this test is about the export
    params["evaluate"]["gates"]["enabled"] = False
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    out = sh(["dvc", "repro"], root, env)
    ran = set(re.findall(r"Running stage '([^']+)'", out.stdout))
    assert {"extend_vocab", "tokenize_chunk", "pretrain", "sft", "evaluate", "gguf"} <= ran
    assert not ran & {"ingest", "dedup_clean", "base"}
    ext = json.loads((root / "reports/extend_vocab.json").read_text())
    assert ext["new_tokens"] == 200 and ext["target_tokens_per_word_after"] < ext["target_tokens_per_word_before"]
    pre = json.loads((root / "reports/pretrain/metrics.json").read_text())
    assert pre["vocab_size"] == 49152 + 200
    for m in ("pretrained", "sft"):
        assert json.loads((root / "models" / m / "config.json").read_text())["vocab_size"] == 49152 + 200
    ev = json.loads((root / "reports/evaluate/metrics.json").read_text())
    assert ev["scored_as_text"] is True and ev["base"]["target_bpb"] > 0 and ev["pretrained"]["target_bpb"] > 0
    print("evaluate:", {m: ev[m] for m in ("base", "pretrained", "sft")})
    gg = json.loads((root / "reports/gguf.json").read_text())
    for qtype, f in gg["files"].items():
        assert f["tokenizer_texts_differing"] == 0, qtype
    assert gg["files"]["f16"]["argmax_agreement_decisive"] >= 0.99
    print("gguf:", {q: (f["tokenizer_tokens"], f["argmax_agreement"]) for q, f in gg["files"].items()})
