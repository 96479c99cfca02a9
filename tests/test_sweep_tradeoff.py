"""scripts/sweep_tradeoff.py on a real queued sweep: `dvc exp run --queue evaluate -S tokenize.replay.ratio=0,0.5`
and `dvc queue start -j 2` in a copy of the built tiny pipeline (`tiny_pipeline`), then the script's CSV checked
against `dvc exp show --json`, read here on its own. The error paths run on small `dvc exp show --json` files."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, commit, run as sh

SCRIPT = REPO / "scripts" / "sweep_tradeoff.py"
PARAM = "tokenize.replay.ratio"
RATIOS = (0, 0.5)  # the tiny profile keeps the default 0.2 (params.yaml: float in [0, 0.9])
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def swept(tiny_pipeline, tmp_path_factory):
    """A copy of the built tiny pipeline (models and DVC's cache objects hard-linked, as in test_faults.py; MLflow
    off) with two queued experiments run to completion. Returns {"path", "env", "show" (dvc exp show --json)}."""
    src = tiny_pipeline["path"]
    dst = tmp_path_factory.mktemp("sweep") / "repo"

    def link_or_copy(a, b):
        if Path(a).relative_to(src).as_posix().startswith(("models/", ".dvc/cache/")):
            os.link(a, b)
        else:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, symlinks=True, copy_function=link_or_copy,
                    ignore=lambda d, names: [n for n in names if n in ("tmp", "mlflow.db", "mlruns")
                                             and Path(d) in (src, src / ".dvc")])
    env = {**tiny_pipeline["env"], "LANGCPT_MLFLOW": "0"}
    # the queued runs check their inputs (the 0.5 GB base model) out of the cache as links, not copies
    sh(["dvc", "config", "cache.type", "hardlink,symlink"], dst, env)
    commit(dst, env, "baseline")  # whatever earlier tests left in the workspace becomes the baseline commit
    queued = sh(["dvc", "exp", "run", "--queue", "evaluate", "-S", f"{PARAM}={','.join(map(str, RATIOS))}"], dst, env)
    names = re.findall(r"Queued experiment '([^']+)'", queued.stdout + queued.stderr)
    assert len(names) == len(RATIOS), queued.stdout
    try:
        sh(["dvc", "queue", "start", "-j", "2"], dst, env)
        deadline = time.monotonic() + 1200
        while re.search(r"\b(Queued|Running)\b", status := sh(["dvc", "queue", "status"], dst, env).stdout):
            assert time.monotonic() < deadline, status
            time.sleep(3)
        if status.count("Success") != len(RATIOS):
            logs = "\n".join(sh(["dvc", "queue", "logs", n], dst, env, check=False).stdout[-3000:] for n in names)
            raise AssertionError(f"{status}\n{logs}")
    finally:
        sh(["dvc", "queue", "stop"], dst, env, check=False)
    show = json.loads(sh(["dvc", "exp", "show", "--json"], dst, env).stdout)
    return {"path": dst, "env": env, "show": show, "names": names}


def experiments_in(show: list) -> dict[str, dict]:
    """{experiment name: {"ratio", "evaluate", "tokenize"}} of the finished experiments, read from the JSON here."""
    found = {}
    for commit_entry in show:
        for exp in commit_entry.get("experiments") or []:
            if (exp.get("executor") or {}).get("state", "success") != "success":
                continue
            data = exp["revs"][0]["data"]
            found[exp["name"]] = {"ratio": data["params"]["params.yaml"]["data"]["tokenize"]["replay"]["ratio"],
                                  "evaluate": data["metrics"]["reports/evaluate/metrics.json"]["data"],
                                  "tokenize": data["metrics"]["reports/tokenize.json"]["data"]}
    return found


def test_the_csv_and_png_of_a_queued_replay_sweep_hold_what_dvc_exp_show_reports(swept):
    root, env = swept["path"], swept["env"]
    out = sh([sys.executable, str(SCRIPT), "--name", "replay"], root, env)
    exps = experiments_in(swept["show"])
    assert set(exps) == set(swept["names"]) and sorted(e["ratio"] for e in exps.values()) == list(RATIOS)
    for e in exps.values():  # each experiment reran tokenize_chunk with its ratio (and so what follows it)
        assert e["tokenize"]["replay_ratio"] == e["ratio"]
    rows = list(csv.DictReader((root / "reports/sweeps/replay.csv").open(encoding="utf-8")))
    by_name = {r["experiment"]: r for r in rows}
    # the two experiments and the baseline's 0.2, once: the workspace and the commit `main` hold the same run
    assert [float(r["value"]) for r in rows] == [0.0, 0.2, 0.5]
    assert by_name["workspace"]["duplicates"] == "commit:main" and "dropped commit 'main'" in out.stderr
    for name, e in exps.items():
        row, ev = by_name[name], e["evaluate"]
        assert row["kind"] == "experiment" and float(row["value"]) == e["ratio"] and row["param"] == PARAM
        assert row["source"] == "reports/evaluate/metrics.json"
        for suffix, model in (("base", "base"), ("after_cpt", "pretrained"), ("after_sft", "sft")):
            for s in ("target", "general"):
                assert float(row[f"{s}_bpb_{suffix}"]) == ev[model][f"{s}_bpb"], (name, s, suffix)
        for s in ("target", "general"):
            for suffix, model in (("after_cpt", "pretrained"), ("after_sft", "sft")):
                want = 100 * (ev[model][f"{s}_bpb"] - ev["base"][f"{s}_bpb"]) / ev["base"][f"{s}_bpb"]
                assert float(row[f"{s}_bpb_change_{suffix}_pct"]) == pytest.approx(want, abs=1e-4)
        assert f"| {e['ratio']} | {name} | {ev['base']['target_bpb']:.5g} |" in out.stdout  # the markdown table
    png = root / "reports/sweeps/replay.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == PNG_MAGIC
    assert not [p for p in png.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def exp_show(params: dict, metrics: dict | None = None, state: str | None = None) -> list:
    """A `dvc exp show --json` (dvc 3.67) with the workspace, one commit and one experiment of it."""
    def entry(rev, name, m):
        return {"rev": rev, "name": name, "error": None, "experiments": None,
                "data": {"rev": rev, "timestamp": None, "params": {"params.yaml": {"data": params}},
                         "metrics": {f: {"data": d} for f, d in (m or {}).items()}, "deps": {}, "outs": {}, "meta": {}}}
    head = entry("a" * 40, "main", {})
    head["experiments"] = [{"revs": [{**entry("b" * 40, "exp-1", metrics), "experiments": None}], "name": "exp-1",
                            "executor": {"state": state, "name": "dvc-task", "local": {}} if state else None}]
    return [entry("workspace", None, {}), head]


@pytest.mark.parametrize("show, message", [
    (exp_show({"tokenize": {"block_size": 64}}), "no row of `dvc exp show` has the param 'tokenize.replay.ratio'"),
    (exp_show({"tokenize": {"replay": {"ratio": 0.5}}}, {"reports/evaluate/metrics.json": {"base": {"target_bpb": 2}}}),
     "experiment 'exp-1' (bbbbbbb): reports/evaluate/metrics.json lacks base.general_bpb, pretrained.target_bpb"),
    (exp_show({"tokenize": {"replay": {"ratio": 0.5}}}, {"reports/evaluate/metrics.json": {}}, state="failed"),
     "no row with 'tokenize.replay.ratio' has bits-per-byte metrics"),
])
def test_no_param_or_no_metrics_is_exit_1_naming_what_is_missing(tmp_path, show, message):
    (tmp_path / "show.json").write_text(json.dumps(show))
    proc = subprocess.run([sys.executable, str(SCRIPT), "--json", "show.json"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and f"error: {message}" in proc.stderr, proc.stderr
    assert not (tmp_path / "reports").exists()
