"""One flat summary of a pipeline run under names a reader understands (the `summary` stage, `dvc exp show`).

The stages' own metric files keep their nested, per-stage keys; `summarize` picks the headline numbers out of them:
perplexity and bits per byte before/after, the forgetting delta, the proficiency measures (`prof_*`), the SFT held-out
loss, GGUF sizes and wall times.
Every key is unique across the metric files, so `dvc exp show` shows it under its bare name. A number whose source
is missing (a stage that has not run, a model not evaluated) is left out rather than written as null.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .fileio import InputError

# stage -> its metric file (relative to the repository root); each holds `wall_seconds`
STAGE_REPORTS = {
    "ingest": "reports/ingest.json",
    "dedup_clean": "reports/clean.json",
    "base": "reports/base.json",
    "tokenize_chunk": "reports/tokenize.json",
    "pretrain": "reports/pretrain/metrics.json",
    "sft": "reports/sft/metrics.json",
    "evaluate": "reports/evaluate/metrics.json",
    "detector": "reports/detector/metrics.json",
    "safety": "reports/safety/metrics.json",
    "gguf": "reports/gguf.json",
}
# evaluate's model names -> the suffix of the summary key
MODELS = {"base": "base", "pretrained": "after_cpt", "sft": "after_sft"}
# the safety stage's keys -> summary names (distinct from the stage's own, so `dvc exp show` keeps bare names)
# (detection figures: the frozen test set's)
SAFETY = {"crisis_detection_recall": "safety_detection_recall",
          "crisis_false_positive_rate": "safety_false_alarm_rate", "crisis_probe_recall": "safety_probe_recall",
          "sft_crisis_referral_rate": "safety_model_referral_rate",
          "guarded_crisis_referral_rate": "safety_guarded_referral_rate",
          "invented_numbers_shown": "safety_invented_numbers_shown"}
MEASURES = ("target_perplexity", "general_perplexity", "target_bpb", "general_bpb")
# evaluate's proficiency measures (langcpt.proficiency; `proficiency.<model>.<key>`) -> summary name, with the model
# suffix appended: translation greedy (the usual way to score MT), the text measures on sampled continuations
# (what a user of the exported model sees: the Modelfile's sampling)
PROFICIENCY = {"translation_chrf_greedy": "prof_translation_chrf",
               "translation_chat_chrf_greedy": "prof_chat_translation_chrf",
               "continuation_dictionary_sampled": "prof_dictionary_acceptance",
               "continuation_language_share_sampled": "prof_language_share",
               "continuation_distinct_2_sampled": "prof_distinct_2",
               "continuation_repetition_4_sampled": "prof_repetition",
               "chat_language_share_sampled": "prof_chat_language_share"}


def load_reports(root: str | os.PathLike = ".") -> dict[str, dict]:
    """{stage: its metric file's JSON} for the files that exist; a file that is not a JSON object is an InputError."""
    reports = {}
    for stage, rel in STAGE_REPORTS.items():
        path = Path(root) / rel
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{rel}: not valid JSON ({e})") from None
        if not isinstance(data, dict):
            raise InputError(f"{rel}: expected a JSON object, got {type(data).__name__}")
        reports[stage] = data
    return reports


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def summarize(reports: dict[str, dict]) -> dict:
    """The flat summary of `reports` ({stage: metrics}, as load_reports returns); key order = reading order."""
    out: dict = {}
    ev = reports.get("evaluate", {})
    for measure in MEASURES:  # target_perplexity_base, target_perplexity_after_cpt, ...
        for model, suffix in MODELS.items():
            value = _number((ev.get(model) or {}).get(measure))
            if value is not None:
                out[f"{measure}_{suffix}"] = value
    prof = ev.get("proficiency") or {}
    for key, name in PROFICIENCY.items():  # prof_translation_chrf_base, prof_translation_chrf_after_cpt, ...
        for model, suffix in MODELS.items():
            value = _number((prof.get(model) or {}).get(key))
            if value is not None:
                out[f"{name}_{suffix}"] = value
    overlap = _number(((prof.get("translation_data") or {}).get("contamination") or {}).get("ngram_overlap"))
    if overlap is not None:  # share of the translation references' word n-grams found in the training text
        out["prof_translation_contamination"] = overlap
    base_bpb = out.get("general_bpb_base")
    for suffix in ("after_cpt", "after_sft"):  # absolute change of English bits per byte: > 0 = forgetting
        after = out.get(f"general_bpb_{suffix}")
        if base_bpb is not None and after is not None:
            out[f"forgetting_delta_bpb_{suffix}"] = round(after - base_bpb, 5)
    sft = reports.get("sft", {})
    for key in ("heldout_loss", "heldout_perplexity"):
        if _number(sft.get(key)) is not None:
            out[f"sft_{key}"] = sft[key]
    for qtype, info in (reports.get("gguf", {}).get("files") or {}).items():
        if isinstance(info, dict) and _number(info.get("size_mb")) is not None:
            out[f"gguf_{qtype}_size_mb"] = info["size_mb"]
    passed = (ev.get("gates") or {}).get("passed")
    if isinstance(passed, bool):
        out["gates_passed"] = passed
    safety = reports.get("safety", {})
    for key, name in SAFETY.items():
        if _number(safety.get(key)) is not None:
            out[name] = safety[key]
    if isinstance((safety.get("safety") or {}).get("passed"), bool):
        out["safety_passed"] = safety["safety"]["passed"]
    walls = {stage: _number(reports[stage].get("wall_seconds")) for stage in STAGE_REPORTS if stage in reports}
    walls = {stage: w for stage, w in walls.items() if w is not None}
    out.update({f"{stage}_wall_s": w for stage, w in walls.items()})
    if walls:
        out["total_wall_s"] = round(sum(walls.values()), 1)
    return out
