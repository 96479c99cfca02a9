"""Helpers of `notebooks/walkthrough.ipynb`, which tells the pipeline's story on the outputs `dvc repro` wrote.

The notebook trains nothing and re-implements no stage: it finds the repository (`find_repo`), checks that the
outputs it reads exist and otherwise names the stage to run (`require`, from `dvc.yaml`), reads the stages' files and
the MLflow store, and calls the library for generation (`langcpt.evaluation.generate`, `langcpt.gguf_export`).
"""
from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from .fileio import InputError

REPO_ENV = "LANGCPT_REPO"  # the repository whose outputs the notebook reads; default: the notebook's own


class MissingOutput(FileNotFoundError):
    """Outputs the notebook needs are not there; the message names the stages that write them."""


def find_repo(start: str | os.PathLike | None = None) -> Path:
    """$LANGCPT_REPO, else the first folder holding a dvc.yaml from `start` (default: the working directory) up."""
    if os.environ.get(REPO_ENV):
        repo = Path(os.environ[REPO_ENV]).expanduser().resolve()
        if not (repo / "dvc.yaml").is_file():
            raise InputError(f"{REPO_ENV}={repo}: no dvc.yaml there (not a langcpt repository)")
        return repo
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file():
            return folder
    raise InputError(f"no dvc.yaml in {here} or above: set {REPO_ENV} to the repository")


def stage_outputs(repo: str | os.PathLike) -> dict[str, str]:
    """{output path: stage} for every out, metrics and plots file that a stage of `dvc.yaml` declares."""
    stages = (yaml.safe_load((Path(repo) / "dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages") or {}
    outputs = {}
    for stage, spec in stages.items():
        for kind in ("outs", "metrics", "plots"):
            for entry in (spec or {}).get(kind) or []:
                outputs[next(iter(entry)) if isinstance(entry, dict) else str(entry)] = stage
    return outputs


def stage_of(repo: str | os.PathLike, rel: str) -> str | None:
    """The stage whose declared output is `rel` or a folder above it; None when no stage writes it."""
    outputs = stage_outputs(repo)
    path = Path(rel)
    for candidate in (path, *path.parents):
        if str(candidate) in outputs:
            return outputs[str(candidate)]
    return None


def missing(repo: str | os.PathLike, rels) -> dict[str, str | None]:
    """{path: stage that writes it} for the paths of `rels` that do not exist under `repo`."""
    return {rel: stage_of(repo, rel) for rel in rels if not (Path(repo) / rel).exists()}


def require(repo: str | os.PathLike, *rels: str) -> list[Path]:
    """The absolute paths of `rels`; MissingOutput naming the stages to run when any is missing."""
    gone = missing(repo, rels)
    if gone:
        order = list(dict.fromkeys(stage_outputs(repo).values()))  # dvc.yaml's order: upstream first
        stages = sorted({s for s in gone.values() if s}, key=order.index)
        what = ", ".join(f"{rel} (stage {stage or 'none: not a dvc.yaml output'})" for rel, stage in gone.items())
        run = f"run `dvc repro {' '.join(stages)}` in {repo}" if stages else "check the path"
        raise MissingOutput(f"missing pipeline output: {what}; {run} (or `dvc repro` for the whole pipeline)")
    return [Path(repo) / rel for rel in rels]


def read_json(repo: str | os.PathLike, rel: str):
    import json

    (path,) = require(repo, rel)
    return json.loads(path.read_text(encoding="utf-8"))


def read_csv(repo: str | os.PathLike, rel: str):
    """A stage's CSV (a `dvc plots` file) as a pandas DataFrame."""
    import pandas as pd

    (path,) = require(repo, rel)
    return pd.read_csv(path)


def params(repo: str | os.PathLike) -> dict:
    return yaml.safe_load((Path(repo) / "params.yaml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- the DAG
def dvc(repo: str | os.PathLike, *args: str) -> str:
    """Output of `dvc <args>` run in `repo` with this interpreter's DVC (read-only commands only)."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def dag_edges(dot: str) -> list[tuple[str, str]]:
    """The edges of `dvc dag --dot` output."""
    return re.findall(r'"([^"]+)"\s*->\s*"([^"]+)"', dot)


def layered(edges: list[tuple[str, str]]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """({node: depth (longest path from a source)}, the edges left after transitive reduction) for drawing."""
    nodes = list(dict.fromkeys(n for e in edges for n in e))
    succ = {n: [b for a, b in edges if a == n] for n in nodes}
    depth = dict.fromkeys(nodes, 0)
    for _ in nodes:  # longest path: relax |nodes| times (a DAG of ~10 stages)
        for a, b in edges:
            depth[b] = max(depth[b], depth[a] + 1)

    def reachable(a, b, skip):  # a path a -> ... -> b not using the edge `skip`
        todo, seen = [x for x in succ[a] if (a, x) != skip], set()
        while todo:
            x = todo.pop()
            if x == b:
                return True
            if x not in seen:
                seen.add(x)
                todo.extend(succ[x])
        return False

    return depth, [(a, b) for a, b in edges if not reachable(a, b, (a, b))]


def plot_dag(edges: list[tuple[str, str]], ax=None):
    """The stage graph, one row per depth, transitive edges left out (a matplotlib Axes)."""
    import matplotlib.pyplot as plt

    depth, reduced = layered(edges)
    rows: dict[int, list[str]] = {}
    for node, d in depth.items():
        rows.setdefault(d, []).append(node)
    pos = {n: (i - (len(row) - 1) / 2, -d) for d, row in rows.items() for i, n in enumerate(row)}
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.75 * (len(rows) + 1)))
    for a, b in reduced:  # edges over more than one row bend, so they pass beside the boxes in between
        bend = 0.25 if depth[b] - depth[a] > 1 or pos[a][0] != pos[b][0] else 0.0
        ax.annotate("", xy=pos[b], xytext=pos[a], arrowprops={"arrowstyle": "->", "color": "grey", "shrinkA": 12,
                                                              "shrinkB": 12, "connectionstyle": f"arc3,rad={bend}"})
    for n, (x, y) in pos.items():
        ax.text(x, y, n, ha="center", va="center", bbox={"boxstyle": "round", "fc": "#e8f0fe", "ec": "#4a6fa5"})
    ax.set_xlim(min(x for x, _ in pos.values()) - 1, max(x for x, _ in pos.values()) + 1)
    ax.set_ylim(-max(rows) - 0.5, 0.5)
    ax.axis("off")
    return ax


# ---------------------------------------------------------------- data
def side_by_side(pairs: list[dict], left: str = "kept", right: str = "removed") -> str:
    """HTML table of near-duplicate pairs (reports/near_duplicates.json rows): kept | removed | Jaccard."""
    cell = 'style="text-align:left; vertical-align:top; white-space:pre-wrap"'
    rows = "".join(f"<tr><td {cell}>{html.escape(p[left])}</td><td {cell}>{html.escape(p[right])}</td>"
                   f"<td {cell}>{p.get('jaccard', '')}</td></tr>" for p in pairs)
    return (f"<table><tr><th>{left}</th><th>{right} (near duplicate)</th><th>Jaccard estimate</th></tr>"
            f"{rows}</table>")


# ---------------------------------------------------------------- MLflow
def mlflow_client(repo: str | os.PathLike):
    """A MlflowClient on the repository's store (its mlflow.db; else $MLFLOW_TRACKING_URI); None when neither
    exists (stages ran with LANGCPT_MLFLOW=0). Never creates a store."""
    db = Path(repo) / "mlflow.db"
    if db.is_file():
        uri = f"sqlite:///{db}"
    elif os.environ.get("MLFLOW_TRACKING_URI"):
        uri = os.environ["MLFLOW_TRACKING_URI"]
    else:
        return None
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def latest_run(client, experiment: str, stage: str):
    """The newest finished MLflow run of `stage` (tag `stage`, as langcpt.tracking.stage_run sets it), or None."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return None
    runs = client.search_runs([exp.experiment_id], f"tags.stage = '{stage}' and attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


def metric_history(client, run, key: str):
    """DataFrame(step, value) of one metric of a run, one row per step: the first value logged at it (a stage logs
    its final metrics once more after training, at step 0: `langcpt.tracking.log_metrics`)."""
    import pandas as pd

    hist = client.get_metric_history(run.info.run_id, key)
    df = pd.DataFrame({"step": [m.step for m in hist], "value": [m.value for m in hist]})
    return df.drop_duplicates("step", keep="first").sort_values("step").reset_index(drop=True)


# ---------------------------------------------------------------- chat and speed
def heldout_examples(repo: str | os.PathLike, categories: list[str]) -> list[dict]:
    """The first held-out SFT conversation (never trained on: the sft stage's own split) of each category."""
    from .conversations import load_conversations, split_conversations

    cfg = params(repo)["sft"]
    (path,) = require(repo, cfg["data"])
    _, holdout = split_conversations(load_conversations(path), cfg["holdout_fraction"], cfg["seed"])
    picked = []
    for category in categories:
        rows = [c for c in holdout if c.get("category") == category]
        if not rows:
            raise InputError(f"{cfg['data']}: no held-out conversation of category {category!r}")
        picked.append(rows[0])
    return picked


def first_exchange(conversation: dict) -> tuple[str | None, str, str]:
    """(system prompt or None, first user message, the reference assistant reply after it)."""
    msgs = conversation["messages"]
    system = msgs[0]["content"] if msgs[0]["role"] == "system" else None
    i = next(i for i, m in enumerate(msgs) if m["role"] == "user")
    reference = next(m["content"] for m in msgs[i + 1:] if m["role"] == "assistant")
    return system, msgs[i]["content"], reference


def referrals_in(reply: str, reference: str) -> list[str]:
    """The numbers of the reference reply (hotline, emergency) that the reply gives too."""
    from .safety import has_number, phone_numbers

    return [n for n in phone_numbers(reference) if has_number(reply, n)]


def hf_decode_speed(model, tokenizer, text: str, n_tokens: int) -> float:
    """transformers generation tokens/s after the prompt, measured as benchmarks/gguf_speed.py does: greedy,
    exactly `n_tokens` new tokens, minus the time of one token (the prompt pass)."""
    import torch

    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids.to(model.device)

    def timed(n):
        t0 = time.perf_counter()
        with torch.no_grad():
            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                           do_sample=False, pad_token_id=tokenizer.pad_token_id or 0)
        return time.perf_counter() - t0

    timed(2)  # warm-up
    first, full = timed(1), timed(n_tokens)
    return round((n_tokens - 1) / max(full - first, 1e-9), 2)
