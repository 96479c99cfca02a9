"""MLflow tracking with an embedded default store (a sqlite file in the working directory).

`MLFLOW_TRACKING_URI` overrides the store (for example a shared `mlflow server`); telemetry is off by default.
`LANGCPT_MLFLOW=0` turns tracking off (a GPU worker without mlflow installed): stage runs yield None, metrics are
not logged, the Trainer reports to nothing and nothing is registered; mlflow is then never imported.
"""
from __future__ import annotations

import contextlib
import os
import subprocess

from .fileio import redact

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def enabled() -> bool:
    """False when the environment says LANGCPT_MLFLOW=0 (or false/off/no)."""
    return os.environ.get("LANGCPT_MLFLOW", "1").strip().lower() not in ("0", "false", "off", "no")


def configure() -> str:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    return os.environ["MLFLOW_TRACKING_URI"]


def git_commit() -> str:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    except OSError:  # no git on this machine (a bare CUDA image): the run is still tracked
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


@contextlib.contextmanager
def stage_run(experiment: str, stage: str, params: dict):
    """An MLflow run for one pipeline stage, tagged with the stage name and git commit, params logged flat.

    Yields None (and logs nothing) when tracking is off."""
    if not enabled():
        yield None
        return
    configure()
    import mlflow

    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=stage, tags={"stage": stage, "git_commit": git_commit()}) as run:
        flat = {k: ("" if v is None else v) for k, v in flatten(params).items()}
        mlflow.log_params({k: redact(str(v))[:500] for k, v in flat.items()})  # no URL password in MLflow
        yield run


def log_metrics(metrics: dict, prefix: str = "") -> None:
    if not enabled():
        return
    import mlflow

    numeric = {k: float(v) for k, v in flatten(metrics, prefix).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if numeric:
        mlflow.log_metrics(numeric)
