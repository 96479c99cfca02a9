"""This repository's own dvc.lock against its committed code and params (scripts/check_lock.py --rev HEAD): the
CI check of docs/reproducibility.md: a commit that changes a stage's code or params without rerunning it (and
committing the new dvc.lock) fails CI. tests/test_check_lock.py shows the check failing on an edited dependency."""
import subprocess
import sys

from conftest import REPO


def test_committed_dvc_lock_matches_the_committed_code_and_params():
    proc = subprocess.run([sys.executable, "scripts/check_lock.py", "--rev", "HEAD"], cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
