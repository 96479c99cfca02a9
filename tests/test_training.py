"""The training seam on CPU (transformers + peft): recipe fidelity, merge safety, CPT -> SFT chaining."""
import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, TrainingArguments, default_data_collator

from langcpt.cpt import BlockDataset
from langcpt.fileio import InputError
from langcpt.training import (EmbeddingLRTrainer, choose_backend, load_lora_model, merge_and_save,
                              trainable_parameters)

LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "rslora": True}


def _train(model, tmp_path, steps=3, emb_lr=1e-3):
    rng = np.random.default_rng(0)
    blocks = rng.integers(3, 500, size=(8, 16)).astype(np.int64)
    args = TrainingArguments(output_dir=str(tmp_path / "ckpt"), max_steps=steps, per_device_train_batch_size=4,
                             learning_rate=1e-2, report_to=[], save_strategy="no", logging_steps=1)
    trainer = EmbeddingLRTrainer(model=model, args=args, train_dataset=BlockDataset(blocks),
                                 data_collator=default_data_collator, embedding_learning_rate=emb_lr)
    trainer.train()
    return trainer, torch.from_numpy(blocks[:1])


def test_backend_choice_on_cpu():
    assert choose_backend("auto") == "hf"
    assert choose_backend("hf") == "hf"
    with pytest.raises(InputError, match="backend"):
        choose_backend("tpu")


def test_embeddings_trainable_with_their_own_learning_rate(tiny_model_dir, tmp_path):
    model, _ = load_lora_model(tiny_model_dir, LORA, "hf", 16, train_embeddings=True)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("embed_tokens" in n and "modules_to_save" in n for n in names)
    assert any("lm_head" in n and "modules_to_save" in n for n in names)
    assert any("lora_A" in n and "down_proj" in n for n in names)  # all linear layers
    counts = trainable_parameters(model)
    assert counts["embedding_parameters"] > 0 and counts["trainable_parameters"] > counts["embedding_parameters"]
    trainer, _ = _train(model, tmp_path, steps=1, emb_lr=1e-3)
    groups = trainer.optimizer.param_groups
    emb_groups = [g for g in groups if g.get("name") == "embeddings"]
    assert emb_groups and all(g["initial_lr"] == 1e-3 for g in emb_groups)  # the embedding learning rate
    assert all(g["initial_lr"] == 1e-2 for g in groups if g.get("name") != "embeddings")  # the LoRA one
    emb_params = {id(p) for g in emb_groups for p in g["params"]}
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert (id(p) in emb_params) == ("modules_to_save" in n), n


def test_merge_keeps_the_trained_head_of_a_tied_model(tiny_model_dir, tmp_path):
    model, tok = load_lora_model(tiny_model_dir, LORA, "hf", 16, train_embeddings=True)
    _, probe = _train(model, tmp_path)
    trained_head = model.base_model.model.lm_head.modules_to_save["default"].weight.detach().clone()
    info = merge_and_save(model, tok, tmp_path / "merged", probe)
    assert info["untied_lm_head"] is True and info["lm_head_saved_separately"] is True
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert reloaded.config.tie_word_embeddings is False
    assert torch.equal(reloaded.lm_head.weight, trained_head)
    assert not torch.equal(reloaded.lm_head.weight, reloaded.model.embed_tokens.weight)


def test_sft_adapter_on_top_of_a_cpt_checkpoint(tiny_model_dir, tmp_path):
    model, tok = load_lora_model(tiny_model_dir, LORA, "hf", 16, train_embeddings=True)
    _, probe = _train(model, tmp_path / "cpt")
    merge_and_save(model, tok, tmp_path / "cpt-merged", probe)
    # a fresh adapter on the merged checkpoint: no "model already has LoRA adapters"
    sft_model, _ = load_lora_model(tmp_path / "cpt-merged", LORA, "hf", 16, train_embeddings=False)
    assert not any("modules_to_save" in n for n, p in sft_model.named_parameters() if p.requires_grad)
    _train(sft_model, tmp_path / "sft", steps=1)
    merge_and_save(sft_model, tok, tmp_path / "sft-merged", probe)
    assert (tmp_path / "sft-merged" / "model.safetensors").exists()


def test_only_an_interrupted_run_with_the_same_inputs_resumes(tmp_path):
    from langcpt.trainer_setup import checkpoint_to_resume, file_stamp

    data = tmp_path / "train.npy"
    data.write_bytes(b"1234")
    ckpt = tmp_path / "ckpt"
    fp = {"cfg": {"lr": 1}, "inputs": [file_stamp(data)]}
    assert checkpoint_to_resume(ckpt, fp) is None  # fresh
    (ckpt / "checkpoint-2").mkdir()
    (ckpt / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (ckpt / "checkpoint-4").mkdir()  # written half-way when the run was killed: no trainer_state.json
    assert checkpoint_to_resume(ckpt, fp) == str(ckpt / "checkpoint-2")
    data.write_bytes(b"12345")  # the input changed: start over, old checkpoints gone
    assert checkpoint_to_resume(ckpt, {"cfg": {"lr": 1}, "inputs": [file_stamp(data)]}) is None
    assert not list(ckpt.glob("checkpoint-*"))


def test_training_run_logs_the_trainable_parameter_count(tiny_model_dir, tmp_path, capsys, monkeypatch):
    from langcpt.trainer_setup import train_and_merge

    monkeypatch.setenv("LANGCPT_MLFLOW", "0")  # no MLflow: the Trainer reports to nothing
    model, tok = load_lora_model(tiny_model_dir, LORA, "hf", 16, train_embeddings=True)
    blocks = np.random.default_rng(0).integers(3, 500, size=(8, 16)).astype(np.int64)
    cfg = {"max_steps": 2, "epochs": 1, "batch_size": 4, "gradient_accumulation_steps": 1, "learning_rate": 1e-2,
           "warmup_ratio": 0.0, "lr_scheduler": "constant", "weight_decay": 0.0, "logging_steps": 1,
           "eval_steps": 1, "save_steps": 100, "seed": 0}
    metrics = train_and_merge(model, tok, cfg, BlockDataset(blocks), None, default_data_collator,
                              tmp_path / "ckpt", None, tmp_path / "curves", {"x": 1}, embedding_learning_rate=1e-3,
                              tokens_per_step=4 * 16)
    expected = trainable_parameters(model)
    assert metrics["trainable_parameters"] == expected["trainable_parameters"] > expected["embedding_parameters"] > 0
    assert f"trainable parameters: {expected['trainable_parameters']:,}" in capsys.readouterr().out
    assert metrics["steps"] == metrics["steps_this_run"] == 2 and metrics["steady_tokens_per_second"] > 0
    assert (tmp_path / "curves" / "train_loss.csv").read_text().count("\n") == 3  # header + 2 steps
    assert not (tmp_path / "ckpt").exists()


def test_curves_of_a_resumed_run_start_from_the_checkpoint_history(tmp_path):
    from transformers import TrainerState

    from langcpt.training import CurveWriter

    state = TrainerState()
    state.log_history = [{"step": 0, "eval_loss": 3.0}, {"step": 1, "loss": 2.5, "learning_rate": 1e-3},
                         {"step": 2, "loss": 2.25, "learning_rate": 1e-3}, {"step": 2, "eval_loss": 2.0}]
    curves = CurveWriter(tmp_path / "train.csv", tmp_path / "eval.csv")
    curves.on_train_begin(None, state, None)
    state.global_step = 3
    curves.on_log(None, state, None, logs={"loss": 2.0, "learning_rate": 1e-3})
    curves.write()
    assert [r["step"] for r in curves.train_rows] == [1, 2, 3]
    assert [(r["step"], r["eval_loss"]) for r in curves.eval_rows] == [(0, 3.0), (2, 2.0)]
    assert (tmp_path / "train.csv").read_text().splitlines()[1:] == ["1,2.5,0.001", "2,2.25,0.001", "3,2.0,0.001"]


def _adapter(model) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def test_the_adapter_init_follows_the_seed_not_what_ran_before(tiny_model_dir):
    """The LoRA A matrices start random (B at zero, so the first step's loss is the same either way and runs drift
    apart from the second): their init must come from the stage's seed, not from wherever the global RNG stood."""
    first = _adapter(load_lora_model(tiny_model_dir, LORA, "hf", 16, train_embeddings=True, seed=42)[0])
    torch.rand(1000)  # anything that draws from the global RNG in between
    again = _adapter(load_lora_model(tiny_model_dir, LORA, "hf", 16, train_embeddings=True, seed=42)[0])
    other = _adapter(load_lora_model(tiny_model_dir, LORA, "hf", 16, train_embeddings=True, seed=7)[0])
    pinned = _adapter(load_lora_model(tiny_model_dir, {**LORA, "seed": 42}, "hf", 16, train_embeddings=True,
                                      seed=7)[0])
    a_keys = [n for n in first if "lora_A" in n]
    assert a_keys and first.keys() == again.keys() == other.keys()
    assert all(torch.equal(first[n], again[n]) for n in first)
    assert not any(torch.equal(first[n], other[n]) for n in a_keys)
    assert all(torch.equal(first[n], pinned[n]) for n in first)  # lora.seed, when set, wins over the stage's


def test_make_deterministic_sets_threads_flags_and_seeds():
    from langcpt.training import make_deterministic

    before = torch.get_num_threads()
    try:
        assert make_deterministic(3, threads=1, deterministic=True) == {"threads": 1, "deterministic": True}
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
        x = torch.rand(4)
        make_deterministic(3, threads=1, deterministic=True)
        assert torch.equal(torch.rand(4), x) and float(np.random.rand()) == np.random.RandomState(3).rand()
        assert make_deterministic(3, threads=None, deterministic=False)["threads"] == 1  # None: left as it is
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.set_num_threads(before)
        torch.use_deterministic_algorithms(False)
