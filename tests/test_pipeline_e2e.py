"""End to end: the real `dvc repro` on the tiny profile in a temp copy of this repository.

It builds every stage (real Debian corpora, the real SmolLM2 base, real training, real llama.cpp), then checks that
a second `dvc repro` runs nothing and that changing a pretrain param reruns exactly pretrain and what follows it.
The first `dvc repro` runs without any network (`unshare -n`) where network namespaces are permitted.
"""
import csv
import io
import json
import re

import pytest
import yaml

from conftest import run as sh, stages_run
from test_summary import readme_exp_show

DOWNSTREAM_OF_PRETRAIN = {"pretrain", "sft", "evaluate", "safety", "gguf", "summary"}
ALL_STAGES = {"ingest", "dedup_clean", "data_card", "base", "extend_vocab", "tokenize_chunk", "eval_data",
              "sft_data", "detector"} | DOWNSTREAM_OF_PRETRAIN
# the tiny profile changes none of the inputs of sft_data (its fragments) and of the detector (its messages, the SFT
# data, safety.*): where the committed dvc.lock is fresh for them, DVC keeps their committed git-tracked outputs
# (data/sft/support_de.jsonl, models/detector/detector.json: "didn't change, skipping")
KEPT_FROM_THE_COMMITTED_LOCK = {"sft_data", "detector"}


def ran_every_stage(output: str) -> bool:
    """Every stage ran, except one whose committed dvc.lock entry already matched (only sft_data and the detector
    can)."""
    kept = set(re.findall(r"Stage '([^']+)' didn't change, skipping", output))
    return stages_run(output) | kept == ALL_STAGES and kept <= KEPT_FROM_THE_COMMITTED_LOCK


@pytest.fixture(scope="module")
def repo(tiny_pipeline):
    return tiny_pipeline


def test_the_whole_pipeline_ran_without_network(repo):
    from test_offline import REASON

    if REASON is not None:
        pytest.skip(f"no network namespace here: {REASON}")
    assert repo["offline"] and ran_every_stage(repo["first"])  # every stage, inside `unshare -n`


def test_repro_builds_every_stage_with_outputs_and_metrics(repo):
    root = repo["path"]
    assert ran_every_stage(repo["first"])
    raw = [json.loads(line) for line in (root / "data/raw/target.jsonl").read_text().splitlines()]
    assert raw and all(d["text"] and d["source"] and d["license"] for d in raw)
    for f in ("train.npy", "val.npy", "general_val.npy"):
        assert (root / "data/tokens" / f).stat().st_size > 0
    for m in ("base", "pretrained", "sft"):
        assert (root / "models" / m / "model.safetensors").exists()
    clean = json.loads((root / "reports/clean.json").read_text())
    assert clean["target"]["input_docs"] == clean["target"]["kept_docs"] + sum(clean["target"]["removed"].values())
    card = json.loads((root / "reports/data_card/metrics.json").read_text())
    assert card["target"]["documents"] == clean["target"]["kept_docs"] and card["target"]["tokens"] > 0
    assert set(card["target"]["sources"]) == {"fortunes-de", "libreoffice-help-de"}
    pre = json.loads((root / "reports/pretrain/metrics.json").read_text())
    assert pre["steps"] == 3 and pre["trainable_parameters"] > pre["embedding_parameters"] > 0
    assert (root / "reports/pretrain/train_loss.csv").read_text().count("\n") >= 4
    sft = json.loads((root / "reports/sft/metrics.json").read_text())
    assert sft["heldout_conversations"] > 0 and sft["heldout_loss"] > 0
    ev = json.loads((root / "reports/evaluate/metrics.json").read_text())
    for m in ("base", "pretrained", "sft"):
        assert ev[m]["target_perplexity"] > 1 and ev[m]["general_perplexity"] > 1
    prof = ev["proficiency"]  # langcpt.proficiency: every measure for every model, greedy and sampled
    for m in ("base", "pretrained", "sft"):
        assert 0 <= prof[m]["translation_chrf_greedy"] <= 100
        assert 0 <= prof[m]["continuation_language_share_sampled"] <= 1
    assert prof["translation_data"]["package"] == "apt" and prof["reference"]["continuation_language_share"] > 0
    samples = json.loads((root / "reports/evaluate/samples.json").read_text())
    assert {s["model"] for s in samples} == {"base", "pretrained", "sft"}
    gg = json.loads((root / "reports/gguf.json").read_text())
    assert set(gg["files"]) == {"f16", "q8_0", "q4_k_m"}
    assert gg["files"]["q4_k_m"]["size_mb"] < gg["files"]["q8_0"]["size_mb"] < gg["files"]["f16"]["size_mb"]
    assert gg["gate"]["reply"].strip()
    modelfile = (root / "models/gguf/Modelfile").read_text()
    assert "FROM ./model-q4_k_m.gguf" in modelfile and "<|im_end|>" in modelfile
    safety = json.loads((root / "reports/safety/metrics.json").read_text())
    replies = json.loads((root / "reports/safety/replies.json").read_text())
    assert safety["safety"]["passed"] and safety["invented_numbers_shown"] == 0
    # every detected crisis message is shown with what its tier needs: the emergency referral, or the check-in
    assert all(r["guarded_answer"] for r in replies if r["detected"])
    assert all(r["guarded_referral"] for r in replies if r["tier"] == "emergency")
    assert all(r["guarded_check_in"] for r in replies if r["tier"] == "check_in")
    assert safety["crisis_replies"] == len(replies) == \
        min(yaml.safe_load((root / "params.yaml").read_text())["safety"]["max_replies"],
            safety["detection"]["test"]["crisis_messages"])  # the tiny profile answers the first 16
    assert gg["registry"]["gates"].endswith("safety gates passed") and gg["registry"]["gguf"]["alias_moved"]


def test_mlflow_holds_registered_versions(repo):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo['path'] / 'mlflow.db'}")
    for name in ("langcpt-sft", "langcpt-gguf"):
        assert client.search_model_versions(f"name='{name}'"), name
    runs = client.search_runs([client.get_experiment_by_name("langcpt").experiment_id])
    assert {r.data.tags["stage"] for r in runs} >= {"pretrain", "sft", "evaluate", "safety", "gguf"}


def test_second_repro_runs_nothing(repo):
    out = sh(["dvc", "repro"], repo["path"], repo["env"])
    assert stages_run(out.stdout + out.stderr) == set()
    status = sh(["dvc", "status"], repo["path"], repo["env"]).stdout
    assert "up to date" in status


def test_exp_show_lists_params_and_metrics(repo):
    root, env = repo["path"], repo["env"]
    sh("git add -A && git -c user.name=t -c user.email=t@t commit -qm run", root, env)
    table = sh(["dvc", "exp", "show", "--csv"], root, env).stdout
    header = table.splitlines()[0]
    for col in ("pretrain.learning_rate", "sft.learning_rate", "target_perplexity_change",
                "pretrained.target_perplexity", "forgetting_general_perplexity_change"):
        assert col in header, col
    # The flat summary (reports/summary.json): bare, readable column names with this run's values.
    [row] = [r for r in csv.DictReader(io.StringIO(table)) if r["rev"] == "workspace"]
    ev = json.loads((root / "reports/evaluate/metrics.json").read_text())
    sft = json.loads((root / "reports/sft/metrics.json").read_text())
    gg = json.loads((root / "reports/gguf.json").read_text())
    pre = json.loads((root / "reports/pretrain/metrics.json").read_text())
    expected = {"target_perplexity_base": ev["base"]["target_perplexity"],
                "target_perplexity_after_cpt": ev["pretrained"]["target_perplexity"],
                "target_perplexity_after_sft": ev["sft"]["target_perplexity"],
                "general_bpb_after_sft": ev["sft"]["general_bpb"],
                "forgetting_delta_bpb_after_cpt": ev["pretrained"]["general_bpb"] - ev["base"]["general_bpb"],
                "sft_heldout_loss": sft["heldout_loss"],
                "gguf_q4_k_m_size_mb": gg["files"]["q4_k_m"]["size_mb"],
                "pretrain_wall_s": pre["wall_seconds"]}
    for col, value in expected.items():
        assert float(row[col]) == pytest.approx(value, abs=1e-5), col
    assert float(row["total_wall_s"]) >= float(row["pretrain_wall_s"]) + float(row["sft_wall_s"]) > 0
    assert row["gates_passed"] == str(ev["gates"]["passed"])
    # The README's readable call: the kept columns are exactly the chosen params and the summary.
    kept = sh([*readme_exp_show(), "--csv"], root, env).stdout.splitlines()[0].split(",")
    assert set(expected) | {"Experiment", "pretrain.learning_rate", "gguf_f16_size_mb", "total_wall_s"} <= set(kept)
    assert not [c for c in kept if ":" in c or c.startswith(("base.", "files.", "gates."))], kept


def test_changing_a_pretrain_param_reruns_only_pretrain_and_downstream(repo):
    root, env = repo["path"], repo["env"]
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["pretrain"]["learning_rate"] = params["pretrain"]["learning_rate"] * 2
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    out = sh(["dvc", "repro"], root, env)
    assert stages_run(out.stdout + out.stderr) == DOWNSTREAM_OF_PRETRAIN
