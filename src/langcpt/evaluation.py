"""Held-out perplexity, bits per byte/character, evaluation gates and sample generations for a set of
checkpoints (before/after, forgetting).

Perplexity per token depends on the vocabulary; bits per byte does not: it divides the same summed negative
log-likelihood (the NLL of tokens 1..n of every block, as in `perplexity`) by the UTF-8 bytes of the text those
predicted tokens stand for, counted per token with the scoring model's own tokenizer (`token_text_sizes`):

    bits per byte = sum NLL (nats) / ln 2 / bytes        bits per character = sum NLL / ln 2 / characters

Byte-level BPE tokens (GPT-2/SmolLM2/Llama-3 style) map to exact byte strings, so the count is exact even where one
character is split over tokens (the block's first token is not predicted; the continuation bytes of a character it
started count for the token that holds them). Characters are the UTF-8 lead bytes among those bytes. Special tokens
(the document separator `<|endoftext|>` that packing puts between documents, and any other special token) count as
one byte and one character: they stand for a boundary, not for text, and a model must predict the end of a document
once per document whatever its vocabulary, like a byte-level model's end marker.

Models with different vocabularies (`tokenize.vocab_extension`: the base model and the extended CPT/SFT models)
cannot score the same token ids: `block_texts` turns the held-out blocks back into text and `score_texts` scores that
same text with each model's own tokenizer (after one unscored separator token), so every model is measured on
exactly the same bytes.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from .fileio import InputError


def load_model(model_dir: Path):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, use_safetensors=True)
    model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
    return model, tokenizer


@torch.no_grad()
def perplexity(model, blocks: np.ndarray, batch_size: int = 8) -> dict:
    """Token-level perplexity over packed blocks (mean negative log-likelihood of every next token)."""
    total_nll, total_tokens = 0.0, 0
    for start in range(0, len(blocks), batch_size):
        ids = torch.from_numpy(np.asarray(blocks[start:start + batch_size], dtype=np.int64)).to(model.device)
        logits = model(input_ids=ids).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1),
                                                reduction="sum")
        total_nll += nll.item()
        total_tokens += ids[:, 1:].numel()
    if total_tokens == 0:
        return {"loss": float("nan"), "perplexity": float("nan"), "tokens": 0, "nll": 0.0}
    loss = total_nll / total_tokens
    return {"loss": round(loss, 5), "perplexity": round(math.exp(loss), 4), "tokens": total_tokens,
            "nll": total_nll}


def _bytes_to_unicode() -> dict[int, str]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return bytes_to_unicode()


def _decoder_types(tokenizer) -> set[str]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return set()
    decoder = json.loads(backend.to_str()).get("decoder") or {}
    return {d.get("type") for d in decoder.get("decoders", [decoder])}


def token_text_sizes(tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, characters) that each token id stands for, as two int arrays indexed by id.

    Byte-level BPE: the token string maps back to bytes exactly; SentencePiece-style (Metaspace, `<0xNN>` byte
    fallback): '▁' is a space and `<0xNN>` one byte; any other decoder: the bytes of the token decoded alone.
    Special tokens: 1 byte, 1 character (see the module doc); other added tokens: their content."""
    vocab = tokenizer.get_vocab()
    size = max(vocab.values()) + 1
    nbytes, nchars = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
    types = _decoder_types(tokenizer)
    byte_of = {c: b for b, c in _bytes_to_unicode().items()} if "ByteLevel" in types else None
    added = {i: t for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items()}
    special = set(tokenizer.all_special_ids) | {i for i, t in added.items() if t.special}
    hex_byte = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
    for token, i in vocab.items():
        if i in special:
            nbytes[i] = nchars[i] = 1
            continue
        if i in added:
            raw = added[i].content.encode("utf-8")
        elif byte_of is not None:
            raw = bytes(byte_of[c] for c in token) if all(c in byte_of for c in token) else token.encode("utf-8")
        elif "Metaspace" in types or "Replace" in types or "ByteFallback" in types:
            m = hex_byte.match(token)
            raw = bytes([int(m.group(1), 16)]) if m else token.replace("\u2581", " ").encode("utf-8")
        else:
            raw = tokenizer.decode([i]).encode("utf-8")
        nbytes[i] = len(raw)
        nchars[i] = sum(1 for b in raw if b & 0xC0 != 0x80)  # UTF-8 lead bytes: one per character
    return nbytes, nchars


def predicted_text_size(tokenizer, blocks: np.ndarray, sizes: tuple | None = None) -> tuple[int, int]:
    """(bytes, characters) of the text that tokens 1..n of every block stand for (the tokens `perplexity` scores)."""
    nbytes, nchars = sizes or token_text_sizes(tokenizer)
    ids = np.asarray(blocks[:, 1:], dtype=np.int64)
    if ids.size and ids.max() >= len(nbytes):
        raise InputError(f"token id {int(ids.max())} of the held-out blocks is outside the scoring tokenizer's "
                         f"vocabulary ({len(nbytes)} ids): blocks and model come from different tokenizers")
    return int(nbytes[ids].sum()), int(nchars[ids].sum())


def score(model, tokenizer, blocks: np.ndarray, batch_size: int = 8, sizes: tuple | None = None) -> dict:
    """`perplexity` plus bits per byte and per character of the same summed NLL (see the module doc)."""
    r = perplexity(model, blocks, batch_size)
    nbytes, nchars = predicted_text_size(tokenizer, blocks, sizes)
    bits = r.pop("nll") / math.log(2)
    return {**r, "bytes": nbytes, "characters": nchars,
            "bits_per_byte": round(bits / nbytes, 5) if nbytes else float("nan"),
            "bits_per_character": round(bits / nchars, 5) if nchars else float("nan")}


def block_texts(tokenizer, blocks: np.ndarray) -> list[str]:
    """The text of each packed block, from the exact bytes of its tokens (byte-level BPE; special tokens as their
    text, e.g. the `<|endoftext|>` between documents); a character split at a block edge is left out."""
    if "ByteLevel" not in _decoder_types(tokenizer):
        return [tokenizer.decode(np.asarray(b).tolist()) for b in blocks]
    byte_of = {c: b for b, c in _bytes_to_unicode().items()}
    special = {i: t.content for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items()}
    out = []
    for block in blocks:
        ids = np.asarray(block).tolist()
        raw = b"".join(special[i].encode("utf-8") if i in special else bytes(byte_of[c] for c in t)
                       for i, t in zip(ids, tokenizer.convert_ids_to_tokens(ids)))
        out.append(raw.decode("utf-8", errors="ignore"))
    return out


@torch.no_grad()
def score_texts(model, tokenizer, texts: list[str], context_token: str, batch_size: int = 8,
                sizes: tuple | None = None) -> dict:
    """`score` on text instead of blocks: each text encoded by the model's own tokenizer after one unscored context
    token (`context_token`, the document separator), every text token scored. Models with different vocabularies
    are so scored on exactly the same text: bytes and characters (the denominators) are equal for all of them."""
    context = tokenizer.convert_tokens_to_ids(context_token)
    if context is None or context == tokenizer.unk_token_id and context_token != tokenizer.unk_token:
        raise InputError(f"{context_token!r} is not a token of the scoring tokenizer")
    seqs = [[context] + ids for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    nbytes, nchars = sizes or token_text_sizes(tokenizer)
    total_nll, total_tokens, total_bytes, total_chars = 0.0, 0, 0, 0
    for start in range(0, len(seqs), batch_size):
        batch = seqs[start:start + batch_size]
        width = max(len(s) for s in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for row, seq in enumerate(batch):  # right padding: causal attention never looks at it, the loss skips it
            ids[row, :len(seq)] = labels[row, :len(seq)] = torch.tensor(seq)
        logits = model(input_ids=ids.to(model.device)).logits[:, :-1].float()
        target = labels[:, 1:].to(model.device)
        total_nll += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1),
                                                       ignore_index=-100, reduction="sum").item()
        scored = np.concatenate([np.asarray(s[1:], dtype=np.int64) for s in batch])
        total_tokens += len(scored)
        total_bytes += int(nbytes[scored].sum())
        total_chars += int(nchars[scored].sum())
    loss = total_nll / max(total_tokens, 1)
    bits = total_nll / math.log(2)
    return {"loss": round(loss, 5), "perplexity": round(math.exp(loss), 4) if total_tokens else float("nan"),
            "tokens": total_tokens, "bytes": total_bytes, "characters": total_chars,
            "bits_per_byte": round(bits / total_bytes, 5) if total_bytes else float("nan"),
            "bits_per_character": round(bits / total_chars, 5) if total_chars else float("nan")}


@torch.no_grad()
def generate(model, tokenizer, prompt: str, max_new_tokens: int, chat: bool, system_prompt: str | None = None,
             repetition_penalty: float = 1.2) -> str:
    """Greedy continuation of `prompt` (plain text), or the assistant reply to it (chat=True)."""
    if chat:
        messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + \
                   [{"role": "user", "content": prompt}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = prompt
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                         repetition_penalty=repetition_penalty, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


GATE_MODELS = ("pretrained", "sft")


def check_gate_params(gates: dict | None) -> dict:
    """Validated `evaluate.gates` (absent: gates off)."""
    if gates is None:
        return {"enabled": False}
    if not isinstance(gates, dict):
        raise InputError(f"evaluate.gates: expected a mapping, got {gates!r}")
    if not isinstance(gates.get("enabled", True), bool):
        raise InputError(f"evaluate.gates.enabled: expected true or false, got {gates['enabled']!r}")
    models = gates.get("models", list(GATE_MODELS))
    if not isinstance(models, list) or not models or any(m not in GATE_MODELS for m in models):
        raise InputError(f"evaluate.gates.models: expected a non-empty list of {list(GATE_MODELS)}, got {models!r}")
    for key in ("max_target_bpb_change", "max_general_bpb_increase"):
        v = gates.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not -1.0 < v < 10.0:
            raise InputError(f"evaluate.gates.{key}: expected a number in (-1, 10) (relative change), got {v!r}")
    return {"enabled": gates.get("enabled", True), "models": models,
            "max_target_bpb_change": float(gates["max_target_bpb_change"]),
            "max_general_bpb_increase": float(gates["max_general_bpb_increase"])}


def apply_gates(results: dict, gates: dict, target_name: str = "target") -> tuple[dict, list[str]]:
    """Compare each gated model's bits per byte with the base model's.

    target: relative change after/before - 1 must be <= max_target_bpb_change (below 0: must improve by that much);
    general: relative change must be <= max_general_bpb_increase. Returns ({"passed", "enabled", "checks"},
    failure messages)."""
    gates = check_gate_params(gates)
    if not gates["enabled"]:
        return {"passed": True, "enabled": False, "checks": {}}, []
    checks, failures = {}, []
    base = results["base"]
    for model in gates["models"]:
        for dataset, limit, label, verb in (
                ("target", gates["max_target_bpb_change"], f"{target_name} bits per byte", "did not improve enough"),
                ("general", gates["max_general_bpb_increase"], "general-English bits per byte", "worsened too much")):
            before, after = base[f"{dataset}_bpb"], results[model][f"{dataset}_bpb"]
            change = after / before - 1
            ok = bool(change <= limit)
            checks[f"{model}_{dataset}_bpb"] = {"before": before, "after": after, "change": round(change, 5),
                                                "max_change": limit, "passed": ok}
            if not ok:
                failures.append(f"{label} of `{model}` {before:.4f} -> {after:.4f} {verb} "
                                f"(change {change:+.2%}, allowed at most {limit:+.2%}: evaluate.gates)")
    return {"passed": not failures, "enabled": True, "checks": checks}, failures
