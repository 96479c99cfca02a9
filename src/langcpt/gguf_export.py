"""Ship a Hugging Face causal LM as GGUF: convert, quantize, smoke-test with llama.cpp, write an Ollama Modelfile.

The converter is llama.cpp's own `convert_hf_to_gguf.py`, taken from the llama-cpp-python sdist of the *installed*
version, so the files it writes are ones the installed llama.cpp reads.
"""
from __future__ import annotations

import contextlib
import errno
import importlib.metadata
import json
import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from .fileio import InputError, atomic_path, extract_tar
from .quant_types import QUANT_TYPES

DEFAULT_CACHE = Path(os.environ.get("LANGCPT_CACHE", Path.home() / ".cache" / "langcpt"))
CONVERTER_OUTTYPES = ("f32", "f16", "bf16", "q8_0")
MODELFILE_PARAMS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "repeat_last_n", "num_ctx",
                    "num_predict", "seed")


# ---------------------------------------------------------------- converter
def llama_cpp_version() -> str:
    try:
        return importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError("llama-cpp-python is not installed; it is needed for the GGUF export") from None


def ensure_converter(cache_dir: Path | None = None) -> Path:
    """Path of convert_hf_to_gguf.py (gguf-py/ beside it) from the sdist of the installed llama-cpp-python; cached.

    An sdist `llama_cpp_python-<version>.tar.gz` already in `cache_dir` is used as is (for offline machines);
    otherwise pip downloads it.
    """
    cache_dir = Path(cache_dir or DEFAULT_CACHE)
    version = llama_cpp_version()
    root = cache_dir / f"llama.cpp-{version}"
    script = root / "convert_hf_to_gguf.py"
    if script.is_file() and (root / "gguf-py" / "gguf").is_dir():
        return script
    sdist = llama_cpp_sdist(cache_dir)
    with atomic_path(root, is_dir=True) as tmp, tarfile.open(sdist) as tf:
        tmp.chmod(0o755)  # mkdtemp makes it private
        members = []
        for m in tf.getmembers():
            _, sep, rel = m.name.partition("/vendor/llama.cpp/")
            wanted = rel == "convert_hf_to_gguf.py" or rel.startswith(("conversion/", "gguf-py/gguf/"))
            if sep and m.isfile() and wanted:
                m.name = rel
                members.append(m)
        extract_tar(tf, tmp, members)
        if not (tmp / "convert_hf_to_gguf.py").is_file() or not (tmp / "gguf-py" / "gguf").is_dir():
            raise RuntimeError(f"{sdist} does not contain vendor/llama.cpp/convert_hf_to_gguf.py and gguf-py/")
    return script


def llama_cpp_sdist(cache_dir: Path | None = None) -> Path:
    """The llama-cpp-python sdist of the installed version in `cache_dir` (downloaded by pip when absent)."""
    cache_dir = Path(cache_dir or DEFAULT_CACHE)
    version = llama_cpp_version()
    sdist = cache_dir / f"llama_cpp_python-{version}.tar.gz"
    if not sdist.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               f"llama-cpp-python=={version}", "-d", str(cache_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not sdist.is_file():
            raise RuntimeError(f"could not download the llama-cpp-python {version} sdist (needed for llama.cpp's "
                               f"convert_hf_to_gguf.py): {_tail(proc.stderr or proc.stdout)}\n"
                               f"Put llama_cpp_python-{version}.tar.gz into {cache_dir} to work offline.")
    return sdist


def llama_cpp_vocab(name: str, cache_dir: Path | None = None) -> Path:
    """llama.cpp's test vocabulary `models/ggml-vocab-<name>.gguf` (the real tokenizer of a model family, no weights:
    e.g. qwen2, llama-bpe) from the llama-cpp-python sdist; extracted once into cache_dir/llama.cpp-<version>-vocab."""
    cache_dir = Path(cache_dir or DEFAULT_CACHE)
    path = cache_dir / f"llama.cpp-{llama_cpp_version()}-vocab" / f"ggml-vocab-{name}.gguf"
    if path.is_file():
        return path
    sdist = llama_cpp_sdist(cache_dir)
    with tarfile.open(sdist) as tf:
        members = [m for m in tf.getmembers() if m.isfile() and m.name.endswith(f"/vendor/llama.cpp/models/{path.name}")]
        if not members:
            raise RuntimeError(f"{sdist} does not contain vendor/llama.cpp/models/{path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_bytes(tf.extractfile(members[0]).read())
    return path


def convert_to_gguf(hf_dir: str | os.PathLike, out_path: str | os.PathLike, outtype: str = "f16",
                    cache_dir: Path | None = None, eos_token: str | None = None) -> Path:
    """Convert a saved HF model dir to GGUF (atomically), with the chat template and the right EOS in the metadata.

    EOS is `eos_token` if given, else the chat template's end-of-turn token (`<|im_end|>` for ChatML), else the
    tokenizer's eos_token.
    """
    from transformers import AutoTokenizer

    hf_dir, out_path = Path(hf_dir), Path(out_path)
    if outtype not in CONVERTER_OUTTYPES:
        raise InputError(f"outtype {outtype!r} not supported by the converter; "
                         f"use one of {', '.join(CONVERTER_OUTTYPES)}")
    if not (hf_dir / "config.json").is_file():
        raise InputError(f"{hf_dir}: not a saved Hugging Face model (no config.json)")
    script = ensure_converter(cache_dir)
    tok = AutoTokenizer.from_pretrained(hf_dir)
    template = tok.chat_template if isinstance(tok.chat_template, str) else None
    if eos_token is None:
        eos_token = _end_of_turn(tok) or tok.eos_token
    eos_id = tok.convert_tokens_to_ids(eos_token) if eos_token else None
    if eos_id is None or eos_id == tok.unk_token_id or tok.convert_ids_to_tokens(eos_id) != eos_token:
        raise InputError(f"{hf_dir}: EOS token {eos_token!r} is not a single token of the vocabulary")

    with tempfile.TemporaryDirectory(prefix="gguf-stage-") as stage_dir, atomic_path(out_path) as tmp:
        # A view of hf_dir whose tokenizer_config.json names the EOS and carries the chat template. Named like
        # hf_dir: the converter derives general.basename/finetune from the folder's name, and a random temp name
        # there made two conversions of the same model differ in their metadata.
        name = hf_dir.resolve().name
        stage = Path(stage_dir) / name
        stage.mkdir()
        for p in hf_dir.iterdir():
            if p.name != "tokenizer_config.json":
                (stage / p.name).symlink_to(p.resolve())
        tcfg_path = hf_dir / "tokenizer_config.json"
        tcfg = json.loads(tcfg_path.read_text(encoding="utf-8")) if tcfg_path.is_file() else {}
        tcfg["eos_token"] = eos_token
        if template is not None:
            tcfg["chat_template"] = template
        (stage / "tokenizer_config.json").write_text(json.dumps(tcfg, ensure_ascii=False), encoding="utf-8")

        gguf_py = str(script.parent / "gguf-py")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [gguf_py, os.environ.get("PYTHONPATH")]))}
        cmd = [sys.executable, str(script), str(stage), "--outfile", str(tmp), "--outtype", outtype,
               "--model-name", name]  # general.name
        rc, output = _run_shown(cmd, env)  # its per-tensor lines and "Writing" bar reach a terminal as they come
        _raise_if_disk_full(rc, output, tmp)
        if rc != 0 or not tmp.is_file():
            raise RuntimeError(f"convert_hf_to_gguf.py failed on {hf_dir} (exit {rc}):\n{_tail(output)}")
        meta = gguf_metadata(tmp)
        if template is not None and meta.get("tokenizer.chat_template") != template:
            raise RuntimeError(f"{out_path}: the chat template did not make it into the GGUF metadata")
        if meta.get("tokenizer.ggml.eos_token_id") != eos_id:
            raise RuntimeError(f"{out_path}: GGUF EOS id {meta.get('tokenizer.ggml.eos_token_id')} "
                               f"!= {eos_id} ({eos_token})")
        _check_vocab(tmp, tok, meta)
    return out_path


_PROBE = "Grüße aus München: 12345 Äpfel für 3,50 €!\n  Straße\tÖl, naïve café"


def _check_vocab(gguf_path: Path, tok, meta: dict) -> None:
    """llama.cpp must tokenize a probe (chat-formatted when there is a template) exactly like the HF tokenizer.
    Runs in a fresh process: a vocabulary llama.cpp cannot handle aborts the process."""
    probe = _PROBE
    if isinstance(tok.chat_template, str):
        probe = tok.apply_chat_template([{"role": "user", "content": _PROBE}], tokenize=False,
                                        add_generation_prompt=True)
    want = tok(probe, add_special_tokens=False).input_ids
    code = ("import json, sys, llama_cpp\n"
            "m = llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)\n"
            "print(json.dumps(m.tokenize(sys.argv[2].encode(), add_bos=False, special=True)))")
    proc = subprocess.run([sys.executable, "-c", code, str(gguf_path), probe], capture_output=True, text=True)
    kind = f"tokenizer.ggml.model={meta.get('tokenizer.ggml.model')!r}, pre={meta.get('tokenizer.ggml.pre')!r}"
    missing = re.findall(r"(?m)^(?:ModuleNotFoundError|ImportError): (.*)$", proc.stderr)
    if proc.returncode != 0 and missing:  # the installation, not the vocabulary (llama-cpp-python needs diskcache ...)
        raise RuntimeError(f"llama-cpp-python cannot be imported in {sys.executable} ({missing[-1]}): install the "
                           "project's dependencies (pyproject.toml) to check the GGUF vocabulary")
    if proc.returncode != 0:
        raise RuntimeError(f"llama.cpp cannot load the vocabulary written by the converter ({kind}; exit "
                           f"{proc.returncode}); the HF tokenizer is probably not the model's original one:\n"
                           + "\n".join(re.findall(r"(?im)^.*(?:error|exception|what\(\)).*$", proc.stderr)[-5:]))
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if got != want:
        raise RuntimeError(f"llama.cpp tokenizes differently from the HF tokenizer ({kind}):\n"
                           f"  HF:        {want}\n  llama.cpp: {got}")


def gguf_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """All key/values of a GGUF file's header (arrays as lists). Plain struct reading: fast, unlike GGUFReader."""
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
    with open(path, "rb") as f:
        def read(fmt):
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))

        def value(vtype):
            if vtype == 8:  # string
                return f.read(read("<Q")[0]).decode("utf-8", errors="replace")
            if vtype == 9:  # array
                etype, n = read("<IQ")
                return [value(etype) for _ in range(n)]
            return read(scalar[vtype])[0]

        magic, _version, _n_tensors, n_kv = read("<4sIQQ")
        if magic != b"GGUF":
            raise InputError(f"{path}: not a GGUF file")
        meta = {}
        for _ in range(n_kv):
            key = value(8)
            meta[key] = value(read("<I")[0])
    return meta


# ---------------------------------------------------------------- quantize / run
def quantize(src_gguf: str | os.PathLike, dst_gguf: str | os.PathLike, qtype: str) -> Path:
    """Quantize an f32/f16/bf16 GGUF to `qtype` (one of QUANT_TYPES) with llama.cpp, atomically."""
    import ctypes

    import llama_cpp

    key = qtype.lower()
    if key not in QUANT_TYPES:
        raise InputError(f"unknown quantization type {qtype!r}; valid: {', '.join(QUANT_TYPES)}")
    src_gguf, dst_gguf = Path(src_gguf), Path(dst_gguf)
    if not src_gguf.is_file():
        raise InputError(f"{src_gguf}: no such GGUF file")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_TYPES[key])
    params.nthread = os.cpu_count() or 1
    with atomic_path(dst_gguf) as tmp, _terminal_bar(f"quantize {key}", _tensor_count(src_gguf)) as bar:
        with _captured_fds() as log, _follow_tensor_log(log, bar):  # the bar counts llama.cpp's "[ i/ n]" lines
            rc = llama_cpp.llama_model_quantize(str(src_gguf).encode(), str(tmp).encode(), ctypes.byref(params))
        _raise_if_disk_full(rc, log["text"], tmp)
        if rc != 0 or not tmp.is_file():
            raise RuntimeError(f"llama_model_quantize({src_gguf} -> {qtype}) failed ({rc}):\n{_tail(log['text'])}")
    if n := log["text"].count("falling back"):  # e.g. rows of 576 are not a multiple of 256 for k-quants
        logging.getLogger(__name__).info("%s: %d tensor(s) used a fallback type (row size)", dst_gguf.name, n)
    return dst_gguf


def load(gguf_path: str | os.PathLike, n_ctx: int = 2048, seed: int = 0, **kwargs):
    """A llama_cpp.Llama for `gguf_path`, quiet, using all cores."""
    from llama_cpp import Llama

    if not Path(gguf_path).is_file():
        raise InputError(f"{gguf_path}: no such GGUF file")
    kwargs.setdefault("n_threads", os.cpu_count() or 1)
    return Llama(model_path=str(gguf_path), n_ctx=n_ctx, seed=seed, verbose=False, **kwargs)


def generate(gguf_path, prompt: str, max_tokens: int = 64, temperature: float = 0.0, seed: int = 0,
             n_ctx: int = 2048) -> dict:
    """Plain completion. `gguf_path` may also be a loaded Llama. tokens_per_s includes prompt processing."""
    with _model(gguf_path, n_ctx, seed) as llm:
        t0 = time.perf_counter()
        out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=temperature, seed=seed)
        return _result(out["choices"][0]["text"], out, time.perf_counter() - t0)


def chat(gguf_path, messages: list[dict], max_tokens: int = 256, temperature: float = 0.0, seed: int = 0,
         n_ctx: int = 2048, **sampling) -> dict:
    """Chat completion with the chat template from the GGUF metadata. `gguf_path` may also be a loaded Llama.
    `sampling`: further create_chat_completion arguments (top_p, repeat_penalty, ...)."""
    with _model(gguf_path, n_ctx, seed) as llm:
        t0 = time.perf_counter()
        out = llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                         **sampling)
        return _result(out["choices"][0]["message"]["content"] or "", out, time.perf_counter() - t0)


@contextlib.contextmanager
def _model(gguf_path, n_ctx: int, seed: int):
    """Use a loaded Llama as is; load (and afterwards close) one for a path."""
    if hasattr(gguf_path, "create_completion"):
        yield gguf_path
        return
    llm = load(gguf_path, n_ctx=n_ctx, seed=seed)
    try:
        yield llm
    finally:
        llm.close()


def _result(text: str, out: dict, seconds: float) -> dict:
    n = out["usage"]["completion_tokens"]
    return {"text": text, "finish_reason": out["choices"][0]["finish_reason"], "tokens": n,
            "prompt_tokens": out["usage"]["prompt_tokens"], "seconds": round(seconds, 4),
            "tokens_per_s": round(n / seconds, 2) if seconds > 0 else 0.0}


# ---------------------------------------------------------------- parity gates (HF against GGUF)
def heldout_blocks(val_npy: str | os.PathLike, n_blocks: int, max_tokens: int | None = None) -> list[list[int]]:
    """`n_blocks` packed blocks of a tokenize_chunk .npy (spread evenly over it) as id lists, cut to max_tokens."""
    import numpy as np

    val_npy = Path(val_npy)
    if not val_npy.is_file():
        raise InputError(f"{val_npy}: no such file (held-out blocks for the parity gates)")
    arr = np.load(val_npy, mmap_mode="r")
    if arr.ndim != 2 or not len(arr):
        raise InputError(f"{val_npy}: expected a non-empty 2-D array of token ids, got shape {arr.shape}")
    rows = sorted(set(np.linspace(0, len(arr) - 1, min(n_blocks, len(arr))).astype(int).tolist()))
    return [arr[i][:max_tokens].tolist() for i in rows]


def chat_conversations(system: str, prompts: list[str], reply: str = "Das klingt schwer. Magst du mehr erzählen?"
                       ) -> list[list[dict]]:
    """Conversations that cover the chat tokens: with and without a system message, multi-turn."""
    convs = []
    for p in prompts:
        convs.append([{"role": "system", "content": system}, {"role": "user", "content": p}])
        convs.append([{"role": "user", "content": p}])
    if prompts:
        convs.append([{"role": "system", "content": system}, {"role": "user", "content": prompts[0]},
                      {"role": "assistant", "content": reply}, {"role": "user", "content": prompts[-1]}])
    return convs


def tokenizer_parity(gguf_path, tokenizer, texts: list[str]) -> dict:
    """HF token ids against llama.cpp's (special tokens parsed) for each text; returns counts and the mismatches."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf_path), vocab_only=True, verbose=False)
    mismatches, n_tokens = [], 0
    try:
        for i, text in enumerate(texts):
            want = tokenizer(text, add_special_tokens=False).input_ids
            got = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            n_tokens += len(want)
            if got != want:
                at = next((k for k, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
                mismatches.append({"text": i, "position": at, "hf": want[max(0, at - 2): at + 4],
                                   "llama_cpp": got[max(0, at - 2): at + 4], "excerpt": text[:80]})
    finally:
        llm.close()
    return {"texts": len(texts), "tokens": n_tokens, "mismatches": mismatches}


def hf_reference(model, sequences: list[list[int]]) -> list[dict]:
    """Per sequence, the HF causal LM's greedy next-token ids at every position ("argmax"), the gap between its two
    largest logits there ("margin") and the negative log-likelihood of each actual next token ("nll", one fewer).
    `model` is a loaded model or a folder (loaded in float32)."""
    import torch

    if isinstance(model, (str, os.PathLike)):
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
    out = []
    with torch.no_grad():
        for ids in sequences:
            logits = model(torch.tensor([ids])).logits[0].float()
            top = logits.topk(2, dim=-1)
            nll = -logits[:-1].log_softmax(-1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
            out.append({"argmax": top.indices[:, 0].tolist(),
                        "margin": (top.values[:, 0] - top.values[:, 1]).tolist(), "nll": nll.tolist()})
    return out


def logit_parity(gguf_path, sequences: list[list[int]], reference: list[dict], tie_margin: float = 0.0) -> dict:
    """Argmax agreement of llama.cpp with the reference (hf_reference) over all positions of all sequences, and the
    perplexity ratio llama.cpp / HF on the same next tokens (1.0 = no quality lost): compare_to_reference of
    llama.cpp's own {"argmax", "nll"} per sequence."""
    import numpy as np

    llm = load(gguf_path, n_ctx=max(len(s) for s in sequences), logits_all=True)
    other = []
    try:
        for ids in sequences:
            llm.reset()
            llm.eval(ids)
            scores = np.asarray(llm.scores[: len(ids)], dtype=np.float64)
            top = scores[:-1].max(-1)
            logz = top + np.log(np.exp(scores[:-1] - top[:, None]).sum(-1))
            other.append({"argmax": scores.argmax(-1), "nll": logz - scores[np.arange(len(ids) - 1), ids[1:]]})
    finally:
        llm.close()
    return compare_to_reference(reference, other, tie_margin)


def compare_to_reference(reference: list[dict], other: list[dict], tie_margin: float = 0.0) -> dict:
    """Agreement of `other`'s per-sequence argmax with the reference's (hf_reference) and its perplexity ratio on the
    same next tokens (from "nll"; None when either side lacks it).

    argmax_agreement counts every position. decisive_agreement leaves out near-ties, positions where the reference's
    two best logits are less than `tie_margin` apart (there either answer is the model's; quantization flips them)."""
    import numpy as np

    same = np.concatenate([np.equal(o["argmax"], r["argmax"]) for r, o in zip(reference, other)])
    decisive = np.concatenate([np.asarray(r["margin"]) >= tie_margin for r in reference])
    ratio = None
    if all("nll" in r and "nll" in o for r, o in zip(reference, other)):
        mean = lambda side: np.concatenate([np.asarray(x["nll"], dtype=np.float64) for x in side]).mean()  # noqa: E731
        ratio = round(float(np.exp(mean(other) - mean(reference))), 5)
    return {"argmax_agreement": round(float(same.mean()), 5), "positions": int(same.size),
            "decisive_agreement": round(float(same[decisive].mean()), 5) if decisive.any() else 1.0,
            "decisive_positions": int(decisive.sum()), "tie_margin": tie_margin, "perplexity_ratio": ratio}


def chat_template_parity(gguf_path, tokenizer, conversations: list[list[dict]]) -> list[str]:
    """What differs between the GGUF's chat setup and the HF tokenizer's: template text in the metadata, EOS (the
    end-of-turn token), and the prompt llama.cpp's chat handler renders from the metadata. Empty list = same."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    meta = gguf_metadata(gguf_path)
    problems = []
    template = meta.get("tokenizer.chat_template")
    if template != tokenizer.chat_template:
        problems.append("tokenizer.chat_template in the GGUF metadata differs from the HF tokenizer's chat template")
    end = _end_of_turn(tokenizer) or tokenizer.eos_token
    if meta.get("tokenizer.ggml.eos_token_id") != tokenizer.convert_tokens_to_ids(end):
        problems.append(f"GGUF EOS id {meta.get('tokenizer.ggml.eos_token_id')} is not {end!r} "
                        f"({tokenizer.convert_tokens_to_ids(end)})")
    if not template:
        return problems + ["the GGUF has no chat template"]
    tokens = meta["tokenizer.ggml.tokens"]
    fmt = Jinja2ChatFormatter(template, eos_token=tokens[meta["tokenizer.ggml.eos_token_id"]],
                              bos_token=tokens[meta.get("tokenizer.ggml.bos_token_id", 0)])
    for i, msgs in enumerate(conversations):
        want = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        got = fmt(messages=msgs).prompt
        if got != want:
            problems.append(f"conversation {i}: llama.cpp renders {got[:120]!r}, HF renders {want[:120]!r}")
    return problems


def hf_greedy_reply(model, tokenizer, messages: list[dict], max_new_tokens: int) -> list[int]:
    """Token ids of the HF model's greedy chat reply (stops at the end-of-turn token, which is not included)."""
    import torch

    end_id = tokenizer.convert_tokens_to_ids(_end_of_turn(tokenizer) or tokenizer.eos_token)
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False)
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=end_id,
                             pad_token_id=end_id)[0, len(ids):].tolist()
    return out[: out.index(end_id)] if end_id in out else out


def decode_speed(llm, prompt: str, n_tokens: int = 64) -> float:
    """llama.cpp generation tokens/s after the prompt is processed (greedy, `n_tokens` tokens, EOS not special)."""
    ids = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    llm.reset()
    t0, n = None, 0
    for _ in llm.generate(ids, temp=0.0, reset=True):
        n += 1
        if n == 1:
            t0 = time.perf_counter()  # the prompt is processed and the first token sampled
        if n >= n_tokens:
            break
    seconds = time.perf_counter() - t0
    return round((n - 1) / seconds, 2) if seconds > 0 else 0.0


# ---------------------------------------------------------------- Ollama Modelfile
def chatml_format(tokenizer) -> dict[str, str | None]:
    """Per-turn layout of a chat template of the ChatML family (SmolLM2, Qwen2.5) or Llama 3's header-token format:
    turn = start + role + sep + content + end, the system turn's content after a fixed `system_prefix`.

    ChatML: start "<|im_start|>", sep "\\n", end "<|im_end|>\\n". Llama 3: start "<|start_header_id|>",
    sep "<|end_header_id|>\\n\\n", end "<|eot_id|>", system_prefix "Cutting Knowledge Date: ...\\nToday Date: <the day
    of the rendering>\\n\\n" (before the system message's content; the system turn is written even without one).
    Found by rendering probe conversations with apply_chat_template; returns start, sep, end, lead (text before the
    first turn), system_prefix ("" when none) and default_system (the whole system content written when a
    conversation has no system message, else None). Raises InputError if the template is not of that shape.
    """
    S, U1, A1, U2 = "SYSx7q", "USRx7q", "ASTx7q", "USRy7q"

    def render(msgs, gen=True):
        try:
            return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
        except Exception as e:  # template raised (e.g. no system role) or there is none
            raise InputError(f"cannot render the chat template ({e}); a Modelfile TEMPLATE cannot be derived") from e

    def msg(role, content):
        return {"role": role, "content": content}

    def unsupported(why):
        return InputError(f"chat template is neither ChatML-like nor Llama-3-like ({why}); cannot express it as an "
                          f"Ollama TEMPLATE")

    full = render([msg("system", S), msg("user", U1), msg("assistant", A1), msg("user", U2)])
    pieces = re.split("|".join((S, U1, A1, U2)), full)
    if len(pieces) != 5 or re.findall("|".join((S, U1, A1, U2)), full) != [S, U1, A1, U2]:
        raise unsupported("message contents are not rendered verbatim and in order")
    p0, p1, p2, p3, p4 = pieces
    if not p1.count("user"):
        raise unsupported("role names do not appear in the rendered turns")
    head1, sep = p1[: p1.rfind("user")], p1[p1.rfind("user") + 4:]
    at = p0.find("system" + sep)
    if not sep or at < 0:
        raise unsupported("the system turn does not share the user turn's role/separator layout")
    head0, system_prefix = p0[:at], p0[at + len("system" + sep):]
    n = 0
    while n < min(len(head0), len(head1)) and head0[-1 - n] == head1[-1 - n]:
        n += 1
    # The longest common tail of the text before the system and the user role may reach into the previous
    # token ("|><|start_header_id|>" after "<|begin_of_text|>" and "<|eot_id|>"): the turn start is the longest
    # tail for which a conversation ending in an assistant turn renders turn by turn.
    closed = render([msg("system", S), msg("user", U1), msg("assistant", A1)], gen=False)

    def turn(role, content):  # with the start/end of the loop below
        return start + role + sep + (system_prefix if role == "system" else "") + content + end

    for n in range(n, 0, -1):
        start, lead, end = head0[len(head0) - n:], head0[: len(head0) - n], head1[: len(head1) - n]
        gen = start + "assistant" + sep
        if (p2, p3, p4) == (end + gen, end + start + "user" + sep, end + gen) and \
                closed == lead + turn("system", S) + turn("user", U1) + turn("assistant", A1):
            break
    else:
        raise unsupported("turns do not share one start/separator/end layout, or a final assistant turn is "
                          "rendered differently")
    only_user = render([msg("user", U1)])
    default_system = None
    if only_user != lead + turn("user", U1) + gen:
        head, tail = lead + start + "system" + sep, end + turn("user", U1) + gen
        if not (only_user.startswith(head) and only_user.endswith(tail)):
            raise unsupported("a conversation without a system message is rendered differently")
        default_system = only_user[len(head): len(only_user) - len(tail)]
    return {"start": start, "sep": sep, "end": end, "lead": lead, "system_prefix": system_prefix,
            "default_system": default_system}


def modelfile_from_chat_template(tokenizer, gguf_filename: str, system_prompt: str | None = None,
                                 params: dict | None = None) -> str:
    """An Ollama Modelfile for `gguf_filename` (beside it) whose TEMPLATE reproduces the tokenizer's chat template.

    A template that starts with the BOS token of a tokenizer that prepends BOS itself (Llama 3): the GGUF says
    add_bos_token, so Ollama prepends it; the TEMPLATE leaves it out (else the prompt would start with two)."""
    if isinstance(tokenizer, (str, os.PathLike)):
        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    if not gguf_filename or Path(gguf_filename).name != gguf_filename or re.search(r'[\s"]', gguf_filename):
        raise InputError(f"gguf_filename must be a plain file name without spaces or quotes, got {gguf_filename!r}")
    f = chatml_format(tokenizer)

    def lit(s):  # literal text in a Go template: only "{{" is special
        return s.replace("{{", '{{ "{{" }}')

    lead, bos = f["lead"], getattr(tokenizer, "bos_token", None)
    if bos and lead.startswith(bos) and adds_bos(tokenizer):
        lead = lead[len(bos):]
    tpl = lit(lead)
    if f["default_system"] is not None:
        tpl += ('{{ if and .Messages (ne (index .Messages 0).Role "system") }}'
                + lit(f["start"] + "system" + f["sep"] + f["default_system"] + f["end"]) + "{{ end }}")
    prefix = ('{{ if eq .Role "system" }}' + lit(f["system_prefix"]) + "{{ end }}") if f["system_prefix"] else ""
    tpl += ("{{ range .Messages }}" + lit(f["start"]) + "{{ .Role }}" + lit(f["sep"]) + prefix + "{{ .Content }}"
            + lit(f["end"]) + "{{ end }}" + lit(f["start"] + "assistant" + f["sep"]))
    lines = [f"FROM ./{gguf_filename}", f"TEMPLATE {_triple_quote(tpl, 'TEMPLATE')}"]
    for stop in dict.fromkeys(s.strip() for s in (f["end"], f["start"])):
        if stop:
            quoted = f'"{stop}"' if '"' not in stop and not re.search(r"\s", stop) else _triple_quote(stop, "stop")
            lines.append(f"PARAMETER stop {quoted}")
    if system_prompt is not None:
        lines.append(f"SYSTEM {_triple_quote(system_prompt, 'SYSTEM')}")
    for key, value in (params or {}).items():
        if key not in MODELFILE_PARAMS:
            raise InputError(f"unknown Modelfile parameter {key!r}; valid: {', '.join(MODELFILE_PARAMS)}")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"Modelfile parameter {key} must be a number, got {value!r}")
        lines.append(f"PARAMETER {key} {value}")
    return "\n".join(lines) + "\n"


def _triple_quote(text: str, what: str) -> str:
    """`\"\"\"text\"\"\"` for a Modelfile. Its parser has no escapes: everything but control characters is kept
    verbatim (quotes, backslashes, newlines); only a line ending in \"\"\" would end the value early."""
    bad = sorted({c for c in text if not (c.isprintable() or c in "\t\n\r")})
    if bad:
        raise InputError(f"{what} contains control characters an Ollama Modelfile cannot hold: {bad!r}")
    if re.search(r'"""\s*[\r\n]', text):
        raise InputError(f'{what}: a line ending in """ cannot be written in an Ollama Modelfile')
    return f'"""{text}"""'


# ---------------------------------------------------------------- the gguf stage: export, gates, Modelfile, Ollama
DEFAULT_MIN_AGREEMENT = {"f16": 0.99, "q8_0": 0.98}
DEFAULT_MAX_PERPLEXITY_RATIO = {"f16": 1.01, "q8_0": 1.03}


class GateError(RuntimeError):
    """A gguf gate (or `ollama create/run`) failed; the stage stops with its message."""


def export_files(hf_dir: Path, out: Path, quantizations: list[str], cache_dir: Path | None = None) -> dict[str, Path]:
    """Convert `hf_dir` to out/model-f16.gguf and quantize it to out/model-<type>.gguf: {type: path}, f16 first."""
    f16 = convert_to_gguf(hf_dir, out / "model-f16.gguf", outtype="f16", cache_dir=cache_dir)
    files = {"f16": f16}
    for qtype in quantizations:
        if qtype != "f16":
            files[qtype] = quantize(f16, out / f"model-{qtype}.gguf", qtype)
    return files


def check_export(cfg: dict, hf_dir: Path, val_npy: Path, files: dict[str, Path], tokenizer, system: str,
                 prompts: list[str]) -> dict:
    """Size and decode speed of each file, then the parity gates against the HF model (float32) in `hf_dir`:
    {"files": {type: figures}, "gate": ..., "parity": ...}; GateError naming every failed gate.

    tokenizer  HF token ids == llama.cpp's on held-out text (`val_npy` decoded) and chat-template renderings;
    logit      argmax agreement at positions that are not near-ties (gguf.min_argmax_agreement, default f16 >= 0.99,
               q8_0 >= 0.98) and perplexity as a multiple of HF's (gguf.max_perplexity_ratio, f16 <= 1.01,
               q8_0 <= 1.03), figures for every type;
    chat       llama.cpp's chat handler renders as HF does; greedy f16 starts with the HF model's greedy reply;
               chats sampled with the Modelfile's parameters through the gate file stop at the end-of-turn token
               (gguf.min_stopped_samples of them) and leak no template token."""
    import torch
    from transformers import AutoModelForCausalLM

    metrics = {"files": {}}
    speed_prompt = tokenizer.apply_chat_template(
        [{"role": "system", "content": system}, {"role": "user", "content": cfg["gate_prompt"]}],
        tokenize=False, add_generation_prompt=True)
    for qtype, path in files.items():
        llm = load(path, n_ctx=1024)
        try:
            tps = decode_speed(llm, speed_prompt, cfg.get("speed_tokens", 64))
        finally:
            llm.close()
        metrics["files"][qtype] = {"size_mb": round(path.stat().st_size / 2**20, 2), "generation_tokens_per_s": tps}

    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    gates = parity_gates(cfg, files, tokenizer, model, system, prompts, val_npy)
    del model
    for qtype in files:
        metrics["files"][qtype].update(gates.pop(qtype))
    if gates["failed"]:
        raise GateError("gguf gates failed:\n  " + "\n  ".join(gates["failed"]))
    metrics["gate"] = gates.pop("gate")
    metrics["parity"] = {k: v for k, v in gates.items() if k != "failed"}
    return metrics


def parity_gates(cfg: dict, files: dict[str, Path], tokenizer, model, system: str, prompts: list[str],
                 val_npy: Path) -> dict:
    """Run the tokenizer, logit and chat gates; per-type figures in the returned dict, failures in its "failed"."""
    blocks = heldout_blocks(val_npy, cfg.get("parity_blocks", 4))
    convs = chat_conversations(system, prompts)
    chat_texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in convs]
    texts = [tokenizer.decode(b) for b in blocks] + chat_texts
    sequences = blocks + [tokenizer(t, add_special_tokens=False).input_ids for t in chat_texts]
    reference = hf_reference(model, sequences)
    failed, out = [], {"heldout_blocks": len(blocks), "chat_texts": len(chat_texts)}
    for qtype, path in files.items():
        tp = tokenizer_parity(path, tokenizer, texts)
        if tp["mismatches"]:
            m = tp["mismatches"][0]
            failed.append(f"tokenizer parity ({path.name}): {len(tp['mismatches'])} of {tp['texts']} texts differ; "
                          f"first: text {m['text']} at token {m['position']}: HF {m['hf']} vs llama.cpp "
                          f"{m['llama_cpp']} ({m['excerpt']!r})")
        lp = logit_parity(path, sequences, reference, cfg.get("parity_tie_margin", 0.5))
        need = cfg.get("min_argmax_agreement", DEFAULT_MIN_AGREEMENT).get(qtype)
        if need is not None and lp["decisive_agreement"] < need:
            failed.append(f"logit parity ({path.name}): argmax agreement {lp['decisive_agreement']:.4f} < {need} "
                          f"over {lp['decisive_positions']} positions whose HF top-2 logits are >= "
                          f"{lp['tie_margin']} apart (all {lp['positions']} positions: {lp['argmax_agreement']:.4f})")
        max_ratio = cfg.get("max_perplexity_ratio", DEFAULT_MAX_PERPLEXITY_RATIO).get(qtype)
        if max_ratio is not None and lp["perplexity_ratio"] > max_ratio:
            failed.append(f"logit parity ({path.name}): perplexity {lp['perplexity_ratio']:.4f}x the HF model's on "
                          f"the {lp['positions'] - len(sequences)} next tokens of the parity texts > {max_ratio}")
        out[qtype] = {"tokenizer_texts_differing": len(tp["mismatches"]), "tokenizer_tokens": tp["tokens"],
                      "argmax_agreement": lp["argmax_agreement"], "argmax_positions": lp["positions"],
                      "argmax_agreement_decisive": lp["decisive_agreement"],
                      "argmax_positions_decisive": lp["decisive_positions"], "argmax_min": need,
                      "perplexity_ratio_vs_hf": lp["perplexity_ratio"], "perplexity_ratio_max": max_ratio}
        print(f"parity {qtype}: tokenizer {tp['texts'] - len(tp['mismatches'])}/{tp['texts']} texts equal; argmax "
              f"agreement {lp['argmax_agreement']:.4f} over all {lp['positions']} positions, "
              f"{lp['decisive_agreement']:.4f} over the {lp['decisive_positions']} with HF margin >= "
              f"{lp['tie_margin']} (gate: {need}); perplexity x{lp['perplexity_ratio']} of HF's", flush=True)

    gate_file = files[cfg["gate_quantization"]]
    for path in dict.fromkeys([files["f16"], gate_file]):
        failed += [f"chat parity ({path.name}): {p}" for p in chat_template_parity(path, tokenizer, convs)]

    # Greedy: llama.cpp (f16) answers as the HF SFT model does.
    messages = [{"role": "system", "content": system}, {"role": "user", "content": cfg["gate_prompt"]}]
    n = cfg.get("greedy_match_tokens", 16)
    hf_ids = hf_greedy_reply(model, tokenizer, messages, n)
    # both replies as their text tokenized canonically: a model may generate a split the tokenizer would not make
    # (with an extended vocabulary, "Ich" as the base pieces "I" + "ch"), which re-tokenizing llama.cpp's text merges
    hf_ids = tokenizer(tokenizer.decode(hf_ids), add_special_tokens=False).input_ids
    llm = load(files["f16"])
    try:
        greedy = chat(llm, messages, max_tokens=n)
        cpp_ids = llm.tokenize(greedy["text"].encode("utf-8"), add_bos=False, special=False)
    finally:
        llm.close()
    same = next((i for i, (a, b) in enumerate(zip(hf_ids, cpp_ids)) if a != b), min(len(hf_ids), len(cpp_ids)))
    if same < min(n, len(hf_ids)):
        failed.append(f"chat parity ({files['f16'].name}): greedy reply differs from the HF SFT model's after "
                      f"{same} tokens: HF {tokenizer.decode(hf_ids)!r} vs llama.cpp {greedy['text']!r}")
    out["greedy"] = {"hf": tokenizer.decode(hf_ids), "llama_cpp": greedy["text"], "same_tokens": same}

    # Sampled with the Modelfile's parameters: the replies must stop at the end-of-turn token, without markers.
    sampling = {k: cfg["modelfile"].get(k) for k in ("temperature", "top_p", "repeat_penalty")}
    llm = load(gate_file)
    try:
        replies = [chat(llm, messages, max_tokens=cfg["gate_max_tokens"], seed=s, **{k: v for k, v in sampling.items()
                                                                                  if v is not None})
                   for s in range(cfg.get("chat_samples", 3))]
    finally:
        llm.close()
    stopped = [r for r in replies if r["finish_reason"] == "stop" and r["text"].strip()]
    markers = chat_markers(tokenizer)
    leaked = [r["text"] for r in replies if any(m in r["text"] for m in markers)]
    need = cfg.get("min_stopped_samples", 1)
    if len(stopped) < need:
        failed.append(f"chat parity ({gate_file.name}): {len(stopped)} of {len(replies)} sampled replies stopped at "
                      f"the end-of-turn token within {cfg['gate_max_tokens']} tokens, fewer than "
                      f"gguf.min_stopped_samples={need}")
    if leaked:
        failed.append(f"chat parity ({gate_file.name}): template tokens leaked into a reply: {leaked[0][:120]!r}")
    best = (stopped or replies)[0]
    out["gate"] = {"file": gate_file.name, "finish_reason": best["finish_reason"], "reply": best["text"],
                   "samples": len(replies), "stopped": len(stopped)}
    print(f"gate ({gate_file.name}): {len(stopped)}/{len(replies)} sampled replies stopped; "
          f"{best['text']!r} [{best['finish_reason']}]", flush=True)
    out["failed"] = failed
    return out


def write_modelfile(out: Path, hf_dir: Path, gate_file: str, modelfile_cfg: dict) -> Path:
    """out/Modelfile for `gate_file` (params gguf.modelfile: `system` and the sampling parameters)."""
    sampling = {k: v for k, v in modelfile_cfg.items() if k != "system"}
    path = out / "Modelfile"
    path.write_text(modelfile_from_chat_template(str(hf_dir), gate_file, system_prompt=modelfile_cfg["system"],
                                                 params=sampling), encoding="utf-8")
    return path


def run_ollama(out: Path, name: str, prompt: str) -> dict:
    """`ollama create` + one `ollama run` where an ollama binary is on PATH; otherwise say that they were skipped."""
    if not shutil.which("ollama"):
        msg = "skipped: no `ollama` binary on PATH (ollama create/run not run; see README)"
        print(f"ollama: {msg}", flush=True)
        return {"status": msg}
    res = {}
    for what, cmd in (("create", ["ollama", "create", name, "-f", "Modelfile"]),
                      ("run", ["ollama", "run", name, prompt])):
        proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise GateError(f"`{' '.join(cmd)}` failed ({proc.returncode}): {proc.stderr.strip()[-1000:]}")
        res[what] = proc.stdout.strip()[-500:]
    if not res["run"]:
        raise GateError(f"`ollama run {name}` answered nothing")
    print(f"ollama run {name}: {res['run']!r}", flush=True)
    return {"status": "ran: ollama create + ollama run", "model": name, "reply": res["run"]}


# ---------------------------------------------------------------- helpers
def adds_bos(tokenizer) -> bool:
    """Whether encoding text prepends the BOS token (what the converter writes as tokenizer.ggml.add_bos_token)."""
    bos_id = getattr(tokenizer, "bos_token_id", None)
    return bos_id is not None and tokenizer("x").input_ids[:1] == [bos_id]


def chat_markers(tokenizer) -> list[str]:
    """Text a chat reply must not contain: the tokenizer's special tokens and the template's turn start/end tokens."""
    markers = set(getattr(tokenizer, "all_special_tokens", []) or [])
    with contextlib.suppress(InputError):
        f = chatml_format(tokenizer)
        markers |= {f["start"].strip(), f["end"].strip()}
    return sorted(m for m in markers if m)


def _end_of_turn(tokenizer) -> str | None:
    """The chat template's end-of-turn token (e.g. <|im_end|>) if it is a single vocabulary token."""
    if not isinstance(getattr(tokenizer, "chat_template", None), str):
        return None
    try:
        end = chatml_format(tokenizer)["end"].strip()
    except InputError:
        return None
    return end if end and len(tokenizer.encode(end, add_special_tokens=False)) == 1 else None


def _raise_if_disk_full(rc: int, log: str, path: Path) -> None:
    """A writer outside Python (the converter's process, llama.cpp) that failed on a full disk: raise the OSError
    atomic_path turns into a clean "no space left on device" error naming the output. The converter says so
    (errno 28 in its traceback); llama.cpp's quantizer only says "iostream error", so a failure that left less than
    1 MiB free on `path`'s filesystem (its partial file still there) counts as a full disk too."""
    if rc == 0:
        return
    full = os.strerror(errno.ENOSPC) in (log or "")
    if not full:
        with contextlib.suppress(OSError):
            st = os.statvfs(path.parent)
            full = st.f_bavail * st.f_frsize < 2**20
    if full:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _run_shown(cmd: list[str], env: dict) -> tuple[int, str]:
    """Run cmd with stdout and stderr merged: (exit status, its output). The output also goes on to our stderr as it
    comes when that is a terminal (progress on a terminal only, as the other stages' bars)."""
    show = sys.stderr.isatty()
    chunks: list[bytes] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) as proc:
        for data in iter(lambda: proc.stdout.read1(65536), b""):
            chunks.append(data)
            if show:
                os.write(sys.stderr.fileno(), data)
    return proc.returncode, b"".join(chunks).decode("utf-8", errors="replace")


def _tensor_count(path: Path) -> int | None:
    """The tensor count in a GGUF file's header (magic, version u32, tensor count u64), None if it is no GGUF."""
    with open(path, "rb") as f:
        head = f.read(16)
    return struct.unpack_from("<Q", head, 8)[0] if len(head) == 16 and head[:4] == b"GGUF" else None


@contextlib.contextmanager
def _terminal_bar(desc: str, total: int | None) -> Iterator[Any]:
    """A tqdm bar on the terminal's stderr (a copy of fd 2 taken now, so it still shows while _captured_fds
    redirects fd 2); disabled (None) when stderr is not a terminal."""
    from tqdm import tqdm

    if not sys.stderr.isatty():
        yield None
        return
    sys.stderr.flush()
    with os.fdopen(os.dup(sys.stderr.fileno()), "w") as term, \
            tqdm(total=total, desc=desc, unit="tensor", file=term, leave=False) as bar:
        yield bar


# llama.cpp's quantize log: a line per tensor, "[  12/ 273]            blk.0.attn_q.weight - [...], type = ..."
_TENSOR_LINE = re.compile(rb"^\[\s*(\d+)/\s*(\d+)\]", re.M)


@contextlib.contextmanager
def _follow_tensor_log(log: dict, bar) -> Iterator[None]:
    """While the block runs, move `bar` to the last "[ i/ n]" line of the log _captured_fds is writing."""
    import threading

    if bar is None:
        yield
        return
    stop = threading.Event()

    def follow():
        pos = 0
        while not stop.wait(0.2):
            while data := os.pread(log["fileno"], 1 << 20, pos):
                pos += len(data)
                if found := _TENSOR_LINE.findall(data):
                    bar.update(int(found[-1][0]) - bar.n)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _tail(text: str, n: int = 40) -> str:
    return "\n".join((text or "").strip().splitlines()[-n:])


@contextlib.contextmanager
def _captured_fds() -> Iterator[dict]:
    """Send C-level stdout/stderr (llama.cpp's logging) to a temp file; the yielded dict gets it as "text" on exit."""
    out: dict = {"text": ""}
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as log:
        out["fileno"] = log.fileno()  # read while the block runs: _follow_tensor_log
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield out
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            log.seek(0)
            out["text"] = log.read()
