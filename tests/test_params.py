import copy
import os
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from langcpt.fileio import InputError
from langcpt.params import load_params, merge, section
from langcpt.params_schema import SECTIONS, Clean, validate_params


def test_merge_is_deep_and_rejects_unknown_keys():
    base = {"pretrain": {"lr": 1, "lora": {"r": 8, "alpha": 8}}}
    assert merge(base, {"pretrain": {"lora": {"r": 64}}}) == {"pretrain": {"lr": 1, "lora": {"r": 64, "alpha": 8}}}
    with pytest.raises(InputError, match="pretrain.lora.rank"):
        merge(base, {"pretrain": {"lora": {"rank": 64}}})


def test_section_names_missing_keys(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("base: {source: local}\n")
    with pytest.raises(InputError, match="base.path: required when base.source is local"):
        load_params(p)  # the schema
    with pytest.raises(InputError, match="base.path"):
        section(load_params(p, validate=False), "base", required=("source", "path"))
    with pytest.raises(InputError, match="section `sft`"):
        section(load_params(p, validate=False), "sft")


def test_every_profile_applies_to_the_repo_params(tmp_path):
    for profile in sorted((REPO / "profiles").glob("*.yaml")):
        out = tmp_path / f"{profile.stem}.yaml"
        proc = subprocess.run([sys.executable, "pipelines/apply_profile.py", str(profile), "--out", str(out)],
                              cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        merged = yaml.safe_load(out.read_text())
        assert merged.keys() == yaml.safe_load((REPO / "params.yaml").read_text()).keys()


def test_bad_profile_key_exits_nonzero_with_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pretrain: {learning_rat: 1.0}\n")
    proc = subprocess.run([sys.executable, "pipelines/apply_profile.py", str(bad), "--out", str(tmp_path / "o.yaml")],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1 and "pretrain.learning_rat" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.yaml").exists()


# ------------------------------------------------------------------------------ schema (langcpt.params_schema)
STAGES = sorted(p.name for p in (REPO / "pipelines").glob("*.py") if p.name != "apply_profile.py")


def repo_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


def with_value(params: dict, dotted: str, value) -> dict:
    out = copy.deepcopy(params)
    node, keys = out, dotted.split(".")
    for k in keys[:-1]:
        node = node[k]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return out


DELETE = object()


def test_committed_params_and_every_profile_merged_over_them_validate():
    params = load_params(REPO / "params.yaml")  # validates
    assert set(params) <= set(SECTIONS)
    for profile in sorted((REPO / "profiles").glob("*.yaml")):
        validate_params(merge(params, yaml.safe_load(profile.read_text(encoding="utf-8"))), where=profile.name,
                        root=REPO)


@pytest.mark.parametrize("key, value, expected", [
    ("pretrain.lora.r", "abc", "pretrain.lora.r: expected an integer >= 1, got 'abc'"),
    ("pretrain.lora.r", 0, "pretrain.lora.r: expected an integer >= 1, got 0"),
    ("pretrain.lora.r", True, "pretrain.lora.r: expected an integer >= 1, got True"),
    ("pretrain.lora.rank", 8, "pretrain.lora.rank: unknown key (known keys: r, alpha"),
    ("pretrain.learning_rate", "1e-4", "write it with a dot"),
    ("pretrain.learning_rate", DELETE, "pretrain.learning_rate: missing (expected a number > 0)"),
    ("pretrain.max_steps", 0, "pretrain.max_steps: expected an integer >= 1, or -1"),
    ("pretrain.warmup_ratio", 1.0, "pretrain.warmup_ratio: expected a number in [0, 1), got 1.0"),
    ("pretrain.backend", "gpu", "pretrain.backend: expected one of auto, unsloth, hf, got 'gpu'"),
    ("pretrain.lora", 5, "pretrain.lora: expected a mapping of settings, got 5"),
    ("pretrain.epochs", float("nan"), "pretrain.epochs: expected a number > 0"),
    ("sft.holdout_fraction", 0, "sft.holdout_fraction: expected a number in (0, 1), got 0"),
    ("sft.lr_scheduler", "cosine_annealing", "sft.lr_scheduler: expected one of linear, cosine"),
    ("tokenize.separator_token", 5, "tokenize.separator_token: expected a non-empty string or null, got 5"),
    ("tokenize.max_val_blocks", -1, "tokenize.max_val_blocks: expected an integer >= 1 or null, got -1"),
    ("clean.min_alpha_ratio", 1.5, "clean.min_alpha_ratio: expected a number in [0, 1], got 1.5"),
    ("clean.lsh_storage", "disk", "clean.lsh_storage: expected one of memory, redis, got 'disk'"),
    ("clean.min_chars", 10**6, "clean.min_chars: 1000000 is larger than max_chars"),
    ("clean_general.langauge", "en", "clean_general.langauge: unknown key"),
    ("clean_general.min_alpha_ratio", "high", "clean_general.min_alpha_ratio: expected a number in [0, 1]"),
    ("data_card.batch_size", "many", "data_card.batch_size: expected an integer >= 1, got 'many'"),
    ("base.source", "local", "base.path: required when base.source is local"),
    ("base.source", "s3", "base.source: expected one of pypi_gguf, local, hub, got 's3'"),
    ("evaluate.prompts", "hello", "evaluate.prompts: expected a list of non-empty strings, got 'hello'"),
    ("evaluate.proficiency.translation.sentences", 0,
     "evaluate.proficiency.translation.sentences: expected an integer >= 1, got 0"),
    ("evaluate.proficiency.sample_seeds", [-1], "evaluate.proficiency.sample_seeds"),
    ("evaluate.proficiency.gates.min_language_share", 1.5,
     "evaluate.proficiency.gates.min_language_share: expected a number in [0, 1] or null, got 1.5"),
    ("evaluate.proficiency.dictionary.nmae", "de_DE", "evaluate.proficiency.dictionary.nmae: unknown key"),
    ("gguf.quantizations", [], "gguf.quantizations: expected a non-empty list of f16"),
    ("gguf.gate_quantization", "q4_0", "gguf.gate_quantization: 'q4_0' is not in gguf.quantizations"),
    ("gguf.modelfile.temprature", 0.5, "gguf.modelfile.temprature: unknown key"),
    ("gguf.modelfile.top_p", 2, "gguf.modelfile.top_p: expected a number in [0, 1] or null, got 2"),
    ("mlflow.register", "yes", "mlflow.register: expected true or false, got 'yes'"),
    ("safety.detector.emergency_max_false_positive_rate", 1.5,
     "safety.detector.emergency_max_false_positive_rate: expected a number in [0, 1], got 1.5"),
    ("safety.check_in", "Wie geht es dir?", "safety.check_in: expected a mapping of settings"),
    ("safety.check_in.numbers", [], "safety.check_in.numbers: expected a non-empty list of non-empty strings"),
    ("ingest.target_sources", [{"name": "x", "kind": "debian"}], "ingest.target_sources[0] ('x'): missing key(s)"),
    ("ingest.general_sources", "fortunes", "ingest.general_sources: expected a list"),
    ("pretrian", {}, "pretrian: unknown section (known sections: ingest"),
])
def test_bad_values_name_the_key_and_what_was_expected(key, value, expected):
    with pytest.raises(InputError) as e:
        validate_params(with_value(repo_params(), key, value), root=REPO)
    assert expected in str(e.value) and "(params.yaml)" in str(e.value)


def test_every_error_is_listed_not_just_the_first():
    bad = with_value(with_value(repo_params(), "pretrain.lora.r", "x"), "sft.seed", -1)
    with pytest.raises(InputError, match=r"pretrain.lora.r: .*and 1 more: sft.seed: expected an integer >= 0"):
        validate_params(bad, root=REPO)


def test_clean_schema_matches_the_clean_module():
    from langcpt.clean import _SCHEMA

    assert list(Clean.model_fields) == list(_SCHEMA)
    assert {k: f.default for k, f in Clean.model_fields.items()} == {k: v[1] for k, v in _SCHEMA.items()}


def test_lr_schedulers_are_transformers_names():
    from transformers import SchedulerType

    from langcpt.params_schema import SCHEDULERS

    assert set(SCHEDULERS) <= {s.value for s in SchedulerType}


@pytest.mark.parametrize("key, value", [("sft.data", "/etc/passwd"), ("sft.data", "../outside.jsonl"),
                                        ("base.path", "/models/mine"), ("data_card.tokenizer", "../tok"),
                                        ("ingest.target_sources", [{"name": "mine", "kind": "local",
                                                                    "path": "/data/corpus"}])])
def test_paths_outside_the_repo_are_refused_unless_allowed(key, value):
    params = with_value(repo_params(), key, value)
    if key == "base.path":
        params["base"]["source"] = "local"
    with pytest.raises(InputError, match="outside the repository .*paths.allow_outside_repo"):
        validate_params(params, root=REPO)
    params["paths"] = {"allow_outside_repo": True}
    validate_params(params, root=REPO)


def test_paths_inside_the_repo_and_cache_dirs_anywhere_are_fine():
    params = with_value(repo_params(), "sft.data", "data/sft/../sft/support_de.jsonl")
    params["ingest"]["cache_dir"] = params["base"]["cache_dir"] = os.path.expanduser("~/.cache/langcpt-tests")
    validate_params(params, root=REPO)


def test_partial_sections_validate_the_keys_present(tmp_path):
    """Stages read only their own sections; tests write small params files (defaults fill the rest)."""
    p = tmp_path / "params.yaml"
    p.write_text("clean: {workers: 2, parallel_min_docs: 1}\ndata_card: {batch_size: 3}\n")
    assert load_params(p)["clean"]["workers"] == 2
    p.write_text("clean: {workers: 0}\n")
    with pytest.raises(InputError, match=rf"clean.workers: expected an integer >= 1, got 0 \({p}\)"):
        load_params(p)


def test_invalid_yaml_and_non_utf8_are_input_errors(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("pretrain: {lora: [\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_params(p)
    p.write_bytes(b"sft: {data: \xff}\n")
    with pytest.raises(InputError, match="not valid UTF-8"):
        load_params(p)


@pytest.mark.integration  # every stage script in its own interpreter: ~7 s each
@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_script_validates_params_before_work(stage, tmp_path):
    """Each stage exits 1 with `error: <key>: expected ...` and no traceback, and writes nothing."""
    params = with_value(repo_params(), "pretrain.lora.r", "abc")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "LANGCPT_MLFLOW": "0"}
    proc = subprocess.run([sys.executable, str(REPO / "pipelines" / stage)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "error: pretrain.lora.r: expected an integer >= 1, got 'abc' (params.yaml)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
