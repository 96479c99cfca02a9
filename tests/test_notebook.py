"""notebooks/walkthrough.ipynb runs top to bottom (nbclient, a real kernel) on the tiny profile's outputs of a real
`dvc repro` (the session fixture `tiny_pipeline`), and names the stage to run when an output is missing."""
import csv
import json
import re
import shutil
import sys

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import REPO

NOTEBOOK = REPO / "notebooks/walkthrough.ipynb"


def execute(repo, monkeypatch) -> nbformat.NotebookNode:
    """Run the committed notebook (its saved outputs are replaced) against `repo`'s outputs."""
    monkeypatch.setenv("LANGCPT_REPO", str(repo))  # the kernel inherits this process's environment
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return nb


def texts(nb) -> list[str]:
    """Every text-like output (streams, Markdown, HTML, plain text) of every code cell."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                out.append(o.text)
            elif o.output_type in ("display_data", "execute_result"):
                out.extend(v for k, v in o.data.items() if k.startswith("text/"))
            elif o.output_type == "error":
                out.append("\n".join(o.traceback))
    return out


def test_the_committed_notebook_is_what_the_build_script_writes():
    sys.path.insert(0, str(REPO / "notebooks"))
    try:
        import build_walkthrough
    finally:
        sys.path.pop(0)
    built, committed = build_walkthrough.build(), nbformat.read(NOTEBOOK, as_version=4)
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells]


def test_the_notebook_runs_on_the_tiny_pipelines_outputs(tiny_pipeline, monkeypatch):
    root = tiny_pipeline["path"]
    nb = execute(root, monkeypatch)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    out = "\n".join(texts(nb))
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # DAG, data card figure, language mix, CPT curves, SFT curves
    # numbers of *these* outputs, not of the repository the notebook sits in
    with open(root / "reports/evaluate/perplexity.csv") as f:
        for row in csv.DictReader(f):
            assert f"{float(row['perplexity']):.3f}" in out, row
    samples = json.loads((root / "reports/evaluate/samples.json").read_text())
    assert all(s["output"] in out for s in samples if s["output"])
    for q in json.loads((root / "reports/gguf.json").read_text())["files"]:
        assert f"model-{q}.gguf" in out
    # MLflow: the tiny pipeline logged into the repository's store, so its runs are these files' runs
    assert out.count("the run of these files (same final held-out loss)") == 2  # pretrain and SFT
    # the crisis message: the guard's verdict on the SFT model's reply, and the safety stage's figures of these files
    assert sum(t in out for t in ("so the guard appends the emergency referral", "so the guard appends the check-in",
                                  "the guard leaves it", "does not recognise this crisis message")) == 1
    safety = json.loads((root / "reports/safety/metrics.json").read_text())
    assert f"{safety['sft_crisis_referral_rate']:.0%}" in out and "with the guard" in out
    assert out.count("guard appended the referral:") == 2  # the llama.cpp chats ran (gate prompt, crisis message)
    # the crisis chat ends with the referral (or, in the check-in tier, the check-in) when the guard recognises the
    # message (it added it, or the model's own reply gave the numbers); a message it misses is called a miss, not a
    # reply that already refers
    from langcpt import walkthrough as wt
    from langcpt.safety import CrisisGuard

    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    _, user, _ = wt.first_exchange(wt.heldout_examples(root, ["crisis"])[0])
    verdict = CrisisGuard.from_params(params["safety"], root=root).detect(user)
    if verdict["crisis"]:
        added = re.escape("yes (the check-in))" if verdict["tier"] == "check_in" else "yes)")
        assert re.search(rf"guard appended the referral: {added}|own reply: \[[^\]]+\]; guard appended the "
                         r"referral: no", out)
        assert "does not recognise this crisis message" not in out
    else:
        assert "does not recognise this crisis message" in out and "already gives the numbers" not in out
    assert "x transformers" in out  # the speed table
    assert "dvc exp run -n more-cpt-steps" in out  # the optional cell printed its command and trained nothing


def test_a_missing_output_names_the_stage_to_run(tmp_path, monkeypatch):
    for f in ("dvc.yaml", "params.yaml"):  # a repository where nothing has run yet
        shutil.copy(REPO / f, tmp_path / f)
    with pytest.raises(CellExecutionError) as e:
        execute(tmp_path, monkeypatch)
    msg = str(e.value)
    assert "MissingOutput" in msg and "dvc repro dedup_clean data_card pretrain sft evaluate gguf" in msg
    assert "reports/evaluate/samples.json (stage evaluate)" in msg
