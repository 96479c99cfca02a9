"""Bigger base models: random-init stand-ins of SmolLM2-360M, Qwen2.5-0.5B and Llama-3.2-1B (tied and untied head)
at --scale tiny through base (source local, and hub from a local HF cache), pretrain, sft, evaluate, safety and the
GGUF export; the Modelfile TEMPLATE, rendered by Go as Ollama does, equals the HF chat template's rendering."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from conftest import run
from test_gguf_export import CONVERSATIONS, parse_modelfile

from langcpt.fileio import InputError
from langcpt.model_shapes import FAMILIES, SHAPES, build_random_model, family_tokenizer, shape_config

REPO = Path(__file__).resolve().parents[1]
STAGES = ("pretrain", "sft", "evaluate", "safety")
TWO_TURNS = [{"role": "user", "content": "Hallo, wer bist du?"},
             {"role": "assistant", "content": "Ein Gesprächsbegleiter."},
             {"role": "user", "content": "Was machst du?"}]


def test_full_shapes_are_the_published_configs():
    """The full-scale configs carry the published values the issue names (vocab, tie, model type)."""
    want = {"smollm2-360m": ("llama", 49152, True, 960, 32), "qwen2.5-0.5b": ("qwen2", 151936, True, 896, 24),
            "llama-3.2-1b": ("llama", 128256, True, 2048, 16),
            "llama-3.2-1b-untied": ("llama", 128256, False, 2048, 16)}
    for shape, (mtype, vocab, tie, hidden, layers) in want.items():
        c = shape_config(shape)
        assert (c.model_type, c.vocab_size, c.tie_word_embeddings, c.hidden_size, c.num_hidden_layers) == \
            (mtype, vocab, tie, hidden, layers)
        t = shape_config(shape, "tiny")
        assert (t.model_type, t.vocab_size, t.tie_word_embeddings) == (mtype, vocab, tie) and t.hidden_size == 64
    with pytest.raises(InputError, match="--shape"):
        shape_config("gpt-5")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_modelfile_renders_like_each_family(family, smollm2_tokenizer, go_render):
    """Each family's published template (ChatML with SmolLM2's / Qwen's default system prompt, Llama 3's header
    format with its date header): the Modelfile TEMPLATE rendered by Go equals apply_chat_template for every
    conversation shape, and with the Modelfile SYSTEM equals HF's rendering with that system message."""
    from langcpt.gguf_export import chatml_format, modelfile_from_chat_template

    fam = FAMILIES[family]
    tok = family_tokenizer(smollm2_tokenizer, family)
    f = chatml_format(tok)
    assert f["end"].strip() == fam["end_of_turn"] and f["default_system"] is not None
    bos = fam["bos"] if fam["add_bos"] else ""  # Ollama prepends it (add_bos_token)
    variants = [(tok, bos)]
    if fam["template"].startswith("{{- bos_token }}"):  # Llama 3: as the real tokenizer, encoding prepends BOS
        with_bos = family_tokenizer(smollm2_tokenizer, family)
        with_bos.add_bos_token = True
        assert with_bos("x").input_ids[0] == with_bos.convert_tokens_to_ids(fam["bos"])
        variants.append((with_bos, fam["bos"]))
    for tok, bos in variants:
        template = dict(parse_modelfile(modelfile_from_chat_template(tok, "m.gguf", None, {})))["template"]
        assert not (fam["bos"] and bos and template.startswith(fam["bos"]))  # Ollama adds it: not twice
        for messages in CONVERSATIONS.values():
            assert bos + go_render(template, messages) == \
                tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        cmds = dict(parse_modelfile(modelfile_from_chat_template(tok, "m.gguf", "Du hörst zu.", {})))
        messages = CONVERSATIONS["multi-turn without system"]
        assert bos + go_render(cmds["template"], messages, system=cmds["system"]) == tok.apply_chat_template(
            [{"role": "system", "content": "Du hörst zu."}, *messages], tokenize=False, add_generation_prompt=True)


def _hub_cache(src: Path, cache: Path, model_id: str) -> None:
    """`src` laid out as the HF hub cache holds a downloaded snapshot of `model_id` (what a download leaves)."""
    repo = cache / ("models--" + model_id.replace("/", "--"))
    snap = repo / "snapshots" / ("0" * 40)
    shutil.copytree(src, snap)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shape_through_pipeline(shape, tiny_upstream, smollm2_tokenizer, go_render, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from langcpt.gguf_export import (chat_conversations, chat_template_parity, chatml_format, convert_to_gguf,
                                     gguf_metadata, modelfile_from_chat_template, quantize, tokenizer_parity)

    fam = FAMILIES[SHAPES[shape]["family"]]
    src = tiny_upstream["path"]
    params = yaml.safe_load((src / "params.yaml").read_text())
    llama_cpp_cache = Path(params["ingest"]["cache_dir"]) / "llama.cpp"
    summary = build_random_model(shape, tmp_path / "src", smollm2_tokenizer, scale="tiny", cache_dir=llama_cpp_cache)
    assert summary["vocab_size"] >= summary["tokenizer_tokens"]

    # the stage folder: the upstream tokens (SmolLM2 ids: Qwen's vocabulary is larger, so they are valid ids there
    # too, just other text) and SFT data; this shape as base.source local (hub for the Llama shape)
    d = tmp_path / "repo"
    (d / "models").mkdir(parents=True)
    (d / "data" / "sft").mkdir(parents=True)
    (d / "data" / "tokens").symlink_to(src / "data" / "tokens")
    for f in ("data/sft/support_de.jsonl", "data/safety", "models/detector"):  # detector: the safety stage's
        (d / f).symlink_to(src / f)
    shutil.copytree(src / "pipelines", d / "pipelines")
    env = {**tiny_upstream["env"], "PYTHONPATH": str(REPO / "src"), "LANGCPT_MLFLOW": "0"}
    if shape == "llama-3.2-1b":
        model_id = "meta-llama/Llama-3.2-1B-Instruct"
        params["base"] = {"source": "hub", "model_id": model_id}
        (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
        failed = run([sys.executable, "pipelines/base.py"], d, {**env, "HF_HUB_CACHE": str(tmp_path / "empty")},
                     check=False)
        assert failed.returncode != 0 and "base.model_id" in failed.stderr and model_id in failed.stderr
        _hub_cache(tmp_path / "src", tmp_path / "hub", model_id)
        env["HF_HUB_CACHE"] = str(tmp_path / "hub")
    else:
        params["base"] = {"source": "local", "path": str(tmp_path / "src")}
        params["paths"] = {"allow_outside_repo": True}
    params["tokenize"]["separator_token"] = "<|endoftext|>"
    params["evaluate"]["gates"]["enabled"] = False  # the quality gates are about a pretrained base, not a random one
    params["evaluate"]["proficiency"]["enabled"] = False  # needs eval_data's files (tests/test_proficiency.py)
    params["pretrain"]["max_steps"] = 2
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    run([sys.executable, "pipelines/base.py"], d, env)
    for stage in STAGES:
        run([sys.executable, f"pipelines/{stage}.py"], d, env)
    assert json.loads((d / "reports/base.json").read_text())["vocab_size"] == summary["tokenizer_tokens"]

    sft = d / "models" / "sft"
    tok = AutoTokenizer.from_pretrained(sft)
    assert tok.chat_template == fam["template"]
    # SFT data rendered with the family's own template: its turn tokens in the training text
    from langcpt.sft import encode_conversation
    row = encode_conversation(tok, TWO_TURNS[:2], 256)
    text = tok.decode(row["input_ids"])
    assert fam["end_of_turn"] in text and (fam["bos"] or "") in text
    labelled = [i for i, x in zip(row["input_ids"], row["labels"]) if x != -100]
    # the model learns to end its turn: the labels end with the turn's end (ChatML "<|im_end|>\n", Llama "<|eot_id|>")
    assert tok.decode(labelled).endswith(chatml_format(tok)["end"]) and \
        tok.convert_tokens_to_ids(fam["end_of_turn"]) in labelled

    # heads: the merged SFT model has its own lm_head (trained in CPT), unlike its embeddings
    w = load_file(str(next(sft.glob("*.safetensors"))))
    head, emb = w["lm_head.weight"], w["model.embed_tokens.weight"]
    assert head.shape == emb.shape == (summary["vocab_size"], 64) and not torch.equal(head, emb)
    if not summary["tie_word_embeddings"]:
        base_head = load_file(str(next((tmp_path / "src").glob("*.safetensors"))))["lm_head.weight"]
        assert not torch.equal(head, base_head.to(head.dtype))  # the untied head was trained and merged

    # Modelfile TEMPLATE (Go, as Ollama renders it) == HF rendering, 2 turns with and without a system message
    fmt = chatml_format(tok)
    assert fmt["end"].strip() == fam["end_of_turn"]
    # a family whose tokenizer prepends BOS: Ollama adds it (GGUF add_bos_token), the TEMPLATE has none
    bos = fam["bos"] if fam["add_bos"] else ""
    assert (fam["bos"] is not None and tok("x").input_ids[0] == tok.convert_tokens_to_ids(fam["bos"])) == \
        fam["add_bos"]
    cmds = dict(parse_modelfile(modelfile_from_chat_template(tok, "m.gguf", None, {})))
    for messages in (TWO_TURNS, [{"role": "system", "content": "Sei kurz."}, *TWO_TURNS]):
        assert bos + go_render(cmds["template"], messages) == \
            tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    with_system = dict(parse_modelfile(modelfile_from_chat_template(tok, "m.gguf", "Du hörst zu.", {})))
    assert bos + go_render(with_system["template"], TWO_TURNS, system=with_system["system"]) == tok.apply_chat_template(
        [{"role": "system", "content": "Du hörst zu."}, *TWO_TURNS], tokenize=False, add_generation_prompt=True)

    # GGUF: convert (EOS = the end-of-turn token, rows beyond the tokenizer padded), quantize, chat parity
    f16 = convert_to_gguf(sft, tmp_path / "m-f16.gguf", cache_dir=llama_cpp_cache)
    meta = gguf_metadata(f16)
    if SHAPES[shape]["model_type"] == "qwen2":  # Qwen's own BPE, known to the converter by its pre-tokenizer hash
        assert meta["tokenizer.ggml.pre"] == "qwen2" and summary["tokenizer_tokens"] == 151646
    assert meta["tokenizer.ggml.eos_token_id"] == tok.convert_tokens_to_ids(fam["end_of_turn"])
    assert bool(meta.get("tokenizer.ggml.add_bos_token")) == fam["add_bos"]
    assert len(meta["tokenizer.ggml.tokens"]) == summary["vocab_size"]
    if summary["vocab_size"] > len(tok):  # rows beyond the tokenizer: padding tokens
        assert meta["tokenizer.ggml.tokens"][-1] == f"[PAD{summary['vocab_size'] - 1}]"
    else:
        assert meta["tokenizer.ggml.tokens"][-1] == tok.convert_ids_to_tokens(summary["vocab_size"] - 1)
    q8 = quantize(f16, tmp_path / "m-q8_0.gguf", "q8_0")
    convs = chat_conversations("Sei kurz.", ["Hallo"])
    for path in (f16, q8):
        assert chat_template_parity(path, tok, convs) == []
    texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in convs]
    assert tokenizer_parity(q8, tok, texts)["mismatches"] == []


def test_qwen_stand_in_tokenizes_as_llama_cpp_expects(tiny_upstream):
    """The Qwen stand-in's tokenizer is Qwen's own: it encodes llama.cpp's tokenizer test texts for Qwen2
    (models/ggml-vocab-qwen2.gguf.inp) into exactly the ids llama.cpp expects (.out)."""
    import tarfile

    from langcpt.gguf_export import llama_cpp_sdist
    from langcpt.model_shapes import qwen2_tokenizer

    cache = Path(yaml.safe_load((tiny_upstream["path"] / "params.yaml").read_text())["ingest"]["cache_dir"]) / "llama.cpp"
    tok = qwen2_tokenizer(cache)
    with tarfile.open(llama_cpp_sdist(cache)) as tf:
        read = {Path(m.name).suffix: tf.extractfile(m).read().decode() for m in tf.getmembers()
                if "/vendor/llama.cpp/models/ggml-vocab-qwen2.gguf." in m.name}
    texts, ids = read[".inp"].split("\n__ggml_vocab_test__\n"), read[".out"].split("\n")
    assert len(texts) > 40
    for text, want in zip(texts, ids):
        assert tok.encode(text, add_special_tokens=False) == [int(i) for i in want.split()], text

