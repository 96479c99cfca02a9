"""Does the model speak the language? Proficiency measures beyond perplexity (stage evaluate; docs/proficiency.md).

- Translation: English -> target-language prompts scored with chrF (sacrebleu) against reference translations.
  The pairs come from the gettext catalog (.mo) of a Debian package that is not a training source
  (`read_catalog`, `sentence_pairs`, `select_pairs`, stage eval_data); `contamination` measures how much of each
  reference's word n-grams the training text contains.
- Spelling and vocabulary: the share of the words of target-language generations that a Hunspell dictionary accepts
  (`Speller`, spylls: Hunspell's algorithm in pure Python, reading the Debian hunspell-* .aff/.dic files), lexical
  diversity (`distinct_n`) and repetition (`repetition_rate`), so repeating one correct word cannot score well.
- Language share: the share of generations that py3langid (the model `clean` uses) identifies as the target language.

Words are maximal runs of letters (Unicode), an inner apostrophe kept ("don't"); digits, punctuation and markup are
not words. All text measures are means over generations, so a model is not rewarded for writing longer texts.
"""
from __future__ import annotations

import gettext
import json
import random
import re
import struct
from pathlib import Path
from typing import Iterable, Iterator

from .fileio import InputError

WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def words(text: str) -> list[str]:
    return WORD.findall(text)


# ---------------------------------------------------------------------------------------------- text measures


def chrf(hypotheses: list[str], references: list[str]) -> float:
    """Corpus chrF (sacrebleu's defaults: character 6-grams, beta 2), 0-100."""
    from sacrebleu.metrics import CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"chrf: {len(hypotheses)} hypotheses for {len(references)} references")
    if not references:
        raise ValueError("chrf: no references")
    return round(CHRF().corpus_score(hypotheses, [references]).score, 2)


def _ngrams(tokens: list[str], n: int) -> list[tuple]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: list[str], n: int) -> float | None:
    """Mean over texts (those with at least n words) of distinct word n-grams / all word n-grams (case-folded);
    None when no text has n words. 1.0 = no n-gram repeats within a text."""
    shares = []
    for text in texts:
        grams = _ngrams([w.casefold() for w in words(text)], n)
        if grams:
            shares.append(len(set(grams)) / len(grams))
    return round(sum(shares) / len(shares), 4) if shares else None


def repetition_rate(texts: list[str], n: int = 4) -> float | None:
    """Mean over texts (with at least n words) of the share of word n-grams that repeat an earlier n-gram of the
    same text (rep-n of Welleck et al. 2019, within a generation); 0 = no repeats, near 1 = a loop."""
    d = distinct_n(texts, n)
    return None if d is None else round(1 - d, 4)


def language_share(texts: list[str], language: str) -> float | None:
    """Share of texts that py3langid identifies as `language` (an empty text counts as not); None for no texts."""
    from .clean import detect_language

    if not texts:
        return None
    return round(sum(1 for t in texts if t.strip() and detect_language(t)[0] == language) / len(texts), 4)


class Speller:
    """A Hunspell dictionary (`<base>.aff` + `<base>.dic`) read by spylls; `accepts(word)` is cached."""

    def __init__(self, base: Path):
        base = Path(base)
        for ext in (".aff", ".dic"):
            if not base.with_name(base.name + ext).is_file():
                raise InputError(f"{base}{ext}: Hunspell dictionary file missing (stage eval_data writes it)")
        from spylls.hunspell import Dictionary

        self._dict = Dictionary.from_files(str(base))
        self._cache: dict[str, bool] = {}

    def accepts(self, word: str) -> bool:
        if word not in self._cache:
            self._cache[word] = bool(self._dict.lookup(word.replace("’", "'")))
        return self._cache[word]


def dictionary_acceptance(texts: list[str], speller, language: str | None = None) -> dict:
    """Share of words the dictionary accepts, over the texts identified as `language` (all texts if None).
    Returns {"acceptance" (None without words), "words", "texts" (texts counted)}."""
    from .clean import detect_language

    counted = [t for t in texts if t.strip() and (language is None or detect_language(t)[0] == language)]
    ws = [w for t in counted for w in words(t)]
    ok = sum(1 for w in ws if speller.accepts(w))
    return {"acceptance": round(ok / len(ws), 4) if ws else None, "words": len(ws), "texts": len(counted)}


def text_measures(texts: list[str], language: str, speller=None) -> dict:
    """The per-set measures of generated text: language share, dictionary acceptance, distinct-1/2, repetition."""
    out = {"language_share": language_share(texts, language), "distinct_1": distinct_n(texts, 1),
           "distinct_2": distinct_n(texts, 2), "repetition_4": repetition_rate(texts, 4),
           "mean_words": round(sum(len(words(t)) for t in texts) / len(texts), 1) if texts else None}
    if speller is not None:
        d = dictionary_acceptance(texts, speller, language)
        out.update({"dictionary_acceptance": d["acceptance"], "dictionary_words": d["words"]})
    return out


# ---------------------------------------------------------------------------------------------- parallel text

# format directives (printf, Python, Qt, shell), markup, accelerators, escapes, paths/options: not plain sentences
_NOT_PROSE = re.compile(r"%|::|\{|\}|\$|\\|<|>|&|_|--|\b\w+\(\)|/\w|\w/|=|\[|\]|[|#@*]")


def read_catalog(path: Path) -> dict[str, str]:
    """{English message: translation} of a gettext .mo file (singular messages with a non-empty translation; plural
    forms and the header left out). A file that is not a .mo catalog is an InputError naming it."""
    try:
        with open(path, "rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
    except (OSError, struct.error, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{path}: not a readable gettext catalog ({e})") from None
    return {k: v for k, v in catalog.items() if isinstance(k, str) and k and isinstance(v, str) and v.strip()}


def sentence_pairs(catalog: dict[str, str], min_words: int = 4, max_words: int = 30) -> list[tuple[str, str]]:
    """Sentence-like (English, translation) pairs: one line each, no format directives, markup, options or paths,
    `min_words`..`max_words` words with at least two thirds of the tokens words, starting with a capital letter,
    and a translation that differs from the source (untranslated messages are dropped). Sorted by source."""
    out = []
    for src, tgt in catalog.items():
        src, tgt = src.strip(), tgt.strip()
        if "\n" in src or "\n" in tgt or _NOT_PROSE.search(src) or _NOT_PROSE.search(tgt):
            continue
        n = len(words(src))
        if not min_words <= n <= max_words or n < 2 / 3 * len(src.split()) or not src[0].isupper():
            continue
        if tgt.casefold() == src.casefold() or len(words(tgt)) < max(2, n // 3):
            continue
        out.append((src, tgt))
    return sorted(set(out))


def select_pairs(pairs: list[tuple[str, str]], count: int, shots: int, seed: int) -> tuple[list, list]:
    """(few-shot examples, scored pairs): a seeded shuffle, the first `shots` as examples, the next `count` scored."""
    if len(pairs) < shots + count:
        raise InputError(f"only {len(pairs)} sentence-like message pairs, {shots} shots + {count} sentences wanted: "
                         "lower evaluate.proficiency.translation.sentences/shots or pick another package")
    rng = random.Random(seed)
    order = list(pairs)
    rng.shuffle(order)
    return order[:shots], order[shots:shots + count]


# ---------------------------------------------------------------------------------------------- contamination


def iter_jsonl_texts(path: Path) -> Iterator[str]:
    """The "text" of every document of a JSONL file (data/clean/target.jsonl)."""
    from .fileio import iter_jsonl

    for n, row in iter_jsonl(path):
        if not isinstance(row.get("text"), str):
            raise InputError(f"{path}:{n}: expected a string 'text'")
        yield row["text"]


def contamination(references: list[str], corpus: Iterable[str], n: int = 5) -> dict:
    """How much of the references the corpus (the training text) contains: the share of all reference word n-grams
    (case-folded) found in the corpus, the references with at least half of their n-grams found ("contaminated"),
    and those found verbatim (as a substring of one document, whitespace normalised)."""
    ref_grams = [set(_ngrams([w.casefold() for w in words(r)], n)) for r in references]
    wanted = set().union(*ref_grams) if ref_grams else set()
    norm_refs = {" ".join(r.split()) for r in references}
    found, verbatim, docs = set(), set(), 0
    for text in corpus:
        docs += 1
        flat = " ".join(text.split())
        verbatim.update(r for r in norm_refs if r in flat)
        found.update(g for g in _ngrams([w.casefold() for w in words(text)], n) if g in wanted)
    total = sum(len(g) for g in ref_grams)
    hit = sum(len(g & found) for g in ref_grams)
    contaminated = sum(1 for g in ref_grams if g and len(g & found) >= len(g) / 2)
    return {"ngram": n, "references": len(references), "corpus_documents": docs,
            "ngram_overlap": round(hit / total, 4) if total else 0.0,
            "contaminated_references": contaminated, "verbatim_references": len(verbatim)}


def load_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: cannot read it ({e}); run `dvc repro eval_data`") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def load_translation_set(path: Path) -> dict:
    """data/eval/translation.json (stage eval_data), checked: {"shots": [[en, tgt]...], "pairs": [...], ...}."""
    data = load_json(path)
    for key in ("shots", "pairs"):
        v = data.get(key)
        if not isinstance(v, list) or any(not (isinstance(p, list) and len(p) == 2 and all(
                isinstance(s, str) and s for s in p)) for p in v):
            raise InputError(f"{path}: key {key!r} must be a list of [English, translation] string pairs")
    return data


def config(params: dict) -> dict | None:
    """`evaluate.proficiency` with every default filled in (langcpt.params_schema.Proficiency); None when the
    section is absent or `enabled: false`."""
    from .params_schema import Proficiency

    raw = (params.get("evaluate") or {}).get("proficiency")
    if raw is None:
        return None
    cfg = Proficiency.model_validate(raw).model_dump()
    if not cfg["enabled"]:
        return None
    for key in ("translation", "dictionary"):
        if cfg[key] is not None and cfg[key]["package"] is None:
            cfg[key] = None
    if cfg["translation"] is not None:
        cfg["translation"]["domain"] = cfg["translation"]["domain"] or cfg["translation"]["package"]
    if cfg["dictionary"] is not None and not cfg["dictionary"]["name"]:
        raise InputError("evaluate.proficiency.dictionary.name: expected the dictionary's file name (e.g. de_DE) "
                         "when a dictionary package is set")
    return cfg


# ---------------------------------------------------------------------------------------------- generation

# Ollama's defaults for the sampling PARAMETERs a Modelfile leaves out (what the exported model runs with)
OLLAMA_DEFAULTS = {"temperature": 0.8, "top_p": 0.9, "top_k": 40, "min_p": 0.0, "repeat_penalty": 1.1}


def decoding_settings(modelfile: dict | None) -> dict:
    """{"greedy": generate() kwargs, "sampled": generate() kwargs} from gguf.modelfile (Ollama defaults for keys it
    leaves out). Greedy keeps the Modelfile's repeat penalty. transformers' repetition_penalty penalises every
    earlier token of the sequence (prompt included), llama.cpp's repeat_penalty the last repeat_last_n (64): close,
    not identical."""
    mf = {**OLLAMA_DEFAULTS, **{k: v for k, v in (modelfile or {}).items() if k in OLLAMA_DEFAULTS and v is not None}}
    sampled = {"do_sample": True, "temperature": mf["temperature"], "top_p": mf["top_p"],
               "repetition_penalty": mf["repeat_penalty"]}
    if mf["top_k"]:
        sampled["top_k"] = mf["top_k"]
    else:
        sampled["top_k"] = None
    if mf["min_p"]:
        sampled["min_p"] = mf["min_p"]
    if mf["temperature"] == 0:  # temperature 0 is greedy in llama.cpp
        sampled = {"do_sample": False, "repetition_penalty": mf["repeat_penalty"]}
    return {"greedy": {"do_sample": False, "repetition_penalty": mf["repeat_penalty"]}, "sampled": sampled}


def _NewlineStop(tokenizer, prompt_length: int):  # noqa: N802 - a class factory (transformers imported lazily)
    """A stopping criterion: a row is done once its generated text holds a newline (decoding only each row's last
    token per step; transformers' stop_strings costs seconds of vocabulary preprocessing per call)."""
    import torch
    from transformers import StoppingCriteria

    class NewlineStop(StoppingCriteria):
        def __init__(self):
            self.done = None

        def __call__(self, input_ids, scores, **kwargs):
            if self.done is None:
                self.done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            if input_ids.shape[1] > prompt_length:
                last = input_ids[:, -1].tolist()
                for row, token in enumerate(last):
                    if not self.done[row] and "\n" in tokenizer.decode([token]):
                        self.done[row] = True
            return self.done.clone()

    return NewlineStop()


def generate_batch(model, tokenizer, texts: list[str], max_new_tokens: int, settings: dict, seed: int = 0,
                   batch_size: int = 8, first_line: bool = False) -> list[str]:
    """The continuation of each text (left-padded batches; `settings` from decoding_settings; the sampling seed is
    set before each batch, so a run is reproducible on the same machine and batch size). first_line: each
    continuation is cut at its first newline (generation of a batch stops once every row has one)."""
    import torch

    side, pad = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    out = []
    try:
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(model.device)
            torch.manual_seed(seed * 1_000_003 + start)
            extra = {"stopping_criteria": [_NewlineStop(tokenizer, enc["input_ids"].shape[1])]} if first_line else {}
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                     **settings, **extra)
            for row in ids[:, enc["input_ids"].shape[1]:]:
                text = tokenizer.decode(row, skip_special_tokens=True)
                out.append((text.strip().split("\n")[0] if first_line else text).strip())
    finally:
        tokenizer.padding_side, tokenizer.pad_token = side, pad
    return out


def chat_text(tokenizer, message: str, system_prompt: str | None = None) -> str:
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + \
               [{"role": "user", "content": message}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def fewshot_prompt(shots: list, source: str, target_name: str) -> str:
    """'English: ...\\n<target_name>: ...' examples, blank-line separated, then the source and an open answer."""
    parts = [f"English: {s}\n{target_name}: {t}\n\n" for s, t in shots]
    return "".join(parts) + f"English: {source}\n{target_name}:"


def translation_request(source: str, target_name: str) -> str:
    return f"Translate this English text into {target_name}. Answer with the translation only.\n\n{source}"


def continuation_prompts(blocks_tokenizer, blocks, count: int, prompt_tokens: int, reference_tokens: int,
                         separator: str) -> tuple[list[str], list[str]]:
    """(prompts, human continuations): for `count` held-out blocks spread evenly over `blocks`, the text of the first
    `prompt_tokens` tokens and of the next `reference_tokens` (the held-out text itself, measured like a model's
    output as a reference point), both cut at whitespace so that neither holds a word fragment. A prompt that
    crosses a document separator keeps its longer side; prompts with fewer than 3 words are skipped."""
    from .evaluation import block_texts

    n = len(blocks)
    if count == 0 or n == 0:
        return [], []
    picks = sorted({round(i * (n - 1) / max(count - 1, 1)) for i in range(min(count, n))})
    prompts, refs = [], []
    for i in picks:
        block = blocks[i]
        p, r = block_texts(blocks_tokenizer, [block[:prompt_tokens], block[prompt_tokens:prompt_tokens
                                                                         + reference_tokens]])
        pieces = p.split(separator)
        longest = max(range(len(pieces)), key=lambda k: len(pieces[k]))
        p, starts_document = pieces[longest], longest > 0
        if longest < len(pieces) - 1:
            r = ""  # the reference would continue another document
        r = r.split(separator)[0]
        # whole words only: a word cut at the block's start is dropped, one cut at the prompt's end moves to the
        # reference, one cut at the reference's end is dropped
        if not starts_document and p and not p[0].isspace():
            p = p[min((i for i in (p.find(" "), p.find("\n")) if i >= 0), default=len(p)):]
        cut = max(p.rfind(" "), p.rfind("\n"))
        if cut > 0:
            p, r = p[:cut], p[cut:] + r
        r = r[:max(r.rfind(" "), r.rfind("\n"))] if r and not r[-1].isspace() else r
        if len(words(p)) >= 3:
            prompts.append(p.strip())
            refs.append(r.strip())
    return prompts, [r for r in refs if r]


# ---------------------------------------------------------------------------------------------- per model

CHAT_MODELS = ("base", "sft")  # models with a chat template that were trained to follow it (CPT is not)
TRANSLATION_CHAT_MODELS = ("sft",)  # the chat request for a translation (few-shot: every model)
MEASURE_KEYS = {"language_share": "language_share", "dictionary_acceptance": "dictionary",
                "distinct_1": "distinct_1", "distinct_2": "distinct_2", "repetition_4": "repetition_4"}


def set_measures(prefix: str, texts: list[str], language: str, speller) -> dict:
    m = text_measures(texts, language, speller)
    return {f"{prefix}_{name}": m[key] for key, name in MEASURE_KEYS.items() if key in m}


def evaluate_model(model, tokenizer, name: str, inputs: dict, cfg: dict, settings: dict, language: str,
                   speller=None, batch_size: int = 8, system_prompt: str | None = None) -> tuple[dict, list]:
    """Generate every proficiency set with `model` (greedy, then once per sample seed) and measure it.

    inputs: {"continuations": [prompts], "chat": [messages], "translation": translation.json's dict or None}.
    Returns ({"greedy": {measure: value}, "sampled": {measure: mean over seeds}, "seeds": {seed: {...}},
    "cpu_seconds": {set: CPU seconds of its generations}},
    samples: [{"model", "set", "decoding", "prompt", "output"}])."""
    tr = inputs.get("translation")
    chat = name in CHAT_MODELS
    runs = [("greedy", None)] + [("sampled", s) for s in cfg["sample_seeds"]]
    per_run, samples, cpu = {}, [], {}

    def gen_timed(set_name, *args, **kwargs):  # generate_batch, its CPU seconds summed per set
        import time

        start = time.process_time()
        out = generate_batch(model, tokenizer, *args, **kwargs)
        cpu[set_name] = round(cpu.get(set_name, 0.0) + time.process_time() - start, 1)
        return out

    for decoding, seed in runs:
        kw = settings[decoding]
        seed_ = 0 if seed is None else seed
        m, outs = {}, {}
        if tr:
            tname, tcfg = tr["target_name"], cfg["translation"]
            refs = [t for _, t in tr["pairs"]]
            srcs = [s for s, _ in tr["pairs"]]
            hyp = gen_timed("translation", [fewshot_prompt(tr["shots"], s, tname) for s in srcs],
                            tcfg["max_new_tokens"], kw, seed_, batch_size, first_line=True)
            m["translation_chrf"] = chrf(hyp, refs)
            m["translation_language_share"] = language_share(hyp, language)
            outs["translation"] = list(zip(srcs, hyp))
            if name in TRANSLATION_CHAT_MODELS:
                hyp = gen_timed("translation_chat", [chat_text(tokenizer, translation_request(s, tname)) for s in srcs],
                                tcfg["max_new_tokens"], kw, seed_, batch_size)
                m["translation_chat_chrf"] = chrf(hyp, refs)
                outs["translation_chat"] = list(zip(srcs, hyp))
        if inputs["continuations"]:
            gen = gen_timed("continuation", inputs["continuations"], cfg["max_new_tokens"], kw, seed_, batch_size)
            m.update(set_measures("continuation", gen, language, speller))
            outs["continuation"] = list(zip(inputs["continuations"], gen))
        if chat and inputs["chat"]:
            gen = gen_timed("chat", [chat_text(tokenizer, msg, system_prompt) for msg in inputs["chat"]],
                            cfg["chat_max_new_tokens"], kw, seed_, batch_size)
            m.update(set_measures("chat", gen, language, speller))
            outs["chat"] = list(zip(inputs["chat"], gen))
        per_run[(decoding, seed)] = m
        if seed is None or seed == cfg["sample_seeds"][0]:
            samples += [{"model": name, "set": s, "decoding": decoding if seed is None else f"sampled (seed {seed})",
                         "prompt": p, "output": o} for s, pairs in outs.items() for p, o in pairs]
    greedy = per_run[("greedy", None)]
    seeds = {seed: per_run[("sampled", seed)] for seed in cfg["sample_seeds"]}
    result = {"greedy": greedy, "sampled": {}, "seeds": {str(s): v for s, v in seeds.items()}, "cpu_seconds": cpu}
    for key in greedy:
        values = [v[key] for v in seeds.values() if v.get(key) is not None]
        if values:
            result["sampled"][key] = round(sum(values) / len(values), 4)
            if len(values) > 1:
                result["sampled"][f"{key}_spread"] = round(max(values) - min(values), 4)
    return result, samples


def flat(results: dict) -> dict:
    """{model: {"<measure>_greedy" / "<measure>_sampled": value}} from evaluate_model's results per model."""
    def name(key, decoding):  # translation_chrf_sampled, translation_chrf_sampled_spread
        return f"{key.removesuffix('_spread')}_{decoding}" + ("_spread" if key.endswith("_spread") else "")

    return {model: {name(k, d): v for d in ("greedy", "sampled") for k, v in r[d].items() if v is not None}
            for model, r in results.items()}


def apply_gates(flat_results: dict, gates: dict | None) -> tuple[dict, list[str]]:
    """evaluate.proficiency.gates on the greedy measures: each gated model vs base. Returns
    ({"enabled", "passed", "checks"}, failure messages). A measure that is not there (no translation package,
    no dictionary) cannot be checked: a set bound on it is a failure that says so."""
    if not gates or not gates["enabled"]:
        return {"enabled": False, "passed": True, "checks": {}}, []
    checks, failures = {}, []
    base = flat_results.get("base", {})
    for model in gates["models"]:
        r = flat_results.get(model, {})
        for key, bound, label in (("translation_chrf_greedy", "min_translation_chrf_gain", "few-shot translation chrF"),
                                  ("continuation_dictionary_greedy", "min_dictionary_gain", "dictionary acceptance")):
            if gates[bound] is None:
                continue
            before, after = base.get(key), r.get(key)
            if before is None or after is None:
                failures.append(f"{label} of `{model}` not measured (evaluate.proficiency.gates.{bound} is set)")
                continue
            ok = after - before >= gates[bound]
            checks[f"{model}_{key}"] = {"before": before, "after": after, "gain": round(after - before, 4),
                                        "min_gain": gates[bound], "passed": ok}
            if not ok:
                failures.append(f"{label} of `{model}` {before} -> {after} rose by less than {gates[bound]} "
                                "(evaluate.proficiency.gates)")
        if gates["min_language_share"] is not None:
            share = r.get("continuation_language_share_greedy")
            ok = share is not None and share >= gates["min_language_share"]
            checks[f"{model}_continuation_language_share_greedy"] = {"value": share, "min": gates["min_language_share"],
                                                                     "passed": ok}
            if not ok:
                failures.append(f"target-language share of `{model}`'s continuations {share} is below "
                                f"{gates['min_language_share']} (evaluate.proficiency.gates)")
    return {"enabled": True, "passed": not failures, "checks": checks}, failures
