"""Is the committed dvc.lock the record of the committed code and params? Exit 1, naming each stale stage and file
or param, when it is not. Needs no DVC cache and no built output: it works on a fresh clone (CI).

    python scripts/check_lock.py             # the working tree's files that git tracks (`make check-lock`)
    python scripts/check_lock.py --staged    # what the next commit holds (the index; scripts/pre-commit)
    python scripts/check_lock.py --rev HEAD  # a commit

For every stage of dvc.yaml (resolved by DVC itself: templating, foreach) against its dvc.lock entry:
- the stage is in dvc.lock, with the same cmd, the same deps, params keys and outs;
- each dependency that no stage produces (code, committed data) is tracked by git and its md5, computed the way DVC
  does (DVC 3: md5 of the bytes; a folder: the md5 of its .dir listing), is the one dvc.lock records;
- each dependency another stage produces (data, models, reports) has the md5 that stage's dvc.lock entry records for
  that output: otherwise the consumer ran on an older output and was not rerun. A file inside a produced folder
  (models/base/tokenizer.json) is checked through the folder's .dir listing when the DVC cache holds it, else
  counted as not checked;
- each params value equals params.yaml's (or the named params file's);
- each output that git tracks (metrics, plots: `cache: false`) has the md5 dvc.lock records, so the committed
  reports are the ones the recorded run wrote.
Frozen stages are not checked (DVC does not rerun them either).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path, PurePosixPath

MISSING = object()


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def file_md5(path: Path, dos2unix: bool = False) -> str:
    """DVC's md5 of a file: of its bytes (`hash: md5`, DVC 3); dvc.lock entries without `hash:` are DVC 2's, which
    hashed text files with CRLF turned into LF."""
    data = path.read_bytes()
    if dos2unix and b"\x00" not in data[:8000]:
        data = data.replace(b"\r\n", b"\n")
    return hashlib.md5(data).hexdigest()


def dir_md5(root: Path, rel: str, files: list[str], dos2unix: bool = False) -> str:
    """DVC's md5 of a folder: that of its .dir listing (relpath and md5 of every file), built by dvc_data."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.meta import Meta
    from dvc_data.hashfile.tree import Tree

    tree = Tree()
    for f in files:
        key = tuple(PurePosixPath(f).relative_to(rel).parts)
        tree.add(key, Meta(size=(root / f).stat().st_size), HashInfo("md5", file_md5(root / f, dos2unix)))
    tree.digest()
    return tree.hash_info.value


def param_value(params: dict, key: str):
    value = params
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def differences(key: str, now, then) -> list[tuple]:
    """(dotted key, value now, recorded value) of every leaf where two params values differ."""
    if isinstance(now, dict) and isinstance(then, dict):
        return [d for k in list(now) + [k for k in then if k not in now]
                for d in differences(f"{key}.{k}", now.get(k, MISSING), then.get(k, MISSING))]
    return [] if now == then else [(key, now, then)]


def show(value) -> str:
    return "(absent)" if value is MISSING else json.dumps(value, ensure_ascii=False, default=str)[:200]


class Checker:
    """The checks on one tree of files (`root`), `tracked` naming the files git has (repository-relative posix)."""

    def __init__(self, root: Path, tracked: set[str], cache: Path | None):
        self.root, self.tracked, self.cache = root, tracked, cache
        self.problems = defaultdict(list)  # stage name -> messages
        self.unchecked = []  # deps inside produced folders whose .dir listing is not in the cache
        self.checked = 0  # stages checked (frozen ones are not)

    def rel(self, wdir: str, path: str) -> str:
        """`path` of a stage in `wdir` (both relative to the root) as a repository path."""
        return PurePosixPath(os.path.normpath(os.path.join(wdir, path))).as_posix()

    def tracked_under(self, rel: str) -> list[str]:
        prefix = rel.rstrip("/") + "/"
        return sorted(f for f in self.tracked if f.startswith(prefix))

    def actual_md5(self, rel: str, dos2unix: bool) -> str | None:
        """The md5 of `rel` as git has it (a file or a folder of tracked files), None when git has neither."""
        if rel in self.tracked and (self.root / rel).is_file():
            return file_md5(self.root / rel, dos2unix)
        files = [f for f in self.tracked_under(rel) if (self.root / f).is_file()]
        return dir_md5(self.root, rel, files, dos2unix) if files else None

    def listing(self, dir_hash: str) -> dict | None:
        """{relpath: md5} of a .dir object in the DVC cache, None when the cache lacks it."""
        if self.cache is None:
            return None
        obj = self.cache / dir_hash[:2] / dir_hash[2:]
        if not obj.is_file():
            return None
        return {e["relpath"]: e["md5"] for e in json.loads(obj.read_text())}

    def run(self, stages: list, locks: dict) -> None:
        # outputs: repository path -> (producing stage or .dvc file, its recorded entry or None when it has none)
        produced = {}
        for s in stages:
            if s["kind"] == "pipeline":
                recorded = (locks[s["lock"]].get(s["name"]) or {}).get("outs", [])
                s["out_entries"] = {self.rel(s["wdir"], o["path"]): o for o in recorded}
            for out in s["outs"]:
                produced[out] = (s["name"], s["out_entries"].get(out))
        pipeline = [s for s in stages if s["kind"] == "pipeline"]
        for s in pipeline:
            if not s["frozen"]:
                self.checked += 1
                self.check_stage(s, locks[s["lock"]], produced)
        for lockfile, lock in locks.items():
            names = {s["name"] for s in pipeline if s["lock"] == lockfile}
            for name in sorted(set(lock) - names):
                self.problems[name].append(f"in {lockfile}, no longer a stage of its dvc.yaml")

    def check_stage(self, s: dict, lock: dict, produced: dict) -> None:
        name, bad = s["name"], self.problems[s["name"]]
        entry = lock.get(name)
        if entry is None:
            bad.append(f"not in {s['lock']} (the stage never ran, or its run was not committed)")
            return
        if entry.get("cmd") != s["cmd"]:
            bad.append(f"cmd {s['cmd']!r} differs from the recorded {entry.get('cmd')!r}")
        lock_deps = {self.rel(s["wdir"], d["path"]): d for d in entry.get("deps", [])}
        for dep in s["deps"]:
            if dep not in lock_deps:
                bad.append(f"dep {dep}: in dvc.yaml, not recorded in {s['lock']}")
                continue
            self.check_dep(name, dep, lock_deps[dep], produced)
        for dep in sorted(set(lock_deps) - set(s["deps"])):
            bad.append(f"dep {dep}: recorded in {s['lock']}, no longer in dvc.yaml")
        self.check_params(s, entry.get("params", {}))
        lock_outs = {self.rel(s["wdir"], o["path"]): o for o in entry.get("outs", [])}
        for out in s["outs"]:
            if out not in lock_outs:
                bad.append(f"out {out}: in dvc.yaml, not recorded in {s['lock']}")
            elif out in self.tracked:  # committed with the lock (cache: false): must be what the run wrote
                rec = lock_outs[out]
                actual = file_md5(self.root / out, "hash" not in rec)
                if actual != rec.get("md5"):
                    bad.append(f"out {out}: the committed file is not the one the recorded run wrote "
                               f"(md5 {actual}, dvc.lock has {rec.get('md5')})")
        for out in sorted(set(lock_outs) - set(s["outs"])):
            bad.append(f"out {out}: recorded in {s['lock']}, no longer in dvc.yaml")

    def check_dep(self, name: str, dep: str, rec: dict, produced: dict) -> None:
        bad, want = self.problems[name], rec.get("md5")
        if dep in produced:
            producer, out = produced[dep]
            if out is None:
                bad.append(f"dep {dep}: produced by stage '{producer}', which has no dvc.lock entry")
            elif out.get("md5") != want:
                bad.append(f"dep {dep}: recorded md5 {want}, but stage '{producer}' last produced {out.get('md5')} "
                           f"('{name}' ran on an older {dep})")
            return
        parent = next((p for p in produced if dep.startswith(p.rstrip("/") + "/")), None)
        if parent is not None:
            producer, out = produced[parent]
            if out is None:
                bad.append(f"dep {dep}: inside {parent}, produced by stage '{producer}', which has no dvc.lock entry")
                return
            listing = self.listing(str(out.get("md5", "")))
            got = None if listing is None else listing.get(dep[len(parent.rstrip("/")) + 1:], "(no such file)")
            if listing is None:
                self.unchecked.append(f"{name}: {dep}")
            elif got != want:
                bad.append(f"dep {dep}: recorded md5 {want}, but stage '{producer}' last produced {got} in {parent} "
                           f"('{name}' ran on an older {dep})")
            return
        actual = self.actual_md5(dep, dos2unix="hash" not in rec)
        if actual is None:
            bad.append(f"dep {dep}: not tracked by git and produced by no stage (a fresh clone cannot run this)")
        elif actual != want:
            bad.append(f"dep {dep}: changed since the recorded run (md5 {actual}, dvc.lock has {want})")

    def check_params(self, s: dict, lock_params: dict) -> None:
        from dvc.utils.serialize import LOADERS

        bad = self.problems[s["name"]]
        for pfile, keys in s["params"].items():
            recorded = lock_params.get(pfile)
            if recorded is None:
                bad.append(f"params of {pfile}: in dvc.yaml, not recorded in {s['lock']}")
                continue
            path = self.root / self.rel(s["wdir"], pfile)
            if not path.is_file():
                bad.append(f"params file {pfile}: missing")
                continue
            current = LOADERS[path.suffix](str(path)) or {}
            for key in keys or sorted(current):
                then = recorded.get(key, MISSING)
                if then is MISSING:
                    bad.append(f"param {key}: in dvc.yaml, not recorded in {s['lock']}")
                    continue
                for leaf, now, was in differences(key, param_value(current, key), then):
                    bad.append(f"param {leaf}: {show(now)} in {pfile}, dvc.lock recorded {show(was)}")
            for key in sorted(set(recorded) - set(keys or current)):
                bad.append(f"param {key}: recorded in {s['lock']}, no longer in dvc.yaml")
        for pfile in sorted(set(lock_params) - set(s["params"])):
            bad.append(f"params of {pfile}: recorded in {s['lock']}, no longer in dvc.yaml")


def load_stages(root: Path) -> tuple[list, dict]:
    """dvc.yaml's stages as DVC resolves them, .dvc files' outputs, and every dvc.lock (path -> its stages)."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo
    from dvc.stage import PipelineStage
    from dvc.utils.serialize import load_yaml

    stages, locks = [], {}
    with Repo(str(root), uninitialized=True) as repo:
        for st in repo.index.stages:
            wdir = os.path.relpath(st.wdir, root)
            dvcfile = PurePosixPath(os.path.relpath(st.dvcfile.path, root)).as_posix()
            pipeline = isinstance(st, PipelineStage)
            s = {"name": st.name if pipeline else dvcfile, "kind": "pipeline" if pipeline else "dvcfile",
                 "cmd": st.cmd, "wdir": wdir, "frozen": bool(st.frozen),
                 "lock": PurePosixPath(dvcfile).with_name("dvc.lock").as_posix(),
                 "deps": [], "params": {}, "outs": [], "out_entries": {}}
            rel = lambda p: PurePosixPath(os.path.relpath(os.path.join(st.wdir, p), root)).as_posix()  # noqa: E731
            for dep in st.deps:
                if isinstance(dep, ParamsDependency):
                    s["params"][dep.def_path] = list(dep.params)
                else:
                    s["deps"].append(rel(dep.def_path))
            for out in st.outs:
                s["outs"].append(rel(out.def_path))
                if not pipeline:
                    s["out_entries"][rel(out.def_path)] = {"md5": out.hash_info.value}
            stages.append(s)
    for s in stages:
        if s["kind"] == "pipeline" and s["lock"] not in locks:
            path = root / s["lock"]
            locks[s["lock"]] = (load_yaml(str(path)) or {}).get("stages", {}) if path.is_file() else {}
    return stages, locks


def cache_dir(top: Path) -> Path | None:
    """The local DVC cache's md5 objects (.dvc/cache/files/md5, or core cache.dir), None when there is none."""
    try:
        from dvc.repo import Repo

        with Repo(str(top)) as repo:
            path = Path(repo.cache.local.path)
    except Exception:  # noqa: BLE001 - no usable repo/cache: folders inside outputs are counted as not checked
        return None
    return path if path.is_dir() else None


def check(root: Path, tracked: set[str], cache: Path | None) -> Checker:
    stages, locks = load_stages(root)
    checker = Checker(root, tracked, cache)
    checker.run(stages, locks)
    return checker


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--staged", action="store_true", help="check the index (what the next commit holds)")
    where.add_argument("--rev", help="check this commit")
    ap.add_argument("-C", dest="repo", default=".", help="the repository (default: the current folder)")
    args = ap.parse_args(argv)
    top = Path(git(Path(args.repo), "rev-parse", "--show-toplevel").strip())
    cache = cache_dir(top)
    with tempfile.TemporaryDirectory(prefix="check-lock-") as tmp:
        if args.staged:
            git(top, "checkout-index", "--all", f"--prefix={tmp}/")
            tracked = set(git(top, "ls-files", "-z").split("\0")) - {""}
            root = Path(tmp)
        elif args.rev:
            archive = subprocess.run(["git", "archive", args.rev], cwd=top, capture_output=True)
            if archive.returncode != 0:
                raise SystemExit(f"error: git archive {args.rev}: {archive.stderr.decode().strip()}")
            subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
            tracked = set(git(top, "ls-tree", "-r", "--name-only", "-z", args.rev).split("\0")) - {""}
            root = Path(tmp)
        else:
            tracked = set(git(top, "ls-files", "-z").split("\0")) - {""}
            root = top
        checker = check(root, tracked, cache)
    what = "the index" if args.staged else f"commit {args.rev}" if args.rev else "the working tree"
    stale = {k: v for k, v in checker.problems.items() if v}
    for name, problems in stale.items():
        for p in problems:
            print(f"stage '{name}': {p}")
    if checker.unchecked:
        print(f"not checked ({len(checker.unchecked)} deps inside produced folders; the DVC cache lacks their "
              f".dir listing): " + ", ".join(checker.unchecked), file=sys.stderr)
    if stale:
        print(f"dvc.lock is stale against {what} for {len(stale)} stage(s): {', '.join(stale)}. Run `dvc repro` "
              f"(or `dvc commit <stage>` when the change cannot affect its outputs, e.g. a comment) and commit dvc.lock "
              f"with the code.",
              file=sys.stderr)
        return 1
    print(f"dvc.lock matches {what}: {checker.checked} stage(s) checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
