"""MLflow Model Registry against a real sqlite store in a temp dir: provenance tags from the real dvc.lock format,
the alias that moves only when evaluate's gates passed, and loading a registered version by alias."""
from __future__ import annotations

import json

import pytest
import yaml

from conftest import REPO, make_tiny_model_dir
from langcpt.fileio import InputError

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("llama_cpp")
from langcpt import registry  # noqa: E402  (imports mlflow)

EVALUATE = {"base": {"target_perplexity": 107.7}, "sft": {"target_perplexity": 52.75, "general_perplexity": 44.15},
            "target_perplexity_change": -0.54, "gates": {"passed": True}}


@pytest.fixture()
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # artifacts (./mlruns) stay in the temp dir
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


# ---------------------------------------------------------------- provenance
def test_dvc_lock_hashes_match_the_repository_lock():
    lock = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    want = {o["path"]: o["md5"] for s in lock.values() for o in s.get("outs", [])}
    paths = ["data/tokens", "data/clean", "models/pretrained"]
    got = registry.dvc_lock_hashes(REPO / "dvc.lock", paths + ["no/such/path"])
    assert got == {**{p: want[p] for p in paths}, "no/such/path": "unknown"}
    assert all(v.endswith(".dir") for k, v in got.items() if k != "no/such/path")
    sft_data = next(d for d in lock["sft"]["deps"] if d["path"].endswith(".jsonl"))  # a dependency only
    assert registry.dvc_lock_hashes(REPO / "dvc.lock", [sft_data["path"]]) == {sft_data["path"]: sft_data["md5"]}


def test_dvc_lock_missing_or_bad(tmp_path):
    assert registry.dvc_lock_hashes(tmp_path / "dvc.lock", ["data/tokens"]) == {"data/tokens": "unknown"}
    (tmp_path / "dvc.lock").write_text("stages: [unclosed")
    with pytest.raises(InputError, match="dvc.lock"):
        registry.dvc_lock_hashes(tmp_path / "dvc.lock", ["data/tokens"])


def test_gates_passed():
    assert registry.gates_passed(EVALUATE) == (True, "evaluate gates passed")
    passed, why = registry.gates_passed({"sft": {}})
    assert not passed and "no gates.passed" in why and "not passed" in why
    passed, why = registry.gates_passed({"gates": {"passed": False, "forgetting": {"passed": False},
                                                   "target": {"passed": True}}})
    assert not passed and why.endswith("failed: forgetting")
    assert registry.gates_passed({"gates": {"passed": "yes"}})[0] is False  # only a real true passes


def test_provenance_tags_are_flat_strings():
    tags = registry.provenance_tags("abc123", {"data/tokens": "f00.dir"}, EVALUATE)
    assert tags["git_commit"] == "abc123" and tags["dvc.data/tokens"] == "f00.dir"
    assert tags["evaluate.sft.target_perplexity"] == "52.75" and tags["evaluate.gates.passed"] == "True"
    assert all(isinstance(v, str) and len(v) <= registry.MAX_TAG_VALUE for v in tags.values())


# ---------------------------------------------------------------- registry round trip
@pytest.fixture(scope="module")
def tiny(tmp_path_factory, smollm2_tokenizer):
    """A tiny random Llama (real SmolLM2 tokenizer) and its f16 GGUF."""
    from langcpt.gguf_export import convert_to_gguf, modelfile_from_chat_template

    root = tmp_path_factory.mktemp("registry")
    hf = make_tiny_model_dir(root / "hf", smollm2_tokenizer)
    gguf = convert_to_gguf(hf, root / "model-f16.gguf")
    (root / "Modelfile").write_text(modelfile_from_chat_template(smollm2_tokenizer, gguf.name))
    return {"hf": hf, "gguf": gguf, "modelfile": root / "Modelfile"}


def test_register_tag_alias_and_load_by_alias(store, tiny):
    client = mlflow.MlflowClient()
    with mlflow.start_run() as run:
        sft1 = registry.register_transformers_model(tiny["hf"], "t-sft", run)
        gguf1 = registry.register_gguf(tiny["gguf"], tiny["modelfile"], "t-gguf",
                                       extra_files={"gguf_f16_copy": tiny["gguf"], "gguf_other": tiny["modelfile"]})
    assert (sft1, gguf1) == (1, 1)
    tags = registry.provenance_tags("abc123", {"data/tokens": "f00.dir"}, EVALUATE)
    registry.tag_version("t-sft", sft1, tags)
    assert client.get_model_version("t-sft", "1").tags == tags
    with pytest.raises(InputError, match="no version 7"):
        registry.tag_version("t-sft", 7, tags)

    # Gates failed: no alias. Passed: alias on the version. A later failed version leaves it where it was.
    assert registry.move_alias("t-gguf", gguf1, "candidate", passed=False) is False
    assert registry.alias_version("t-gguf", "candidate") is None
    assert registry.move_alias("t-gguf", gguf1, "candidate", passed=True) is True
    registry.move_alias("t-sft", sft1, "candidate", passed=True)
    with mlflow.start_run():
        gguf2 = registry.register_gguf(tiny["gguf"], tiny["modelfile"], "t-gguf")
    assert gguf2 == 2 and registry.move_alias("t-gguf", gguf2, "candidate", passed=False) is False
    assert registry.alias_version("t-gguf", "candidate") == 1

    # Load by alias, as the README shows.
    model = mlflow.pyfunc.load_model("models:/t-gguf@candidate")
    out = model.predict(["Hallo"])
    assert len(out) == 1 and isinstance(out[0], str)
    artifacts = mlflow.artifacts.download_artifacts("models:/t-gguf@candidate")
    files = {p.name for p in __import__("pathlib").Path(artifacts).rglob("*") if p.is_file()}
    assert {"model-f16.gguf", "Modelfile"} <= files
    pipe = mlflow.transformers.load_model("models:/t-sft@candidate")
    assert pipe.model.config.num_hidden_layers == 2
    reply = pipe([{"role": "user", "content": "Hallo"}], max_new_tokens=3)
    assert reply[0]["generated_text"][-1]["role"] == "assistant"
    json.dumps(client.get_model_version_by_alias("t-sft", "candidate").tags)  # tags are plain strings


def test_safety_passed():
    assert registry.safety_passed({"safety": {"passed": True, "failed": []}}) == (True, "safety gates passed")
    passed, why = registry.safety_passed({"safety": {"passed": False, "failed": ["recall 0.5 < 1.0"]}})
    assert not passed and why == "safety gates failed: recall 0.5 < 1.0"
    assert registry.safety_passed({})[0] is False and registry.safety_passed({"safety": {"passed": 1}})[0] is False


def test_registered_pyfunc_applies_the_crisis_guard(store, tiny):
    """The pyfunc loaded by alias answers with llama.cpp and appends the referral to a crisis reply (a tiny random
    model never writes it), the check-in to a reply in the check-in tier; a message that is not a crisis stays the
    model's own reply, the same as without guard."""
    from langcpt.safety import CrisisGuard

    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["safety"]
    guard = CrisisGuard.from_params(params, root=REPO)
    with mlflow.start_run():
        guarded = registry.register_gguf(tiny["gguf"], tiny["modelfile"], "t-guard", system="Du hörst zu.",
                                         guard=guard.to_config())
        raw = registry.register_gguf(tiny["gguf"], tiny["modelfile"], "t-raw", system="Du hörst zu.")
    registry.move_alias("t-guard", guarded, "candidate", passed=True)
    registry.move_alias("t-raw", raw, "candidate", passed=True)
    with_guard = mlflow.pyfunc.load_model("models:/t-guard@candidate")
    without = mlflow.pyfunc.load_model("models:/t-raw@candidate")
    # a crisis message (emergency referral), a calm one, one between the detector's thresholds (the check-in tier)
    messages = ["Ich will einfach nicht mehr leben.", "Ich bin heute müde.", "Ich habe einfach keine Energie mehr."]
    a, b = with_guard.predict(messages, params={"max_tokens": 8}), without.predict(messages, params={"max_tokens": 8})
    assert not guard.has_referral(b[0]) and a[0].endswith(params["referral"]) and a[0].startswith(b[0].strip())
    assert a[1] == b[1] and not a[1].endswith(params["referral"])
    assert guard.detect(messages[2])["tier"] == "check_in" and a[2].startswith(b[2].strip())
    assert a[2].endswith(params["check_in"]["text"]) and "112" not in a[2][len(b[2].strip()):]
    # A whole conversation (MLflow serving's multi-turn input) is continued as one, after the system prompt, and
    # the guard checks its last user message: a crisis said earlier (and answered) does not flag a calm reply.
    # params max_tokens reaches predict (the same 8 tokens as llama.cpp called directly).
    crisis = [{"role": "user", "content": "Hallo."}, {"role": "assistant", "content": "Hallo, ich höre dir zu."},
              {"role": "user", "content": messages[0]}]
    calm = crisis + [{"role": "assistant", "content": params["referral"]}, {"role": "user", "content": "Danke."}]
    c, d = (m.predict([crisis, calm], params={"max_tokens": 8}) for m in (with_guard, without))
    from llama_cpp import Llama

    llm = Llama(model_path=str(tiny["gguf"]), n_ctx=2048, verbose=False)
    direct = llm.create_chat_completion(messages=[{"role": "system", "content": "Du hörst zu."}] + crisis,
                                        max_tokens=8, temperature=0.0)["choices"][0]["message"]["content"]
    assert d[0] == direct and not guard.has_referral(d[0])
    assert c[0].endswith(params["referral"]) and c[0].startswith(d[0].strip())
    assert c[1] == d[1] and not c[1].endswith(params["referral"])
