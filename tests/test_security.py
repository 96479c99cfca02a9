"""Security: no code from a model folder runs, nothing is unpickled from it, params paths stay in the repository,
secrets stay out of messages, and servers the project starts listen on loopback only.

Behavioural where it can be: a model folder whose config asks for its own Python code, or that holds pickles
which would write a marker file when unpickled, goes through the real `base` stage, and the marker must not
appear; the loaders of the later stages refuse a folder whose weights are only a pickle.
"""
from __future__ import annotations

import ast
import json
import os
import pickle
import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO, make_tiny_model_dir
from test_bad_input import assert_fails_cleanly, make_repo, run


class _Marker:
    """Unpickling this object runs os.system(...), which creates the marker file: proof that a pickle was loaded."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def poison_pickles(folder: Path, marker: Path) -> None:
    """Every weight-file name transformers would unpickle, each a pickle that creates `marker` when loaded."""
    for name in ("pytorch_model.bin", "training_args.bin", "optimizer.pt"):
        (folder / name).write_bytes(pickle.dumps(_Marker(marker)))


def test_base_stage_never_unpickles_a_model_folder(tmp_path, smollm2_tokenizer):
    root = make_repo(tmp_path, base={"source": "local", "path": "models/mine"})
    folder = make_tiny_model_dir(root / "models/mine", smollm2_tokenizer)
    marker = tmp_path / "unpickled"
    poison_pickles(folder, marker)
    proc = run("base", root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not marker.exists()
    assert sorted(p.name for p in (root / "models/base").glob("*.bin")) == []  # only safetensors come out


def pickled_only(folder: Path) -> Path:
    """A model folder whose weights are a valid pytorch_model.bin (a pickle) and no safetensors."""
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    return folder


def test_stage_loaders_refuse_pickled_weights(tmp_path, smollm2_tokenizer):
    """The loaders of pretrain/sft (langcpt.training) and evaluate (langcpt.evaluation) load safetensors only: a
    folder holding valid weights as a pickle is refused, not loaded."""
    from langcpt.evaluation import load_model
    from langcpt.training import load_lora_model

    folder = pickled_only(make_tiny_model_dir(tmp_path / "m", smollm2_tokenizer))
    with pytest.raises(OSError, match="safetensors"):
        load_model(folder)
    with pytest.raises(OSError, match="safetensors"):
        load_lora_model(folder, {"r": 2, "alpha": 2, "dropout": 0.0, "rslora": True}, "hf", 64, False)


def test_a_model_folder_asking_for_its_own_code_is_refused_and_the_code_never_runs(tmp_path, smollm2_tokenizer):
    root = make_repo(tmp_path, base={"source": "local", "path": "models/custom"})
    folder = make_tiny_model_dir(root / "models/custom", smollm2_tokenizer)
    marker = tmp_path / "remote_code_ran"
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (folder / "configuration_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(model_type="evil", auto_map={"AutoConfig": "configuration_evil.EvilConfig",
                                            "AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"})
    (folder / "config.json").write_text(json.dumps(cfg))
    assert_fails_cleanly("base", root, "base.path: models/custom could not be loaded as a model")
    assert not marker.exists()


def _calls(name: str):
    """(file, ast.Call) for every call of `<anything>.name(...)` in src/ and pipelines/."""
    for path in sorted([*(REPO / "src").rglob("*.py"), *(REPO / "pipelines").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
                yield path.relative_to(REPO), node


def test_no_call_turns_trust_remote_code_on():
    calls = list(_calls("from_pretrained"))
    assert len(calls) >= 5  # the scan sees the loaders
    for path, call in calls:
        for kw in call.keywords:
            if kw.arg == "trust_remote_code":
                assert isinstance(kw.value, ast.Constant) and kw.value.value is False, f"{path}:{call.lineno}"


def test_params_paths_outside_the_repo_are_refused_by_the_stages(tmp_path):
    source = {"name": "etc", "kind": "local", "path": "/etc", "format": "auto", "max_docs": None}
    root = make_repo(tmp_path, ingest={"target_sources": [source]})
    assert_fails_cleanly("ingest", root, "ingest.target_sources[0].path: '/etc' is outside the repository",
                         "paths.allow_outside_repo")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["sft"]["data"] = "../../secrets.jsonl"
    params["ingest"]["target_sources"][0]["path"] = "corpus"
    (root / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    assert_fails_cleanly("sft", root, "sft.data: '../../secrets.jsonl' is outside the repository")


def test_redis_password_never_reaches_the_error_message(tmp_path):
    root = make_repo(tmp_path, clean={"lsh_storage": "redis", "redis_url": "redis://:S3cr3tPw@127.0.0.1:9/0"})
    (root / "data/raw").mkdir(parents=True)
    for split in ("target", "general"):
        (root / f"data/raw/{split}.jsonl").write_text(json.dumps({"text": "Ein kurzer Text.", "source": "s"}) + "\n")
    proc = assert_fails_cleanly("dedup_clean", root, "clean.redis_url: cannot use Redis at 'redis://:***@127.0.0.1:9/0'")
    assert "S3cr3tPw" not in proc.stderr + proc.stdout


def test_secrets_in_urls_are_redacted():
    from langcpt.fileio import redact

    assert redact("s3://key:secret@host/b and redis://:pw@h:1/0, https://h/x") == \
        "s3://key:***@host/b and redis://:***@h:1/0, https://h/x"


def test_mlflow_servers_the_project_starts_listen_on_loopback():
    """Every `mlflow server` / `mlflow ui` the project runs or documents names --host 127.0.0.1 (MLflow's own
    default is 127.0.0.1 too; 0.0.0.0 would expose the tracking store to the network)."""
    texts = {p: p.read_text(encoding="utf-8") for p in [REPO / "README.md", *(REPO / "docs").glob("*.md"),
                                                        REPO / "Makefile", *(REPO / "scripts").glob("*"),
                                                        *(REPO / "tests").glob("*.py"),
                                                        *(REPO / "src").rglob("*.py"), *(REPO / "pipelines").glob("*.py")]
             if p.is_file() and p.name not in ("test_security.py", "test_server.py")}  # these two test that the
    # wildcard address is refused (test_server.py: the chat server exits 1 on --host 0.0.0.0 without --allow-remote)
    found = 0
    for path, text in texts.items():
        assert "0.0.0.0" not in text, path
        for m in re.finditer(r"mlflow\W+(?:server|ui)\b(?![`'\"]).{0,400}", text, flags=re.S):
            block = m.group(0)
            if "--backend-store-uri" in block or "--port" in block or "--host" in block:
                found += 1
                assert "127.0.0.1" in block, (path, block[:200])
    assert found >= 1
