"""Vocabulary extension: new target-language tokens appended to a byte-level BPE tokenizer, and the model resized.

1. `extend_tokenizer` trains a BPE of the same kind as the base (the base's own pre-tokenizer and normalizer, HF
   `tokenizers`' BpeTrainer) on the target-language training texts. Its merges whose token is absent from the base
   vocabulary and whose two parts already exist (in the base, or among the new tokens taken before) are the
   candidates. Candidates are ranked by how often the extended tokenizer actually emits them on the training text
   (a trained merge can be unreachable: the base's merges may split a word so that the two parts never meet), and
   the top `new_tokens` are kept together with the new tokens they are built from.
2. The kept tokens get the ids after the base vocabulary and their merges go after the base merges (the lowest
   priority): every base id is unchanged, and a new merge only joins what the base merges leave apart, so English
   text tokenizes (almost always) as before. The extended tokenizer must encode llama.cpp's pre-tokenizer probe
   (`GGUF_PRE_PROBE`) exactly like the base, so `convert_hf_to_gguf.py` still recognises the base's pre-tokenizer
   (its `chkhsh`); new tokens that would change that probe are dropped.
3. `resize_model` grows embed_tokens (and an untied lm_head) to the new size and sets each new row to the mean of
   the base rows of the base-token pieces the new token is made of (the base BPE applied to its bytes).
`new_tokens: 0` is a no-op: the base tokenizer is copied unchanged and the model is not touched.
"""
from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Iterable

from .fileio import InputError, atomic_path

# The text llama.cpp's convert_hf_to_gguf.py encodes to identify a BPE pre-tokenizer (`get_vocab_base_pre`, chkhsh:
# sha256 of the token ids). Unchanged since llama.cpp added it (2024); an extension must leave its ids alone.
GGUF_PRE_PROBE = (
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 "
    "333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ "
    "------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you "
    "sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")
INFO_FILE = "vocab_extension.json"
WORD = re.compile(r"\w+")


def check_config(cfg: dict | None) -> dict:
    """Validated `tokenize.vocab_extension` (absent: off)."""
    cfg = {"new_tokens": 0, "train_vocab_size": 16000, "min_frequency": 2, **(cfg or {})}
    for key, lo in (("new_tokens", 0), ("train_vocab_size", 512), ("min_frequency", 1)):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise InputError(f"tokenize.vocab_extension.{key}: expected an integer >= {lo}, got {v!r}")
    return cfg


def _model_json(tokenizer) -> dict:
    return json.loads(tokenizer.to_str())


def _merge_pair(merge) -> tuple[str, str]:
    return tuple(merge) if isinstance(merge, list) else tuple(merge.split(" ", 1))


def _check_byte_level_bpe(spec: dict, where: str) -> None:
    model = spec.get("model") or {}
    kinds = json.dumps(spec.get("pre_tokenizer"))
    if model.get("type") != "BPE" or '"ByteLevel"' not in kinds:
        raise InputError(f"{where}: vocabulary extension needs a byte-level BPE tokenizer (GPT-2 style), got model "
                         f"{model.get('type')!r} with pre-tokenizer {kinds[:120]}")


def train_candidates(base, texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> list[tuple[str, str]]:
    """The merges, in order, of a BPE trained on `texts` with the base's normalizer and pre-tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    trained = Tokenizer(models.BPE())
    if base.normalizer is not None:
        trained.normalizer = base.normalizer
    trained.pre_tokenizer = base.pre_tokenizer
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    trained.train_from_iterator(texts, trainer)
    return [_merge_pair(m) for m in _model_json(trained)["model"]["merges"]]


def with_tokens(base, tokens: list[str], merges: list[tuple[str, str]]):
    """The base tokenizer with `tokens` appended after its last id and `merges` after its last merge."""
    from tokenizers import Tokenizer

    spec = _model_json(base)
    n0 = base.get_vocab_size(with_added_tokens=True)
    vocab = spec["model"]["vocab"]
    for i, t in enumerate(tokens):
        vocab[t] = n0 + i
    spec["model"]["merges"] = [list(_merge_pair(m)) for m in spec["model"]["merges"]] + [list(m) for m in merges]
    return Tokenizer.from_str(json.dumps(spec))


def extend_tokenizer(base, texts: list[str], new_tokens: int, train_vocab_size: int = 16000,
                     min_frequency: int = 2) -> tuple[object, dict]:
    """(extended tokenizers.Tokenizer, report) with up to `new_tokens` new tokens (see the module doc)."""
    spec = _model_json(base)
    _check_byte_level_bpe(spec, "base tokenizer")
    if new_tokens <= 0:
        return base, {"new_tokens": 0}
    base_vocab = spec["model"]["vocab"]
    n0 = base.get_vocab_size(with_added_tokens=True)
    known, pool, parts = set(base_vocab), [], {}
    for a, b in train_candidates(base, texts, train_vocab_size, min_frequency):
        if a + b not in known and a in known and b in known:
            known.add(a + b)
            pool.append(a + b)
            parts[a + b] = (a, b)
    full = with_tokens(base, pool, [parts[t] for t in pool])
    use = Counter(i for e in full.encode_batch_fast(texts, add_special_tokens=False) for i in e.ids if i >= n0)

    def closure(token: str, acc: set) -> set:
        if token not in base_vocab and token not in acc:
            acc.add(token)
            for p in parts[token]:
                closure(p, acc)
        return acc

    dropped: set[str] = set()
    while True:
        keep: set[str] = set()
        for i, _ in use.most_common():
            need = closure(pool[i - n0], set()) - keep
            if not need & dropped and len(keep) + len(need) <= new_tokens:
                keep |= need
            if len(keep) >= new_tokens:
                break
        tokens = [t for t in pool if t in keep]  # trained merge order: a token's parts come before it
        extended = with_tokens(base, tokens, [parts[t] for t in tokens])
        changed = {extended.id_to_token(i) for i in extended.encode(GGUF_PRE_PROBE).ids if i >= n0}
        if not changed:
            break
        dropped |= changed  # they would change llama.cpp's pre-tokenizer hash: never take them
    report = {"new_tokens": len(tokens), "candidates": len(pool), "candidates_used_on_train": len(use),
              "dropped_for_gguf_probe": len(dropped), "base_vocab_size": n0, "vocab_size": n0 + len(tokens),
              "train_vocab_size": train_vocab_size, "first_tokens": [_readable(t) for t in tokens[:20]]}
    return extended, report


def _readable(token: str) -> str:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    return bytes(byte_of[c] for c in token).decode("utf-8", errors="replace")


def tokens_per_word(tokenizer, texts: list[str]) -> dict:
    """Tokens per word (\\w+ runs) of `texts`: the tokenizer's fertility."""
    tokens = sum(len(e.ids) for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False))
    words = sum(len(WORD.findall(t)) for t in texts)
    chars = sum(len(t) for t in texts)
    return {"documents": len(texts), "words": words, "characters": chars, "tokens": tokens,
            "tokens_per_word": round(tokens / max(words, 1), 5), "characters_per_token": round(chars / max(tokens, 1), 4)}


def english_drift(base, extended, texts: list[str]) -> dict:
    """How much the extension changes the tokenization of `texts` (general English): documents tokenized
    differently and the change in tokens."""
    b = base.encode_batch_fast(texts, add_special_tokens=False)
    e = extended.encode_batch_fast(texts, add_special_tokens=False)
    nb, ne = sum(len(x.ids) for x in b), sum(len(x.ids) for x in e)
    return {"documents": len(texts), "documents_changed": sum(x.ids != y.ids for x, y in zip(b, e)),
            "tokens_before": nb, "tokens_after": ne, "token_change": round(ne / max(nb, 1) - 1, 6)}


def save_tokenizer_dir(base_dir: Path, out_dir: Path, tokenizer=None, info: dict | None = None) -> None:
    """`out_dir` (atomically): the base's tokenizer files, with tokenizer.json replaced by `tokenizer` when given
    (else copied byte for byte), and INFO_FILE describing the extension."""
    base_dir = Path(base_dir)
    with atomic_path(out_dir, is_dir=True) as tmp:
        for name in TOKENIZER_FILES:
            if (base_dir / name).is_file():
                shutil.copy2(base_dir / name, tmp / name)
        if tokenizer is not None:
            tokenizer.save(str(tmp / "tokenizer.json"))
        (tmp / INFO_FILE).write_text(json.dumps(info or {"new_tokens": 0}, indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")


def base_pieces(base, token: str) -> list[int]:
    """Base token ids of a token string (byte-level alphabet): the base BPE applied to its bytes as one word."""
    return [t.id for t in base.model.tokenize(token)]


def init_rows(weight, base, extended) -> list[tuple[int, list[int]]]:
    """Set the rows of the new ids of `weight` [vocab, dim] to the mean of their base pieces' rows (in place);
    returns (new id, pieces) per new row."""
    import torch

    n0 = base.get_vocab_size(with_added_tokens=True)
    done = []
    with torch.no_grad():
        for i in range(n0, extended.get_vocab_size(with_added_tokens=True)):
            pieces = base_pieces(base, extended.id_to_token(i))
            if not pieces or max(pieces) >= n0:
                raise InputError(f"new token {i} ({extended.id_to_token(i)!r}) is not made of base tokens")
            weight[i] = weight[pieces].float().mean(dim=0).to(weight.dtype)
            done.append((i, pieces))
    return done


def resize_model(model, base, extended) -> int:
    """Grow `model`'s input embeddings and (untied) LM head to the extended vocabulary, new rows initialised as
    the mean of their base pieces; returns the number of new rows (0: nothing to do)."""
    n0, n1 = base.get_vocab_size(with_added_tokens=True), extended.get_vocab_size(with_added_tokens=True)
    rows = model.get_input_embeddings().weight.shape[0]
    if n1 <= rows:
        return 0
    if rows != n0:
        raise InputError(f"the model has {rows} embedding rows but its tokenizer {n0} ids: cannot extend it")
    model.resize_token_embeddings(n1, mean_resizing=False)
    init_rows(model.get_input_embeddings().weight, base, extended)
    head = model.get_output_embeddings()
    if head is not None and head.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr():
        init_rows(head.weight, base, extended)
    return n1 - n0


def extended_checkpoint(base_dir: Path, tokenizer_dir: Path, out_dir: Path) -> bool:
    """Write base_dir's model resized to tokenizer_dir's vocabulary (with that tokenizer) into `out_dir`; False
    (nothing written) when tokenizer_dir has no more tokens than the model has rows."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from .packing import load_tokenizer

    base, _ = load_tokenizer(base_dir)
    extended, _ = load_tokenizer(tokenizer_dir)
    n1 = extended.get_vocab_size(with_added_tokens=True)
    if n1 <= base.get_vocab_size(with_added_tokens=True) or n1 <= AutoConfig.from_pretrained(base_dir).vocab_size:
        return False
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32, use_safetensors=True)
    resize_model(model, base, extended)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    for p in Path(base_dir).iterdir():  # generation config etc., then the extended tokenizer over the base's
        if p.is_file() and not (out_dir / p.name).exists() and p.suffix != ".safetensors":
            shutil.copy2(p, out_dir / p.name)
    for name in TOKENIZER_FILES:
        if (Path(tokenizer_dir) / name).is_file():
            shutil.copy2(Path(tokenizer_dir) / name, out_dir / name)
    return True


def same_tokenizer(a, b) -> bool:
    """Whether two tokenizers (tokenizers.Tokenizer or transformers) have the same vocabulary and merges."""
    def key(t):
        backend = getattr(t, "backend_tokenizer", t)
        spec = _model_json(backend)
        return spec["model"], [(x["id"], x["content"]) for x in spec.get("added_tokens", [])]
    return key(a) == key(b)
