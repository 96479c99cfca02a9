"""Apply a params profile (profiles/*.yaml) onto params.yaml: every key in the profile must exist in params.yaml.

    python pipelines/apply_profile.py profiles/gpu.yaml            # rewrites params.yaml (review with git diff)
    python pipelines/apply_profile.py profiles/tiny.yaml --out p.yaml
The comments of params.yaml are not kept in the rewritten file; `git checkout params.yaml` restores them.
"""
import argparse
from pathlib import Path

import yaml

from langcpt.fileio import InputError, atomic_path
from langcpt.params import load_params, merge
from langcpt.stage import run_stage


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", type=Path)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=None, help="write here instead of overwriting --params")
    args = ap.parse_args()
    if not args.profile.exists():
        raise InputError(f"{args.profile}: no such profile")
    override = yaml.safe_load(args.profile.read_text(encoding="utf-8")) or {}
    merged = merge(load_params(args.params), override)
    with atomic_path(args.out or args.params) as tmp:
        tmp.write_text(yaml.safe_dump(merged, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    print(f"applied {args.profile} -> {args.out or args.params}")


if __name__ == "__main__":
    run_stage(main)
