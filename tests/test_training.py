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
    assert emb_groups and all(g["lr"] <= 1e-3 for g in emb_groups)
    emb_params = {id(p) for g in emb_groups for p in g["params"]}
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert (id(p) in emb_params) == ("modules_to_save" in n), n


def test_merge_keeps_the_trained_head_of_a_tied_model(tiny_model_dir, tmp_path):
    model, tok = load_lora_model(tiny_model_dir, LORA, "hf", 16, train_embeddings=True)
    _, probe = _train(model, tmp_path)
    trained_head = model.base_model.model.lm_head.modules_to_save["default"].weight.detach().clone()
    info = merge_and_save(model, tok, tmp_path / "merged", probe)
    assert info["untied_lm_head"] is True
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
