import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from langcpt.fileio import InputError
from langcpt.params import load_params, merge, section


def test_merge_is_deep_and_rejects_unknown_keys():
    base = {"pretrain": {"lr": 1, "lora": {"r": 8, "alpha": 8}}}
    assert merge(base, {"pretrain": {"lora": {"r": 64}}}) == {"pretrain": {"lr": 1, "lora": {"r": 64, "alpha": 8}}}
    with pytest.raises(InputError, match="pretrain.lora.rank"):
        merge(base, {"pretrain": {"lora": {"rank": 64}}})


def test_section_names_missing_keys(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("base: {source: local}\n")
    with pytest.raises(InputError, match="base.path"):
        section(load_params(p), "base", required=("source", "path"))
    with pytest.raises(InputError, match="section `sft`"):
        section(load_params(p), "sft")


def test_every_profile_applies_to_the_repo_params(tmp_path):
    for profile in sorted((REPO / "profiles").glob("*.yaml")):
        out = tmp_path / f"{profile.stem}.yaml"
        proc = subprocess.run([sys.executable, "pipelines/apply_profile.py", str(profile), "--out", str(out)],
                              cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        merged = yaml.safe_load(out.read_text())
        assert merged.keys() == yaml.safe_load((REPO / "params.yaml").read_text()).keys()


def test_bad_profile_key_exits_nonzero_with_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pretrain: {learning_rat: 1.0}\n")
    proc = subprocess.run([sys.executable, "pipelines/apply_profile.py", str(bad), "--out", str(tmp_path / "o.yaml")],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1 and "pretrain.learning_rat" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.yaml").exists()
