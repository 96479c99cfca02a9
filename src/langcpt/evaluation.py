"""Held-out perplexity and sample generations for a set of checkpoints (before/after, forgetting)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


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
        return {"loss": float("nan"), "perplexity": float("nan"), "tokens": 0}
    loss = total_nll / total_tokens
    return {"loss": round(loss, 5), "perplexity": round(math.exp(loss), 4), "tokens": total_tokens}


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
