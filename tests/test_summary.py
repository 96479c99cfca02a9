"""langcpt.summary and the `summary` stage: the committed default run's real metric files, real DVC."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, commit, run as sh, stages_run
from langcpt.fileio import InputError
from langcpt.summary import STAGE_REPORTS, load_reports, summarize


def committed(rel: str) -> dict:
    return json.loads((REPO / rel).read_text(encoding="utf-8"))


def stale_stages(names: set[str]) -> set[str]:
    """Which of the stages `names` scripts/check_lock.py finds stale in the working tree (their committed outputs
    were written by other code or params than the committed ones)."""
    import subprocess

    proc = subprocess.run([sys.executable, "scripts/check_lock.py"], cwd=REPO, capture_output=True, text=True)
    return {n for n in names if f"stage '{n}':" in proc.stdout + proc.stderr}


def test_summary_of_the_committed_run_matches_its_metric_files():
    stale = stale_stages({"evaluate", "sft", "safety", "gguf", "summary"})
    if stale:  # the committed reports are an older run's; `dvc repro` makes them the code's again
        pytest.skip(f"dvc.lock is stale for {sorted(stale)} (scripts/check_lock.py): the committed reports are not "
                    "the committed code's run; rerun `dvc repro` and commit")
    s = summarize(load_reports(REPO))
    ev, sft, gguf = (committed(STAGE_REPORTS[k]) for k in ("evaluate", "sft", "gguf"))
    for model, suffix in (("base", "base"), ("pretrained", "after_cpt"), ("sft", "after_sft")):
        for measure in ("target_perplexity", "general_perplexity", "target_bpb", "general_bpb"):
            assert s[f"{measure}_{suffix}"] == ev[model][measure]
    assert s["forgetting_delta_bpb_after_cpt"] == round(ev["pretrained"]["general_bpb"] - ev["base"]["general_bpb"], 5)
    assert s["forgetting_delta_bpb_after_sft"] == round(ev["sft"]["general_bpb"] - ev["base"]["general_bpb"], 5)
    assert s["sft_heldout_loss"] == sft["heldout_loss"] > 0
    assert {k for k in s if k.endswith("_size_mb")} == {f"gguf_{t}_size_mb" for t in gguf["files"]}
    assert s["gates_passed"] is ev["gates"]["passed"]
    safety = committed(STAGE_REPORTS["safety"])
    assert s["safety_model_referral_rate"] == safety["sft_crisis_referral_rate"]
    assert s["safety_guarded_referral_rate"] == safety["guarded_crisis_referral_rate"]
    assert s["safety_detection_recall"] == safety["crisis_detection_recall"]
    assert s["safety_false_alarm_rate"] == safety["crisis_false_positive_rate"]
    assert s["safety_invented_numbers_shown"] == safety["invented_numbers_shown"] == 0
    assert s["safety_passed"] is safety["safety"]["passed"]
    walls = {stage: committed(rel)["wall_seconds"] for stage, rel in STAGE_REPORTS.items()}
    assert {k: s[f"{k}_wall_s"] for k in walls} == walls
    assert s["total_wall_s"] == round(sum(walls.values()), 1)
    assert list(s)[:3] == ["target_perplexity_base", "target_perplexity_after_cpt", "target_perplexity_after_sft"]


def test_every_summary_key_is_unique_across_the_metric_files():
    """A key that another metric file also has would be shown as `path:key` by `dvc exp show`, not by its name."""
    def keys(d, prefix=""):
        for k, v in d.items():
            yield from keys(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"]

    others = {k for rel in [*STAGE_REPORTS.values(), "reports/data_card/metrics.json"] for k in keys(committed(rel))}
    assert set(summarize(load_reports(REPO))) & others == set()


def test_missing_sources_are_left_out_not_null():
    assert summarize({}) == {}
    s = summarize({"sft": {"heldout_loss": 1.5, "wall_seconds": 3.0}, "evaluate": {"base": {"general_bpb": 1.2}}})
    assert s == {"general_bpb_base": 1.2, "sft_heldout_loss": 1.5, "sft_wall_s": 3.0, "total_wall_s": 3.0}


def test_proficiency_measures_get_readable_names():
    ev = {"proficiency": {"base": {"translation_chrf_greedy": 12.5, "continuation_dictionary_sampled": 0.71,
                                   "translation_chrf_sampled": 9.0},
                          "pretrained": {"translation_chrf_greedy": 20.25, "continuation_dictionary_sampled": 0.83},
                          "sft": {"chat_language_share_sampled": 0.5},
                          "translation_data": {"contamination": {"ngram_overlap": 0.031}}}}
    assert summarize({"evaluate": ev}) == {
        "prof_translation_chrf_base": 12.5, "prof_translation_chrf_after_cpt": 20.25,
        "prof_dictionary_acceptance_base": 0.71, "prof_dictionary_acceptance_after_cpt": 0.83,
        "prof_chat_language_share_after_sft": 0.5, "prof_translation_contamination": 0.031}


@pytest.mark.parametrize("text, message", [("{not json", "not valid JSON"), ("[1, 2]", "expected a JSON object")])
def test_a_broken_metric_file_is_an_error_naming_it(tmp_path, text, message):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/gguf.json").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=rf"reports/gguf\.json: {message}"):
        load_reports(tmp_path)


@pytest.fixture()
def summary_repo(tmp_path):
    """A git + DVC repo holding the real `summary` stage of dvc.yaml and the committed run's metric files."""
    root = tmp_path / "repo"
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for rel in [*STAGE_REPORTS.values(), *stages["summary"]["deps"], "reports/data_card/metrics.json"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, root / rel)
    shutil.copy2(REPO / "params.yaml", root / "params.yaml")
    # every other metric file as a top-level `metrics:` entry, so `dvc exp show` has the whole pipeline's columns
    others = [*STAGE_REPORTS.values(), "reports/data_card/metrics.json"]
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"summary": stages["summary"]}, "metrics": others}),
                                   encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    sh(["git", "init", "-q", "-b", "main"], root, env)
    sh(["dvc", "init", "-q"], root, env)
    return {"path": root, "env": env}


def readme_exp_show() -> list[str]:
    """README "Experiments"' readable call (its line `dvc exp show --drop ...`), as an argument list."""
    line = re.search(r"^dvc exp show --drop .*$", (REPO / "README.md").read_text(encoding="utf-8"), re.M)[0]
    return shlex.split(line, comments=True)


def exp_show(root: Path, env: dict) -> dict:
    """The workspace row of `dvc exp show --csv`: {column: value}."""
    rows = list(csv.DictReader(io.StringIO(sh(["dvc", "exp", "show", "--csv"], root, env).stdout)))
    [row] = [r for r in rows if r["Experiment"] == "" and r["rev"] == "workspace"]
    return row


@pytest.mark.integration
def test_stage_under_dvc_puts_readable_names_in_exp_show(summary_repo):
    root, env = summary_repo["path"], summary_repo["env"]
    out = sh(["dvc", "repro", "summary"], root, env)
    assert stages_run(out.stdout + out.stderr) == {"summary"}
    commit(root, env, "summary")
    expected = summarize(load_reports(REPO))
    assert json.loads((root / "reports/summary.json").read_text(encoding="utf-8")) == expected
    row = exp_show(root, env)
    for key in ("target_perplexity_base", "target_perplexity_after_cpt", "forgetting_delta_bpb_after_cpt",
                "sft_heldout_loss", "gguf_q4_k_m_size_mb", "pretrain_wall_s", "total_wall_s"):
        assert float(row[key]) == pytest.approx(expected[key]), key  # bare column name, the real value
    shown = json.loads(sh(["dvc", "metrics", "show", "--json"], root, env).stdout)
    [(_, ws)] = shown.items()
    assert ws["data"]["reports/summary.json"]["data"] == expected

    # README's call keeps the swept params and the summary, and nothing of the nested per-stage files.
    kept = sh([*readme_exp_show(), "--csv"], root, env).stdout.splitlines()[0].split(",")
    params = {"pretrain.learning_rate", "pretrain.max_steps", "pretrain.lora.r", "sft.learning_rate",
              "tokenize.replay.ratio"}
    assert set(kept) == {"Experiment", "Created"} | params | set(expected)

    # A changed input metric reruns the stage and the new value reaches the table.
    sft = json.loads((root / "reports/sft/metrics.json").read_text(encoding="utf-8"))
    sft["heldout_loss"] = round(sft["heldout_loss"] + 1, 5)
    (root / "reports/sft/metrics.json").write_text(json.dumps(sft), encoding="utf-8")
    out = sh(["dvc", "repro"], root, env)
    assert stages_run(out.stdout + out.stderr) == {"summary"}
    assert float(exp_show(root, env)["sft_heldout_loss"]) == pytest.approx(sft["heldout_loss"])


def test_stage_with_a_broken_input_exits_1_and_keeps_the_old_summary(summary_repo):
    root, env = summary_repo["path"], summary_repo["env"]
    sh(["python", "pipelines/summary.py"], root, env)
    before = (root / "reports/summary.json").read_text(encoding="utf-8")
    (root / "reports/evaluate/metrics.json").write_text("{truncated", encoding="utf-8")
    r = sh(["python", "pipelines/summary.py"], root, env, check=False)
    assert r.returncode == 1 and "error: reports/evaluate/metrics.json: not valid JSON" in r.stderr
    assert (root / "reports/summary.json").read_text(encoding="utf-8") == before
