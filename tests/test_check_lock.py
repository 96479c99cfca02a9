"""scripts/check_lock.py on a real DVC project: a temp git repository with a 2-stage pipeline built by `dvc repro`
(a folder output, a folder of code as a dependency, a file inside the produced folder as a dependency, whole-section
and dotted params, a committed metrics file). The committed lock passes, in the repository and in a fresh clone
without the DVC cache or any output; each kind of edit made without rerunning fails, naming its stage and the file
or param; the pre-commit hook refuses a commit of a stale dvc.lock and lets the rerun's through."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, commit, run

SCRIPT = REPO / "scripts" / "check_lock.py"
GEN = """import json, pathlib, yaml
from lib.words import WORDS
n = yaml.safe_load(open("params.yaml"))["gen"]["n"]
out = pathlib.Path("data/out"); out.mkdir(parents=True, exist_ok=True)
(out / "a.txt").write_text(" ".join(WORDS[:n]))
(out / "b.txt").write_text(str(n))
"""
USE = """import json, pathlib, yaml
scale = yaml.safe_load(open("params.yaml"))["use"]["scale"]
text = pathlib.Path("data/out/a.txt").read_text()
pathlib.Path("metrics.json").write_text(json.dumps({"chars": len(text) * scale}))
"""
DVC_YAML = {"stages": {
    "gen": {"cmd": "python gen.py", "deps": ["gen.py", "lib"], "params": ["gen"], "outs": ["data/out"]},
    "use": {"cmd": "python use.py", "deps": ["use.py", "data/out", "data/out/a.txt"], "params": ["use.scale"],
            "metrics": [{"metrics.json": {"cache": False}}]},
}}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The built and committed project; each test works on its own clone (`clone`)."""
    root = tmp_path_factory.mktemp("lock") / "origin"
    (root / "lib").mkdir(parents=True)
    (root / "lib/__init__.py").write_text("")
    (root / "lib/words.py").write_text("WORDS = ['eins', 'zwei', 'drei', 'vier']\n")
    (root / "gen.py").write_text(GEN)
    (root / "use.py").write_text(USE)
    (root / "params.yaml").write_text("gen:\n  n: 2\n  unused: x\nuse:\n  scale: 3\n  other: 1\n")
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    (root / "scripts").mkdir()
    for script in ("check_lock.py", "pre-commit"):  # what the hook runs, as in this repository
        shutil.copy2(REPO / "scripts" / script, root / "scripts" / script)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run(["git", "init", "-q", "-b", "main"], root, env)
    run(["dvc", "init", "-q"], root, env)
    run(["dvc", "config", "core.analytics", "false"], root, env)
    out = run(["dvc", "repro"], root, env)
    assert "Running stage 'gen'" in out.stdout and "Running stage 'use'" in out.stdout
    commit(root, env, "built")
    return {"path": root, "env": env}


def clone(project, dst: Path, with_cache: bool = True) -> Path:
    """A git clone of the project; with_cache: its DVC cache and outputs too (`dvc checkout`), as where it ran."""
    run(["git", "clone", "-q", str(project["path"]), str(dst)], dst.parent, project["env"])
    if with_cache:
        shutil.copytree(project["path"] / ".dvc/cache", dst / ".dvc/cache")
        run(["dvc", "checkout", "-q"], dst, project["env"])
    return dst


def check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "-C", str(root), *args], capture_output=True, text=True)


def stale(proc) -> list[str]:
    """The problem lines of a failed check (`stage '<name>': ...`)."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    return proc.stdout.splitlines()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_built_lock_passes_where_it_ran_and_in_a_fresh_clone_without_cache(project, tmp_path):
    here = check(project["path"])
    assert here.returncode == 0 and "2 stage(s) checked" in here.stdout, (here.stdout, here.stderr)
    assert "not checked" not in here.stderr  # the cache holds data/out's listing: data/out/a.txt was checked
    fresh = clone(project, tmp_path / "fresh", with_cache=False)
    assert not (fresh / "data/out").exists() and not (fresh / ".dvc/cache").exists()
    proc = check(fresh)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    # without the cache, the file inside the produced folder is named as not checked (not as stale)
    assert "use: data/out/a.txt" in proc.stderr
    # DVC itself agrees that nothing but the missing outputs differs (its .dir hash of lib/ is ours)
    status = run(["dvc", "status", "--json"], project["path"], project["env"]).stdout
    assert status.strip() in ("{}", "")


def test_edited_code_params_and_committed_outputs_fail_naming_them(project, tmp_path):
    root = clone(project, tmp_path / "c", with_cache=False)
    recorded = {d["path"]: d["md5"] for d in yaml.safe_load((root / "dvc.lock").read_text())["stages"]["use"]["deps"]}
    (root / "use.py").write_text(USE + "# a change after the run\n")
    now = hashlib.md5((root / "use.py").read_bytes()).hexdigest()
    assert stale(check(root)) == [
        f"stage 'use': dep use.py: changed since the recorded run (md5 {now}, dvc.lock has {recorded['use.py']})"]
    run(["git", "checkout", "use.py"], root, project["env"])

    edit(root / "params.yaml", "scale: 3", "scale: 4")
    assert stale(check(root)) == ["stage 'use': param use.scale: 4 in params.yaml, dvc.lock recorded 3"]
    edit(root / "params.yaml", "scale: 4", "scale: 3")
    edit(root / "params.yaml", "other: 1", "other: 2")  # a key no stage reads: still fresh
    assert check(root).returncode == 0
    edit(root / "params.yaml", "unused: x", "unused: y")  # inside the section `gen` depends on as a whole
    assert stale(check(root)) == ['stage \'gen\': param gen.unused: "y" in params.yaml, dvc.lock recorded "x"']
    run(["git", "checkout", "params.yaml"], root, project["env"])

    (root / "lib/words.py").write_text("WORDS = ['one', 'two', 'three', 'four']\n")  # inside a folder dependency
    assert [ln.split(": changed")[0] for ln in stale(check(root))] == ["stage 'gen': dep lib"]
    run(["git", "checkout", "lib"], root, project["env"])
    (root / "lib/extra.py").write_text("X = 1\n")  # an untracked file: not what a clone has, not counted
    assert check(root).returncode == 0
    run(["git", "add", "lib/extra.py"], root, project["env"])  # tracked: part of the folder dependency now
    assert [ln.split(": changed")[0] for ln in stale(check(root))] == ["stage 'gen': dep lib"]
    run(["git", "rm", "-q", "--cached", "lib/extra.py"], root, project["env"])

    (root / "metrics.json").write_text('{"chars": 1}')  # a committed report the recorded run did not write
    assert [ln.split(": the committed")[0] for ln in stale(check(root))] == ["stage 'use': out metrics.json"]
    run(["git", "checkout", "metrics.json"], root, project["env"])
    assert check(root).returncode == 0


def test_dvc_yaml_changes_without_a_run_fail(project, tmp_path):
    root = clone(project, tmp_path / "c", with_cache=False)
    stages = yaml.safe_load((root / "dvc.yaml").read_text())
    stages["stages"]["use"]["cmd"] = "python use.py --fast"
    stages["stages"]["use"]["deps"].append("gen.py")
    stages["stages"]["use"]["params"].append("use.other")
    stages["stages"]["new"] = {"cmd": "python use.py", "deps": ["use.py"]}
    (root / "dvc.yaml").write_text(yaml.safe_dump(stages, sort_keys=False))
    assert sorted(stale(check(root))) == [
        "stage 'new': not in dvc.lock (the stage never ran, or its run was not committed)",
        "stage 'use': cmd 'python use.py --fast' differs from the recorded 'python use.py'",
        "stage 'use': dep gen.py: in dvc.yaml, not recorded in dvc.lock",
        "stage 'use': param use.other: in dvc.yaml, not recorded in dvc.lock"]
    del stages["stages"]["new"], stages["stages"]["use"]
    (root / "dvc.yaml").write_text(yaml.safe_dump(stages, sort_keys=False))
    assert stale(check(root)) == ["stage 'use': in dvc.lock, no longer a stage of its dvc.yaml"]


def test_a_consumer_not_rerun_after_its_producer_fails(project, tmp_path):
    """`dvc repro gen` alone after a params change: gen's record is fresh, use ran on the old data/out."""
    root = clone(project, tmp_path / "c")
    edit(root / "params.yaml", "n: 2", "n: 3")
    run(["dvc", "repro", "-s", "gen"], root, project["env"])
    lines = stale(check(root))
    assert [ln.split(": recorded md5")[0] for ln in lines] == ["stage 'use': dep data/out", "stage 'use': dep data/out/a.txt"]
    assert all("stage 'gen' last produced" in ln for ln in lines)
    # where the cache is gone, the folder's own hash still shows it; the file inside it cannot be checked
    shutil.rmtree(root / ".dvc/cache")
    assert [ln.split(": recorded md5")[0] for ln in stale(check(root))] == ["stage 'use': dep data/out"]
    run(["dvc", "repro"], root, project["env"])  # the rerun of use makes the lock whole again
    assert check(root).returncode == 0


def test_staged_and_rev_check_what_git_holds_and_the_hook_guards_commits(project, tmp_path):
    root = clone(project, tmp_path / "c")
    env = project["env"]
    (root / ".git/hooks/pre-commit").symlink_to(root / "scripts/pre-commit")  # README's install line
    edit(root / "params.yaml", "n: 2", "n: 3")
    run(["dvc", "repro", "-s", "gen"], root, env)  # dvc.lock changes, use is stale
    assert check(root).returncode == 1
    assert check(root, "--staged").returncode == 0  # nothing staged yet: the index is the fresh HEAD
    run(["git", "add", "-A"], root, env)
    assert [ln.split(":")[0] for ln in stale(check(root, "--staged"))] == ["stage 'use'", "stage 'use'"]
    refused = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "stale"],
                             cwd=root, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "stage 'use': dep data/out" in refused.stdout + refused.stderr
    run(["dvc", "repro"], root, env)
    commit(root, env, "rerun")  # the hook runs again and passes
    assert check(root, "--rev", "HEAD").returncode == 0
    # a commit that touches only code does not run the hook (dvc.lock not staged); --rev finds it stale
    (root / "use.py").write_text(USE + "# later\n")
    commit(root, env, "code only")
    assert [ln.split(": changed")[0] for ln in stale(check(root, "--rev", "HEAD"))] == ["stage 'use': dep use.py"]
    assert check(root, "--rev", "HEAD~1").returncode == 0
