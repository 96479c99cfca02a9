"""MLflow Model Registry: the merged SFT model (transformers flavour) and the GGUF files (pyfunc over llama.cpp).

Every registered version is tagged with its provenance (git commit, the dvc.lock hashes of the data and models it
came from) and the evaluate metrics; the alias `candidate` (mlflow.alias) moves to a version only when the evaluate
gates passed. Load a registered version elsewhere with, for example:
    mlflow.transformers.load_model("models:/langcpt-sft@candidate")
    mlflow.pyfunc.load_model("models:/langcpt-gguf@candidate").predict(["Hallo, wie geht es dir?"])
"""
from __future__ import annotations

from pathlib import Path

import mlflow
import mlflow.pyfunc
import yaml

from .fileio import InputError

MAX_TAG_VALUE = 5000  # MLflow's limit on a model version tag value


def _pins(*names: str) -> list[str]:
    from importlib.metadata import version

    return [f"{n}=={version(n)}" for n in names]


def register_transformers_model(model_dir: Path, name: str, run) -> int:
    """Log the checkpoint folder as an MLflow transformers model and register it as a new version of `name`."""
    info = mlflow.transformers.log_model(
        transformers_model=str(model_dir), name="model", task="text-generation",
        pip_requirements=_pins("torch", "transformers", "tokenizers", "safetensors"),
        registered_model_name=name)
    return int(info.registered_model_version)


class GGUFChatModel(mlflow.pyfunc.PythonModel):
    """A pyfunc that answers chat messages with llama.cpp from the logged GGUF file."""

    def load_context(self, context):
        from llama_cpp import Llama

        self.llm = Llama(model_path=context.artifacts["gguf"], n_ctx=2048, verbose=False)

    def predict(self, context, model_input, params=None):
        prompts = model_input if isinstance(model_input, list) else list(model_input.iloc[:, 0])
        max_tokens = int((params or {}).get("max_tokens", 128))
        out = []
        for p in prompts:
            r = self.llm.create_chat_completion(messages=[{"role": "user", "content": str(p)}], max_tokens=max_tokens,
                                                temperature=0.0)
            out.append(r["choices"][0]["message"]["content"])
        return out


def register_gguf(gguf_path: Path, modelfile: Path, name: str, extra_files: dict[str, Path] | None = None) -> int:
    """Log a GGUF file (the one the pyfunc chats with), its Modelfile and `extra_files` ({artifact key: path}, e.g.
    other quantizations) as a pyfunc model and register it as a new version of `name`."""
    artifacts = {"gguf": str(gguf_path), "modelfile": str(modelfile)}
    artifacts |= {k: str(v) for k, v in (extra_files or {}).items() if Path(v) != Path(gguf_path)}
    info = mlflow.pyfunc.log_model(
        name="gguf", python_model=GGUFChatModel(), artifacts=artifacts,
        pip_requirements=_pins("llama-cpp-python"), registered_model_name=name)
    return int(info.registered_model_version)


# ---------------------------------------------------------------- provenance tags and the alias
def dvc_lock_hashes(lock_path: str | Path, paths: list[str]) -> dict[str, str]:
    """md5 of each path as dvc.lock records it (a stage output, else a dependency); "unknown" if not recorded."""
    lock_path = Path(lock_path)
    stages = {}
    if lock_path.is_file():
        try:
            stages = (yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}).get("stages", {})
        except yaml.YAMLError as e:
            raise InputError(f"{lock_path}: not valid YAML ({e})") from e
    found: dict[str, str] = {}
    for kind in ("outs", "deps"):  # an output's hash is authoritative; a dependency's is the same file seen later
        for stage in stages.values():
            for entry in stage.get(kind) or []:
                path, md5 = entry.get("path"), entry.get("md5")
                if path in paths and md5 and path not in found:
                    found[path] = md5
    return {p: found.get(p, "unknown") for p in paths}


def gates_passed(evaluate_metrics: dict) -> tuple[bool, str]:
    """(passed, why) from the evaluate stage's metrics: `gates.passed` must be true; a missing key is not a pass."""
    gates = evaluate_metrics.get("gates")
    if not isinstance(gates, dict) or "passed" not in gates:
        return False, "reports/evaluate/metrics.json has no gates.passed: treated as not passed"
    if gates["passed"] is True:
        return True, "evaluate gates passed"
    failed = [k for k, v in gates.items() if isinstance(v, dict) and v.get("passed") is False]
    return False, "evaluate gates failed" + (f": {', '.join(failed)}" if failed else "")


def provenance_tags(git_commit: str, data_hashes: dict[str, str], evaluate_metrics: dict) -> dict[str, str]:
    """Model version tags: git_commit, dvc.<path> = md5 from dvc.lock, evaluate.<metric> (flattened)."""
    from .tracking import flatten

    tags = {"git_commit": git_commit}
    tags |= {f"dvc.{path}": md5 for path, md5 in data_hashes.items()}
    tags |= {f"evaluate.{k}": v for k, v in flatten(evaluate_metrics).items()}
    return {k: str(v)[:MAX_TAG_VALUE] for k, v in tags.items()}


def tag_version(name: str, version: int, tags: dict[str, str]) -> None:
    """Set `tags` on version `version` of registered model `name` (InputError if there is no such version)."""
    client = mlflow.MlflowClient()
    try:
        client.get_model_version(name, str(version))
    except mlflow.exceptions.MlflowException as e:
        raise InputError(f"registered model {name!r} has no version {version} in {mlflow.get_tracking_uri()}") from e
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, value)


def move_alias(name: str, version: int, alias: str, passed: bool) -> bool:
    """Point `alias` of `name` at `version` if `passed`; otherwise leave it where it is. Returns whether it moved."""
    if passed:
        mlflow.MlflowClient().set_registered_model_alias(name, alias, str(version))
    return passed


def alias_version(name: str, alias: str) -> int | None:
    """The version `alias` points at, or None."""
    try:
        return int(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None
