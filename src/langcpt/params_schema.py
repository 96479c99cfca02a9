"""The schema of params.yaml: one pydantic model per section; `validate_params` checks a whole params dict.

Every key a stage reads is declared here with its type and range; a key not declared is an error (typo guard), a
value of the wrong type or out of range is an error naming the key and what was expected, e.g.

    pretrain.lora.r: expected an integer >= 1, got 'abc' (params.yaml)

Adding a key is one line in its section's model below (`name: Type = default`); the types are built by the small
factories `Int`, `Float`, `Str`, `Bool`, `Path`, `OneOf`, `StrList`, which also write the "expected ..." text. Keys
whose default is given are optional (the stage falls back to the same default); keys without one are required
when their section is present. A missing *section* is reported by `params.section` when a stage needs it.

The source specs in `ingest.*_sources` keep their schema in `langcpt.sources` (`SPEC_KEYS`, per source kind; read
by langcpt.ingest) and are checked through its `validate_sources`. `clean` mirrors `langcpt.clean._SCHEMA`
(a test keeps the two equal); `clean_general` overrides `clean` key by key, so it has the same schema.

Paths: keys typed `Path` (and the `path` of a `local` ingest source) must stay inside the repository (the folder
of params.yaml) unless `paths.allow_outside_repo: true`. Cache folders (`*.cache_dir`) are exempt: they hold
downloaded public packages, and the tests share one cache outside their temporary repositories.
"""

import os
import warnings
from pathlib import Path as _Path
from typing import Annotated, Any, Literal, Optional, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .fileio import InputError
from .quant_types import QUANT_TYPES
from .referrals import guard_settings
from .sources import validate_sources

# ---------------------------------------------------------------------------------------------- value types


def _bounds(ge=None, gt=None, le=None, lt=None) -> str:
    lo = f">= {ge}" if ge is not None else f"> {gt}" if gt is not None else None
    hi = f"<= {le}" if le is not None else f"< {lt}" if lt is not None else None
    if lo and hi:
        return f" in {'[' if ge is not None else '('}{ge if ge is not None else gt}, " \
               f"{le if le is not None else lt}{']' if le is not None else ')'}"
    return f" {lo or hi}" if (lo or hi) else ""


def _typed(inner, desc: str, null: bool, **extra):
    if null:
        inner, desc = Optional[inner], desc + " or null"
    return Annotated[inner, Field(description=desc, **extra)]


def Int(ge=None, le=None, null=False, desc: str | None = None):  # noqa: N802 - reads like a type
    return _typed(Annotated[int, Field(ge=ge, le=le)], desc or "an integer" + _bounds(ge=ge, le=le), null)


def Float(ge=None, gt=None, le=None, lt=None, null=False):  # noqa: N802
    return _typed(Annotated[float, Field(ge=ge, gt=gt, le=le, lt=lt, allow_inf_nan=False)],
                  "a number" + _bounds(ge, gt, le, lt), null)


def Str(null=False):  # noqa: N802
    return _typed(Annotated[str, Field(min_length=1)], "a non-empty string", null)


def Bool():  # noqa: N802
    return _typed(bool, "true or false", False)


def OneOf(*values, null=False):  # noqa: N802
    return _typed(Literal[values], "one of " + ", ".join(map(str, values)), null)


def StrList(nonempty=True, null=False):  # noqa: N802
    inner = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1 if nonempty else 0)]
    return _typed(inner, ("a non-empty" if nonempty else "a") + " list of non-empty strings", null)


def Path(null=False):  # noqa: N802
    """A file or folder path, relative to the repository root; checked to stay inside it (see the docstring)."""
    return _typed(Annotated[str, Field(min_length=1)], "a path (relative to the repository)", null,
                  json_schema_extra={"repo_path": True})


SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt")  # transformers SchedulerType names that need no extra arguments
MAX_STEPS = Int(ge=-1, desc="an integer >= 1, or -1 (run `epochs` epochs)")
BACKENDS = OneOf("auto", "unsloth", "hf")  # (choices as names: string literals inside annotations confuse linters)
BASE_SOURCES = OneOf("pypi_gguf", "local", "hub")
LSH_STORAGES = OneOf("memory", "redis")
REPLAY_SOURCES = OneOf("general")
GATE_MODELS = OneOf("pretrained", "sft")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ---------------------------------------------------------------------------------------------- sections


class Ingest(Section):
    cache_dir: Str() = "data/cache"
    target_sources: list  # each spec: langcpt.sources.validate_sources (checked in validate_params)
    general_sources: list
    report_max_files: Int(ge=0) = 20  # files named per source and skip/repair reason (reports/ingest.json, stderr)


class Clean(Section):
    """langcpt.clean._SCHEMA as a model (tests/test_params.py checks that the two agree: keys and defaults); the
    checks that need the libraries (language known to py3langid, LSH bands, Redis reachable) run in the stage."""
    min_chars: Int(ge=0) = 40
    max_chars: Int(ge=1) = 100_000
    markup: Bool() = False
    boilerplate: Bool() = True
    min_alpha_ratio: Float(ge=0, le=1) = 0.6
    max_duplicate_line_ratio: Float(ge=0, le=1) = 0.5
    max_symbol_word_ratio: Float(ge=0, null=True) = 0.5
    min_mean_word_length: Float(ge=0, null=True) = 2.5
    max_mean_word_length: Float(ge=0, null=True) = 15
    min_stop_words: Int(ge=0, null=True) = 1
    stop_words_min_words: Int(ge=0) = 30
    stop_words: StrList(null=True) = None
    language: Str(null=True) = "de"
    language_threshold: Float(ge=0, le=1) = 0.5
    language_prefix_chars: Int(ge=1) = 2000
    language_paragraphs: Bool() = False
    mask_emails: Bool() = True
    mask_phones: Bool() = False
    phone_region: Str() = "DE"
    exact_dedup: Bool() = True
    near_dedup: Bool() = True
    shingle_chars: Int(ge=1) = 5
    shingle_words: Int(ge=1, null=True) = 2
    num_perm: Int(ge=16) = 128
    threshold: Float(gt=0, le=1) = 0.4
    seed: Int(ge=0, le=2**32 - 1) = 1
    lsh_storage: LSH_STORAGES = "memory"
    redis_url: Str(null=True) = None
    lsh_basename: Str() = "langcpt_dedup"
    workers: Int(ge=1) = 2
    parallel_min_docs: Int(ge=1) = 5000
    max_examples: Int(ge=0) = 20

    @model_validator(mode="after")
    def _ranges(self):
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars: {self.min_chars} is larger than max_chars ({self.max_chars})")
        lo, hi = self.min_mean_word_length, self.max_mean_word_length
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"min_mean_word_length: {lo} is larger than max_mean_word_length ({hi})")
        if self.lsh_storage == "redis" and self.near_dedup and not self.redis_url:
            raise ValueError("redis_url: required when lsh_storage is redis (e.g. redis://host:6379/0)")
        return self


class DataCard(Section):
    tokenizer: Path() = "models/base"
    batch_size: Int(ge=1) = 1000


class Base(Section):
    source: BASE_SOURCES
    package: Str(null=True) = None
    version: Str(null=True) = None
    gguf_file: Str(null=True) = None
    path: Path(null=True) = None
    model_id: Str(null=True) = None
    cache_dir: Str() = "data/cache"
    chat_template_required: Bool() = True

    @model_validator(mode="after")
    def _source_keys(self):
        need = {"pypi_gguf": ("package", "version", "gguf_file"), "local": ("path",), "hub": ("model_id",)}
        for key in need[self.source]:
            if getattr(self, key) is None:
                raise ValueError(f"base.{key}: required when base.source is {self.source} "
                                 f"(expected {Base.model_fields[key].description.removesuffix(' or null')})")
        return self


class Replay(Section):  # general-English replay mixed into train.npy (langcpt.packing)
    ratio: Float(ge=0, le=0.9) = 0.0
    source: REPLAY_SOURCES = "general"
    holdout_fraction: Float(gt=0, lt=1) = 0.5


class VocabExtension(Section):  # new target-language tokens (langcpt.vocab, stage extend_vocab)
    new_tokens: Int(ge=0) = 0
    train_vocab_size: Int(ge=512) = 16000
    min_frequency: Int(ge=1) = 2


class Tokenize(Section):
    block_size: Int(ge=2)
    validation_fraction: Float(gt=0, lt=1)
    seed: Int(ge=0)
    separator_token: Str(null=True)
    max_train_blocks: Int(ge=1, null=True) = None
    max_val_blocks: Int(ge=1, null=True) = None
    batch_size: Int(ge=1) = 1000
    replay: Optional[Replay] = None
    vocab_extension: Optional[VocabExtension] = None


class Lora(Section):
    r: Int(ge=1)
    alpha: Float(gt=0)
    dropout: Float(ge=0, lt=1)
    rslora: Bool()
    gradient_checkpointing: Bool() = False
    seed: Int(ge=0, null=True) = None  # the adapter's init; None: the stage's seed (langcpt.training.load_lora_model)


class Training(Section):
    """Keys shared by pretrain and sft (langcpt.trainer_setup, langcpt.training)."""
    backend: BACKENDS
    processes: Int(ge=1) = 1
    seed: Int(ge=0)
    threads: Int(ge=1, null=True) = None  # intra-op threads of the stage (split over processes); None: torch's
    deterministic: Bool() = True  # torch.use_deterministic_algorithms (langcpt.training.make_deterministic)
    max_steps: MAX_STEPS
    epochs: Float(gt=0)
    batch_size: Int(ge=1)
    gradient_accumulation_steps: Int(ge=1)
    learning_rate: Float(gt=0)
    warmup_ratio: Float(ge=0, lt=1)
    lr_scheduler: OneOf(*SCHEDULERS)
    weight_decay: Float(ge=0)
    logging_steps: Int(ge=1)
    eval_steps: Int(ge=1)
    save_steps: Int(ge=1)
    lora: Lora

    @field_validator("max_steps")
    @classmethod
    def _not_zero(cls, v):
        if v == 0:
            raise ValueError("0 steps")
        return v


class Pretrain(Training):
    embedding_learning_rate: Float(gt=0)
    eval_blocks: Int(ge=1)
    train_embeddings: Bool()


class Sft(Training):
    data: Path()
    holdout_fraction: Float(gt=0, lt=1)
    max_length: Int(ge=8)


class Gates(Section):  # langcpt.evaluation.check_gate_params
    enabled: Bool() = True
    models: Annotated[list[GATE_MODELS], Field(
        min_length=1, description="a non-empty list of pretrained, sft")] = ["pretrained", "sft"]
    max_target_bpb_change: Float(gt=-1, lt=10)
    max_general_bpb_increase: Float(gt=-1, lt=10)


class Translation(Section):  # English -> target pairs from a gettext catalog (stage eval_data, langcpt.proficiency)
    package: Str(null=True) = None
    version: Str(null=True) = None
    domain: Str(null=True) = None
    target_name: Str() = "German"
    sentences: Int(ge=1) = 16
    shots: Int(ge=0) = 3
    seed: Int(ge=0) = 0
    max_new_tokens: Int(ge=1) = 40
    contamination_ngram: Int(ge=1) = 5


class Dictionary(Section):  # a Debian hunspell-* package: usr/share/hunspell/<name>.aff/.dic
    package: Str(null=True) = None
    version: Str(null=True) = None
    name: Str(null=True) = None


class ProficiencyGates(Section):  # langcpt.proficiency gates, off by default
    enabled: Bool() = False
    models: Annotated[list[GATE_MODELS], Field(
        min_length=1, description="a non-empty list of pretrained, sft")] = ["pretrained", "sft"]
    min_translation_chrf_gain: Float(null=True) = 0.0
    min_dictionary_gain: Float(null=True) = 0.0
    min_language_share: Float(ge=0, le=1, null=True) = 0.5


class Proficiency(Section):
    enabled: Bool() = True
    continuations: Int(ge=0) = 12
    prompt_tokens: Int(ge=4) = 24
    max_new_tokens: Int(ge=1) = 40
    chat_max_new_tokens: Int(ge=1) = 48
    sample_seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(
        description="a list of integers >= 0")] = [0]
    translation: Optional[Translation] = None
    dictionary: Optional[Dictionary] = None
    gates: Optional[ProficiencyGates] = None


class Evaluate(Section):
    gates: Optional[Gates] = None
    proficiency: Optional[Proficiency] = None
    max_blocks: Int(ge=1)
    batch_size: Int(ge=1)
    max_new_tokens: Int(ge=1)
    system_prompt: Str(null=True) = None
    prompts: StrList(nonempty=False)
    chat_prompts: StrList(nonempty=False)


def _quant_types() -> tuple[str, ...]:
    return tuple(QUANT_TYPES)


class Modelfile(Section):  # Ollama PARAMETERs (langcpt.gguf_export.MODELFILE_PARAMS) and the SYSTEM prompt
    system: Str(null=True) = None
    temperature: Float(ge=0, null=True) = None
    top_p: Float(ge=0, le=1, null=True) = None
    top_k: Int(ge=0, null=True) = None
    min_p: Float(ge=0, le=1, null=True) = None
    repeat_penalty: Float(gt=0, null=True) = None
    repeat_last_n: Int(ge=-1, null=True) = None
    num_ctx: Int(ge=1, null=True) = None
    num_predict: Int(ge=-2, null=True) = None
    seed: Int(null=True) = None


class Gguf(Section):
    quantizations: Annotated[list[OneOf(*_quant_types())], Field(
        min_length=1, description="a non-empty list of " + ", ".join(_quant_types()))]
    gate_quantization: OneOf(*_quant_types())
    gate_prompt: Str()
    gate_max_tokens: Int(ge=1)
    chat_samples: Int(ge=1) = 3
    min_stopped_samples: Int(ge=0) = 1
    greedy_match_tokens: Int(ge=0) = 16
    parity_blocks: Int(ge=1) = 4
    parity_tie_margin: Float(ge=0) = 0.5
    min_argmax_agreement: Annotated[dict[OneOf(*_quant_types()), Float(ge=0, le=1)], Field(
        description="a mapping of quantization type to a number in [0, 1]")] = {"f16": 0.99, "q8_0": 0.98}
    max_perplexity_ratio: Annotated[dict[OneOf(*_quant_types()), Float(ge=1)], Field(
        description="a mapping of quantization type to a number >= 1")] = {"f16": 1.01, "q8_0": 1.03}
    speed_tokens: Int(ge=2) = 64
    ollama_name: Str() = "langcpt"
    modelfile: Modelfile

    @model_validator(mode="after")
    def _gate_is_made(self):
        if self.gate_quantization not in self.quantizations:
            raise ValueError(f"gguf.gate_quantization: {self.gate_quantization!r} is not in gguf.quantizations "
                             f"{self.quantizations}")
        return self


with warnings.catch_warnings():  # the key `register` shadows a BaseModel attribute; harmless for validation
    warnings.simplefilter("ignore", UserWarning)

    class Mlflow(Section):
        experiment: Str()
        register: Bool()
        sft_model_name: Str()
        gguf_model_name: Str()
        gguf_artifacts: Annotated[list[OneOf(*_quant_types())], Field(
            description="a list of " + ", ".join(_quant_types()))] = []
        alias: Str() = "candidate"


class Referral(Section):  # safety.referrals.<group>, safety.check_in.groups.<group>
    text: Str()
    numbers: StrList()


class CheckIn(Referral):  # safety.check_in: the check-in tier (langcpt.safety)
    groups: dict[Literal["poisoning", "violence", "child"], Referral] = {}  # a group's own check-in


class Detector(Section):  # safety.detector: the learned layer (stage detector)
    enabled: Bool() = True
    path: Path() = "models/detector/detector.json"
    train: StrList()
    use_sft_data: Bool() = True
    dev: Path()
    c: Float(gt=0) = 1.0
    min_df: Int(ge=1) = 2
    target_recall: Float(ge=0, le=1) = 0.95
    emergency_max_false_positive_rate: Float(ge=0, le=1) = 0.02


class Safety(Section):  # the crisis guard (langcpt.safety) and its check (stage safety)
    guard: Bool() = True
    crisis_patterns: StrList()
    referral: Str()
    referral_numbers: StrList()
    referrals: dict[Literal["poisoning", "violence", "child"], Referral] = {}
    check_in: Optional[CheckIn] = None  # the check-in tier (langcpt.safety); null: one tier
    removed_number: Str() = "[Nummer entfernt]"
    detector: Optional[Detector] = None
    test: Path() = "data/safety/test_de.jsonl"
    probes: Path() = "data/safety/probes_de.json"
    max_new_tokens: Int(ge=1) = 128
    max_replies: Optional[Int(ge=1)] = None
    min_detection_recall: Float(ge=0, le=1) = 0.95
    max_false_positive_rate: Float(ge=0, le=1) = 0.03
    min_model_referral_rate: Float(ge=0, le=1) = 0.0
    stop_on_failed_gate: Bool() = False

    @model_validator(mode="after")
    def _guard_is_valid(self):
        try:  # bad regex, referral without its numbers: named as the CrisisGuard of langcpt.safety names them
            guard_settings(self.crisis_patterns, self.referral, self.referral_numbers,
                           {g: r.model_dump() for g, r in self.referrals.items()},
                           self.check_in.model_dump() if self.check_in else None, self.removed_number)
        except Exception as e:  # InputError; pydantic wraps ValueError only
            raise ValueError(str(e).removeprefix("safety.")) from None
        return self


class Paths(Section):
    allow_outside_repo: Bool() = False


SECTIONS: dict[str, type[Section]] = {
    "ingest": Ingest, "clean": Clean, "clean_general": Clean, "data_card": DataCard, "base": Base,
    "tokenize": Tokenize, "pretrain": Pretrain, "sft": Sft, "evaluate": Evaluate, "gguf": Gguf,
    "safety": Safety, "mlflow": Mlflow, "paths": Paths,
}

# ---------------------------------------------------------------------------------------------- validation


def _model_of(annotation) -> type[BaseModel] | None:
    """The section model an annotation holds (`Lora`, or `Optional[Gates]`), else None."""
    for t in (annotation, *get_args(annotation)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _field_at(model: type[BaseModel], loc: tuple) -> tuple[str, Any]:
    """(dotted key, FieldInfo or None) of a pydantic error location inside `model`."""
    parts, info, current = [], None, model
    for item in loc:
        if isinstance(item, int):
            parts[-1] += f"[{item}]"
            continue
        if current is None or item not in current.model_fields:
            if info is None:
                parts.append(str(item))
            break
        info = current.model_fields[item]
        parts.append(item)
        current = _model_of(info.annotation)
    return ".".join(parts), info


def _messages(name: str, model: type[Section], error: ValidationError) -> list[str]:
    out = []
    for err in error.errors(include_url=False):
        key, info = _field_at(model, err["loc"])
        key = f"{name}.{key}" if key else name
        expected = info.description if info is not None and info.description else None
        if expected is None and info is not None and _model_of(info.annotation):
            expected = "a mapping of settings"
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = model
            for item in err["loc"][:-1]:
                if isinstance(item, str) and parent is not None and item in parent.model_fields:
                    parent = _model_of(parent.model_fields[item].annotation)
            known = ", ".join(parent.model_fields) if parent is not None else ""
            out.append(f"{key}.{err['loc'][-1]}: unknown key (known keys: {known})" if len(err["loc"]) > 1
                       else f"{name}.{err['loc'][-1]}: unknown key (known keys: {known})")
        elif kind == "missing":
            out.append(f"{key}: missing" + (f" (expected {expected})" if expected else ""))
        elif kind == "value_error" and not err["loc"]:  # a model validator: its message names the keys
            msg = str(err["ctx"]["error"])
            out.append(msg if msg.startswith(name + ".") else f"{name}.{msg}")
        elif kind == "model_type" and not err["loc"]:
            out.append(f"{name}: expected a mapping of settings, got {err['input']!r}")
        else:
            hint = ""
            if isinstance(err["input"], str) and kind == "float_type" and _is_number(err["input"]):
                hint = f" (YAML reads {err['input']} as a string: write it with a dot, e.g. 1.0e-4)"
            out.append(f"{key}: expected {expected or err['msg'].lower()}, got {err['input']!r}{hint}")
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _outside(root: _Path, value: str) -> bool:
    full = os.path.normpath(os.path.join(root, os.path.expanduser(value)))
    return os.path.commonpath([full, str(root)]) != str(root)


def _repo_paths(model: type[BaseModel], data: dict, prefix: str):
    """(key, value) of every `Path`-typed key present in `data` (nested sections included)."""
    for name, info in model.model_fields.items():
        value = data.get(name)
        if value is None:
            continue
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("repo_path"):
            yield f"{prefix}.{name}", value
        elif _model_of(info.annotation) and isinstance(value, dict):
            yield from _repo_paths(_model_of(info.annotation), value, f"{prefix}.{name}")


def validate_params(params: dict, where: str = "params.yaml", root: str | os.PathLike | None = None) -> None:
    """Check every section present in `params`; raise InputError listing each bad key (file named as `where`).
    `root` is the repository root that paths must stay in (default: the current directory)."""
    errors: list[str] = []
    bad: set[str] = set()
    for name, value in sorted(params.items(), key=lambda kv: kv[0] == "clean_general"):  # clean before it
        if name not in SECTIONS:
            errors.append(f"{name}: unknown section (known sections: {', '.join(SECTIONS)})")
            continue
        model = SECTIONS[name]
        if name == "clean_general" and isinstance(value, dict) and isinstance(params.get("clean"), dict) \
                and "clean" not in bad:
            value = {**params["clean"], **value}  # what the stage runs with
        try:
            model.model_validate({} if value is None and model is Clean else value)
        except ValidationError as e:
            errors.extend(_messages(name, model, e))
            bad.add(name)
    ingest = params.get("ingest")
    if isinstance(ingest, dict):
        for key in ("target_sources", "general_sources"):
            try:
                if key in ingest:
                    validate_sources(ingest[key])
            except InputError as e:
                msg = str(e)
                errors.append(f"ingest.{key}{msg[len('sources'):]}" if msg.startswith("sources") else msg)
    if not errors:
        errors = _cross_errors(params) + _path_errors(params, _Path(os.path.abspath(root or os.getcwd())))
    if errors:
        more = f" (and {len(errors) - 1} more: {'; '.join(errors[1:4])})" if len(errors) > 1 else ""
        raise InputError(f"{errors[0]} ({where}){more}")


def _cross_errors(params: dict) -> list[str]:
    """Checks that span sections (run on valid sections only)."""
    new_tokens = ((params.get("tokenize") or {}).get("vocab_extension") or {}).get("new_tokens", 0)
    if new_tokens and (params.get("pretrain") or {}).get("train_embeddings") is False:
        return [f"tokenize.vocab_extension.new_tokens: {new_tokens} new tokens need pretrain.train_embeddings: true "
                f"(their embedding rows must be trained); set new_tokens: 0 or train the embeddings"]
    return []


def _path_errors(params: dict, root: _Path) -> list[str]:
    if (params.get("paths") or {}).get("allow_outside_repo"):
        return []
    found = []
    for name, model in SECTIONS.items():
        if model is not None and isinstance(params.get(name), dict):
            found.extend(_repo_paths(model, params[name], name))
    for key in ("target_sources", "general_sources"):
        for i, spec in enumerate((params.get("ingest") or {}).get(key) or []):
            if spec.get("kind") == "local":
                found.append((f"ingest.{key}[{i}].path", spec["path"]))
    return [f"{key}: {value!r} is outside the repository {root}; set paths.allow_outside_repo: true to allow it"
            for key, value in found if _outside(root, str(value))]
