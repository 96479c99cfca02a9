"""Real MLflow on a temp sqlite store: stage runs, flattened params/metrics, registered model versions."""
import mlflow
import pytest
from mlflow import MlflowClient

from langcpt import tracking
from langcpt.registry import register_transformers_model


@pytest.fixture()
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(uri)
    yield MlflowClient(tracking_uri=uri)
    mlflow.set_tracking_uri(None)


def test_stage_run_logs_flat_params_tags_and_numeric_metrics(store):
    with tracking.stage_run("exp", "pretrain", {"lr": 1e-3, "lora": {"r": 8}, "note": None}) as run:
        tracking.log_metrics({"eval": {"perplexity": 12.5}, "steps": 3, "backend": "hf", "resumed": False})
    got = store.get_run(run.info.run_id)
    assert got.data.params == {"lr": "0.001", "lora.r": "8", "note": ""}
    assert got.data.metrics == {"eval.perplexity": 12.5, "steps": 3.0}
    assert got.data.tags["stage"] == "pretrain" and got.data.tags["git_commit"]


def test_registering_twice_makes_two_versions_loadable_by_version(store, tiny_model_dir):
    for expected in (1, 2):
        with tracking.stage_run("exp", "sft", {}) as run:
            assert register_transformers_model(tiny_model_dir, "tiny-sft", run) == expected
    versions = store.search_model_versions("name='tiny-sft'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    components = mlflow.transformers.load_model("models:/tiny-sft/2", return_type="components")
    assert components["model"].config.num_hidden_layers == 2


def test_tracking_off_logs_nothing_and_reports_to_nothing(store, monkeypatch, tmp_path):
    from langcpt.trainer_setup import training_arguments

    monkeypatch.setenv("LANGCPT_MLFLOW", "0")
    assert not tracking.enabled()
    with tracking.stage_run("exp-off", "pretrain", {"lr": 1}) as run:
        tracking.log_metrics({"steps": 3})
    assert run is None and store.get_experiment_by_name("exp-off") is None
    cfg = {"max_steps": 1, "epochs": 1, "batch_size": 1, "gradient_accumulation_steps": 1, "learning_rate": 1e-3,
           "warmup_ratio": 0.0, "lr_scheduler": "constant", "weight_decay": 0.0, "logging_steps": 1,
           "eval_steps": 1, "save_steps": 1, "seed": 0}
    assert training_arguments(cfg, tmp_path, do_eval=False).report_to == []
    monkeypatch.setenv("LANGCPT_MLFLOW", "1")
    assert training_arguments(cfg, tmp_path, do_eval=False).report_to == ["mlflow"]


def test_git_commit_without_git_on_the_machine(monkeypatch, tmp_path):
    """A bare CUDA image may have no git: the run is tracked with commit "unknown" instead of crashing."""
    from langcpt import tracking

    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable on PATH
    assert tracking.git_commit() == "unknown"
