"""This repository's own dvc.lock against its committed code and params (scripts/check_lock.py --rev HEAD): the
CI check of docs/reproducibility.md. Opt-in until main's committed run is redone: LANGCPT_CHECK_LOCK=1 runs it."""
import os
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.skipif(os.environ.get("LANGCPT_CHECK_LOCK") != "1", reason="opt-in: LANGCPT_CHECK_LOCK=1")
def test_committed_dvc_lock_matches_the_committed_code_and_params():
    proc = subprocess.run([sys.executable, "scripts/check_lock.py", "--rev", "HEAD"], cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
