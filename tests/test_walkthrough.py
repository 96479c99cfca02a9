"""langcpt.walkthrough: the notebook's helpers on the real dvc.yaml, SFT data, a real MLflow store and a tiny model."""
import shutil

import pytest

from conftest import REPO

from langcpt import walkthrough as wt
from langcpt.fileio import InputError
from langcpt.safety import phone_numbers


def test_stage_of_follows_dvc_yaml():
    assert wt.stage_of(REPO, "reports/evaluate/samples.json") == "evaluate"  # an out
    assert wt.stage_of(REPO, "reports/evaluate/perplexity.csv") == "evaluate"  # a plot
    assert wt.stage_of(REPO, "reports/data_card/metrics.json") == "data_card"  # a metric
    assert wt.stage_of(REPO, "models/gguf/model-q4_k_m.gguf") == "gguf"  # inside an out folder
    assert wt.stage_of(REPO, "models/sft") == "sft"
    assert wt.stage_of(REPO, "notebooks/walkthrough.ipynb") is None


def test_require_names_the_stages_of_missing_outputs(tmp_path):
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    (tmp_path / "reports/sft").mkdir(parents=True)
    (tmp_path / "reports/sft/metrics.json").write_text("{}")
    assert wt.require(tmp_path, "reports/sft/metrics.json") == [tmp_path / "reports/sft/metrics.json"]
    with pytest.raises(wt.MissingOutput) as e:
        wt.require(tmp_path, "reports/sft/metrics.json", "reports/evaluate/samples.json", "models/gguf/Modelfile",
                   "reports/gguf.json", "nowhere.txt")
    msg = str(e.value)
    assert "`dvc repro evaluate gguf`" in msg  # each stage once, in order
    assert "reports/evaluate/samples.json (stage evaluate)" in msg and "nowhere.txt (stage none" in msg
    assert "reports/sft/metrics.json" not in msg
    with pytest.raises(wt.MissingOutput, match="stage pretrain"):
        wt.read_csv(tmp_path, "reports/pretrain/train_loss.csv")


def test_find_repo_from_env_or_upwards(tmp_path, monkeypatch):
    monkeypatch.delenv(wt.REPO_ENV, raising=False)
    assert wt.find_repo(REPO / "notebooks") == REPO
    assert wt.find_repo(REPO / "src/langcpt") == REPO
    with pytest.raises(InputError, match="no dvc.yaml"):
        wt.find_repo(tmp_path)
    monkeypatch.setenv(wt.REPO_ENV, str(tmp_path))
    with pytest.raises(InputError, match="LANGCPT_REPO"):
        wt.find_repo()
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    assert wt.find_repo(REPO) == tmp_path.resolve()  # the env wins over the start folder


def test_dag_layers_and_transitive_reduction():
    dot = 'strict digraph {\n"a";\n"b";\n"a" -> "b";\n"b" -> "c";\n"a" -> "c";\n"d" -> "c";\n}\n'
    edges = wt.dag_edges(dot)
    assert edges == [("a", "b"), ("b", "c"), ("a", "c"), ("d", "c")]
    depth, reduced = wt.layered(edges)
    assert depth == {"a": 0, "b": 1, "c": 2, "d": 0}
    assert reduced == [("a", "b"), ("b", "c"), ("d", "c")]  # a -> c is implied by a -> b -> c


def test_the_repositorys_dag_has_every_stage():
    edges = wt.dag_edges(wt.dvc(REPO, "dag", "--dot"))
    depth, _ = wt.layered(edges)
    assert depth["ingest"] == 0 and depth["pretrain"] < depth["sft"] < depth["evaluate"] < depth["gguf"]


def test_side_by_side_escapes_the_texts():
    html = wt.side_by_side([{"kept": "a <b> & c", "removed": "x\ny", "jaccard": 0.5}])
    assert "a &lt;b&gt; &amp; c" in html and "x\ny" in html and "<td" in html and "0.5" in html


def test_referral_numbers():
    ref = "Wähle bitte die 112. Die Telefonseelsorge: 0800 111 0 111 oder 0800 111 0 222. Seit 3 Tagen."
    assert wt.referrals_in("Ruf die 0800 111  0 111 an.", ref) == ["0800 111 0 111"]
    assert wt.referrals_in("Ruf die\n112 an", ref) == ["112"]
    assert wt.referrals_in("Magst du mehr erzählen?", ref) == []


def test_heldout_examples_are_held_out_and_crisis_ones_carry_the_referral():
    from langcpt.conversations import load_conversations, split_conversations

    params = wt.params(REPO)["sft"]
    train, _ = split_conversations(load_conversations(REPO / params["data"]), params["holdout_fraction"],
                                   params["seed"])
    picked = wt.heldout_examples(REPO, ["listening", "crisis"])
    assert [c["category"] for c in picked] == ["listening", "crisis"]
    assert not {c["id"] for c in picked} & {c["id"] for c in train}
    system, user, reference = wt.first_exchange(picked[1])
    assert system and user and phone_numbers(reference)
    with pytest.raises(InputError, match="no held-out conversation"):
        wt.heldout_examples(REPO, ["no-such-category"])


def test_mlflow_reading_on_a_real_store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert wt.mlflow_client(tmp_path) is None and not (tmp_path / "mlflow.db").exists()  # never creates a store
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("langcpt")
    for value in (1.0, 2.0):  # two runs of one stage: the newer is the one
        with mlflow.start_run(tags={"stage": "pretrain"}):
            for step, v in ((0, value), (5, value / 2), (5, value / 2), (0, value / 4)):  # final metrics at 0 again
                mlflow.log_metric("eval_loss", v, step=step)
    with mlflow.start_run(tags={"stage": "sft"}):
        mlflow.log_metric("loss", 9.0, step=1)
    mlflow.set_tracking_uri(None)
    client = wt.mlflow_client(tmp_path)
    run = wt.latest_run(client, "langcpt", "pretrain")
    h = wt.metric_history(client, run, "eval_loss")
    assert h["step"].tolist() == [0, 5] and h["value"].tolist() == [2.0, 1.0]
    assert wt.latest_run(client, "langcpt", "gguf") is None
    assert wt.latest_run(client, "other", "pretrain") is None


def test_hf_decode_speed(tiny_model_dir):
    from langcpt.evaluation import load_model

    model, tok = load_model(tiny_model_dir)
    assert wt.hf_decode_speed(model, tok, "Hallo, wie geht es dir?", 6) > 0
