"""scripts/seed_spread.py: the spread of every metric over runs that differ only in their seed."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(root: Path, name: str, cpt_chrf: float, bpb: float) -> Path:
    run = root / name
    (run / "evaluate").mkdir(parents=True)
    (run / "pretrain").mkdir()
    (run / "evaluate" / "metrics.json").write_text(json.dumps({
        "base": {"target_bpb": 2.0}, "pretrained": {"target_bpb": bpb},
        "proficiency": {"base": {"translation_chrf_greedy": 10.0}, "pretrained": {"translation_chrf_greedy": cpt_chrf}},
        "gates": {"passed": True}}))
    (run / "pretrain" / "metrics.json").write_text(json.dumps({"eval_loss": bpb, "backend": "hf"}))
    return run


def test_spread_and_the_verdict_against_the_base_model(tmp_path):
    runs = [_run(tmp_path, "1", 12.0, 1.5), _run(tmp_path, "2", 13.0, 1.6), _run(tmp_path, "3", 14.0, 1.7)]
    out = tmp_path / "out"
    subprocess.run([sys.executable, str(REPO / "scripts/seed_spread.py"), *map(str, runs), "--out", str(out)],
                   check=True, capture_output=True, text=True)
    stats = json.loads((out / "spread.json").read_text())["metrics"]
    chrf = stats["evaluate.proficiency.pretrained.translation_chrf_greedy"]
    assert (chrf["n"], chrf["mean"], chrf["min"], chrf["max"], chrf["spread"]) == (3, 13.0, 12.0, 14.0, 2.0)
    assert abs(chrf["sd"] - 1.0) < 1e-12
    assert stats["evaluate.base.target_bpb"]["spread"] == 0.0
    assert "pretrain.backend" not in stats and "evaluate.gates.passed" not in stats  # strings and booleans are not metrics
    md = (out / "spread.md").read_text()
    assert "| translation_chrf_greedy | 10 | 13 | +3 | 2 | yes |" in md  # gain 3 > spread 2


def test_a_folder_without_metrics_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    r = subprocess.run([sys.executable, str(REPO / "scripts/seed_spread.py"), str(tmp_path / "empty"), "--out",
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode != 0 and "empty" in r.stderr and "metrics.json" in r.stderr
