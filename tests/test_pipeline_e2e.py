"""End to end: the real `dvc repro` on the tiny profile in a temp copy of this repository.

It builds every stage (real Debian corpora, the real SmolLM2 base, real training, real llama.cpp), then checks that
a second `dvc repro` runs nothing and that changing a pretrain param reruns exactly pretrain and what follows it.
The first `dvc repro` runs without any network (`unshare -n`) where network namespaces are permitted.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

DOWNSTREAM_OF_PRETRAIN = {"pretrain", "sft", "evaluate", "gguf"}
ALL_STAGES = {"ingest", "dedup_clean", "data_card", "base", "tokenize_chunk"} | DOWNSTREAM_OF_PRETRAIN


def sh(cmd, cwd, env=None, check=True):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=isinstance(cmd, str))
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture(scope="module")
def repo(tmp_path_factory, test_cache):
    dst = tmp_path_factory.mktemp("e2e") / "repo"
    files = sh(["git", "ls-files", "--cached", "--others", "--exclude-standard"], REPO).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dst / f)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "HF_HUB_OFFLINE": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    sh([sys.executable, "pipelines/apply_profile.py", "profiles/tiny.yaml"], dst, env)
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["ingest"]["cache_dir"] = params["base"]["cache_dir"] = str(test_cache)  # shared download cache
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    sh("git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm tiny", dst, env)
    # the offline guarantee (tests/test_offline.py): with the shared download cache filled first, the first full
    # `dvc repro` runs in a network namespace with no network at all, where the machine permits one
    from test_offline import REASON, fill_cache, offline

    if REASON is None:
        fill_cache(params, test_cache)
    first = sh(offline(["dvc", "repro"]) if REASON is None else ["dvc", "repro"], dst, env)
    return {"path": dst, "env": env, "first": first.stdout + first.stderr, "offline": REASON is None}


def test_the_whole_pipeline_ran_without_network(repo):
    from test_offline import REASON

    if REASON is not None:
        pytest.skip(f"no network namespace here: {REASON}")
    assert repo["offline"] and stages_run(repo["first"]) == ALL_STAGES  # every stage, inside `unshare -n`


def test_repro_builds_every_stage_with_outputs_and_metrics(repo):
    root = repo["path"]
    assert stages_run(repo["first"]) == ALL_STAGES
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
    samples = json.loads((root / "reports/evaluate/samples.json").read_text())
    assert {s["model"] for s in samples} == {"base", "pretrained", "sft"}
    gg = json.loads((root / "reports/gguf.json").read_text())
    assert set(gg["files"]) == {"f16", "q8_0", "q4_k_m"}
    assert gg["files"]["q4_k_m"]["size_mb"] < gg["files"]["q8_0"]["size_mb"] < gg["files"]["f16"]["size_mb"]
    assert gg["gate"]["reply"].strip()
    modelfile = (root / "models/gguf/Modelfile").read_text()
    assert "FROM ./model-q4_k_m.gguf" in modelfile and "<|im_end|>" in modelfile


def test_mlflow_holds_registered_versions(repo):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo['path'] / 'mlflow.db'}")
    for name in ("langcpt-sft", "langcpt-gguf"):
        assert client.search_model_versions(f"name='{name}'"), name
    runs = client.search_runs([client.get_experiment_by_name("langcpt").experiment_id])
    assert {r.data.tags["stage"] for r in runs} >= {"pretrain", "sft", "evaluate", "gguf"}


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


def test_changing_a_pretrain_param_reruns_only_pretrain_and_downstream(repo):
    root, env = repo["path"], repo["env"]
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["pretrain"]["learning_rate"] = params["pretrain"]["learning_rate"] * 2
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    out = sh(["dvc", "repro"], root, env)
    assert stages_run(out.stdout + out.stderr) == DOWNSTREAM_OF_PRETRAIN
