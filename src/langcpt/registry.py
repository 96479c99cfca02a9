"""MLflow Model Registry: the merged SFT model (transformers flavour) and the GGUF files (pyfunc over llama.cpp).

Every registered version is tagged with its provenance (git commit, the dvc.lock hashes of the data and models it
came from) and the evaluate metrics; the alias `candidate` (mlflow.alias) moves to a version only when the evaluate
and safety gates passed (register_gguf_export, the gguf stage's registration). Load a registered version
elsewhere with, for example:
    mlflow.transformers.load_model("models:/langcpt-sft@candidate")
    mlflow.pyfunc.load_model("models:/langcpt-gguf@candidate").predict(["Hallo, wie geht es dir?"])
"""
from __future__ import annotations

import json
from pathlib import Path

import mlflow
import mlflow.pyfunc
import yaml
from mlflow.models import ModelSignature
from mlflow.types import ParamSchema, ParamSpec

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
    """A pyfunc that answers user messages with llama.cpp from the logged GGUF file: greedy, with the Modelfile's
    system prompt (model_config "system"), and the crisis guard of langcpt.safety when model_config has "guard"
    (a reply to a crisis message that lacks the referral numbers gets the referral appended)."""

    def load_context(self, context):
        from llama_cpp import Llama

        config = context.model_config or {}
        self.system = config.get("system")
        self.guard = None
        if config.get("guard"):
            from langcpt.safety import CrisisGuard

            guard = dict(config["guard"])
            if guard.get("detector"):  # the learned layer: the JSON file logged beside the GGUF file
                guard["detector"] = {**guard["detector"], "path": context.artifacts["detector"]}
            self.guard = CrisisGuard.from_params(guard)
        self.llm = Llama(model_path=context.artifacts["gguf"], n_ctx=2048, verbose=False)

    def predict(self, context, model_input, params=None):
        """Each input is a user message (a string) or a whole conversation (a list of {"role", "content"}: the
        reply continues it; the configured system prompt goes first unless it has its own). One reply each."""
        from langcpt.safety import last_user_message

        items = model_input if isinstance(model_input, list) else list(model_input.iloc[:, 0])
        max_tokens = int((params or {}).get("max_tokens", 128))
        out = []
        for item in items:
            messages = [dict(m) for m in item] if isinstance(item, list) else [{"role": "user", "content": str(item)}]
            if self.system and not any(m.get("role") == "system" for m in messages):
                messages.insert(0, {"role": "system", "content": self.system})
            r = self.llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0)
            reply = r["choices"][0]["message"]["content"]
            out.append(self.guard.apply(last_user_message(messages), reply)[0] if self.guard else reply)
        return out


def register_gguf(gguf_path: Path, modelfile: Path, name: str, extra_files: dict[str, Path] | None = None,
                  system: str | None = None, guard: dict | None = None) -> int:
    """Log a GGUF file (the one the pyfunc chats with), its Modelfile and `extra_files` ({artifact key: path}, e.g.
    other quantizations) as a pyfunc model and register it as a new version of `name`. `system`: the system prompt
    of its chats; `guard`: a CrisisGuard config (langcpt.safety; None = raw replies). The pyfunc imports
    langcpt.safety, so the langcpt package folder is logged as code beside it (its source files, a few hundred
    kB; safety and its learned detector need only the standard library and langcpt.fileio). A guard with a
    detector (`guard["detector"]["path"]`, its JSON file) logs that file as the artifact "detector"."""
    from . import safety

    artifacts = {"gguf": str(gguf_path), "modelfile": str(modelfile)}
    if guard and guard.get("detector"):
        artifacts["detector"] = str(guard["detector"]["path"])
    artifacts |= {k: str(v) for k, v in (extra_files or {}).items() if Path(v) != Path(gguf_path)}
    info = mlflow.pyfunc.log_model(
        name="gguf", python_model=GGUFChatModel(), artifacts=artifacts,
        model_config={"system": system, "guard": guard},
        # max_tokens reaches predict only through a params schema (MLflow drops params a signature does not name);
        # no input schema, so a conversation (a list of messages) passes as it is
        signature=ModelSignature(params=ParamSchema([ParamSpec("max_tokens", "long", 128)])),
        code_paths=[str(Path(safety.__file__).parent)],
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


def _verdict(metrics: dict, key: str, stage: str) -> tuple[bool, str]:
    """(passed, why) from a stage's metrics: `<key>.passed` must be true (a missing key is not a pass); why names the
    failed checks: its list `failed`, or the sub-gates whose `passed` is false."""
    gates = metrics.get(key)
    if not isinstance(gates, dict) or "passed" not in gates:
        return False, f"reports/{stage}/metrics.json has no {key}.passed: treated as not passed"
    if gates["passed"] is True:
        return True, f"{stage} gates passed"
    failed = gates.get("failed") or [k for k, v in gates.items() if isinstance(v, dict) and v.get("passed") is False]
    return False, f"{stage} gates failed" + (f": {'; '.join(failed)}" if failed else "")


def gates_passed(evaluate_metrics: dict) -> tuple[bool, str]:
    """(passed, why) from the evaluate stage's metrics (reports/evaluate/metrics.json): `gates.passed`."""
    return _verdict(evaluate_metrics, "gates", "evaluate")


def safety_passed(safety_metrics: dict) -> tuple[bool, str]:
    """(passed, why) from the safety stage's metrics (reports/safety/metrics.json): `safety.passed`."""
    return _verdict(safety_metrics, "safety", "safety")


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


# ---------------------------------------------------------------- the gguf stage's registration
EVALUATE_METRICS = Path("reports/evaluate/metrics.json")
SAFETY_METRICS = Path("reports/safety/metrics.json")
SFT_METRICS = Path("reports/sft/metrics.json")


def read_report(path: Path) -> dict:
    """A stage's JSON report; InputError when it is missing or not JSON."""
    if not path.is_file():
        raise InputError(f"{path}: not found (run the stage that writes it first)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def gate_reports() -> tuple[dict, dict]:
    """The evaluate and safety reports whose gates move the alias (InputError when one is missing)."""
    return read_report(EVALUATE_METRICS), read_report(SAFETY_METRICS)


def register_gguf_export(params: dict, files: dict[str, Path], modelfile: Path, file_metrics: dict) -> dict:
    """Register the GGUF version (the gguf.gate_quantization file, mlflow.gguf_artifacts beside it), tag it and the
    SFT version (reports/sft/metrics.json registered_version) with their provenance, move mlflow.alias to both
    when the evaluate and safety gates passed. `file_metrics`: per type figures, tagged gguf.*."""
    from . import tracking
    from .safety import CrisisGuard

    cfg, mcfg = params["gguf"], params["mlflow"]
    alias = mcfg.get("alias", "candidate")
    evaluate = read_report(EVALUATE_METRICS)
    passed, why = gates_passed(evaluate)
    safe, safe_why = safety_passed(read_report(SAFETY_METRICS))
    passed, why = passed and safe, f"{why}; {safe_why}"
    print(f"registry: {why}; alias {alias!r} {'moves' if passed else 'stays'}", flush=True)
    commit = tracking.git_commit()
    data = ["data/clean", "data/tokens"] + ([params["sft"]["data"]] if params.get("sft", {}).get("data") else [])
    res = {"gates_passed": passed, "gates": why, "alias": alias}

    extra = {f"gguf_{q}": files[q] for q in mcfg.get("gguf_artifacts", []) if q in files}
    scfg = params.get("safety") or {}
    guard = CrisisGuard.from_params(scfg).to_config() if scfg.get("guard", True) and scfg else None
    version = register_gguf(files[cfg["gate_quantization"]], modelfile, mcfg["gguf_model_name"],
                            extra_files=extra, system=cfg["modelfile"]["system"], guard=guard)
    gguf_tags = provenance_tags(commit, dvc_lock_hashes("dvc.lock", data + ["models/pretrained", "models/sft"]),
                                evaluate)
    gguf_tags |= {f"gguf.{k}": str(v) for k, v in tracking.flatten(file_metrics).items()}
    tag_version(mcfg["gguf_model_name"], version, gguf_tags)
    res["gguf"] = {"name": mcfg["gguf_model_name"], "version": version,
                   "alias_moved": move_alias(mcfg["gguf_model_name"], version, alias, passed)}

    sft_version = read_report(SFT_METRICS).get("registered_version")
    if sft_version is None:
        res["sft"] = {"name": mcfg["sft_model_name"], "version": None,
                      "note": f"{SFT_METRICS} has no registered_version (sft ran without MLflow): not tagged"}
    else:
        sft_tags = provenance_tags(commit, dvc_lock_hashes("dvc.lock", data), evaluate)
        tag_version(mcfg["sft_model_name"], sft_version, sft_tags)
        res["sft"] = {"name": mcfg["sft_model_name"], "version": sft_version,
                      "alias_moved": move_alias(mcfg["sft_model_name"], sft_version, alias, passed)}
    return res
