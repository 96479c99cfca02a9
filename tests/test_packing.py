import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import REPO
from langcpt.fileio import InputError
from langcpt.packing import (BlockPacker, is_validation, load_blocks, open_blocks, save_blocks, split_documents,
                             token_dtype, tokenize_and_pack)

DOCS = [f"Dokument Nummer {i}: Der schnelle braune Fuchs springt über den faulen Hund." for i in range(400)]


def test_split_is_by_document_stable_and_disjoint():
    train, val = split_documents(DOCS, 0.2, seed=0)
    assert set(train).isdisjoint(val) and len(train) + len(val) == len(DOCS)
    assert 40 <= len(val) <= 120
    # adding documents never moves existing ones across the split
    train2, val2 = split_documents(DOCS + ["ein neues Dokument"], 0.2, seed=0)
    assert set(val) <= set(val2) and set(train) <= set(train2)
    assert all(is_validation(t, 0.2) for t in val)


def test_split_rejects_bad_fraction():
    with pytest.raises(InputError, match="validation_fraction"):
        split_documents(DOCS, 1.5)


def test_pack_puts_separator_between_documents(smollm2_tokenizer):
    tok = smollm2_tokenizer
    sep = tok.convert_tokens_to_ids("<|endoftext|>")
    texts = ["Guten Morgen, München!", "Die Straße ist nass.", "Übermäßig große Äpfel."]
    blocks = tokenize_and_pack(texts, tok, block_size=4, separator_id=sep)
    stream = [tid for t in texts for tid in tok(t, add_special_tokens=False)["input_ids"] + [sep]]
    n = len(stream) // 4
    assert blocks.shape == (n, 4)
    assert blocks.reshape(-1).tolist() == stream[: n * 4]
    assert blocks.dtype == np.uint16 and token_dtype(70000) == np.uint32


def test_pack_caps_blocks_and_roundtrips_through_disk(tmp_path, smollm2_tokenizer):
    blocks = tokenize_and_pack(DOCS, smollm2_tokenizer, block_size=16, separator_id=0, max_blocks=5, batch_size=7)
    assert blocks.shape == (5, 16)
    save_blocks(tmp_path / "b.npy", blocks)
    assert np.array_equal(load_blocks(tmp_path / "b.npy"), blocks)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_pack_rejects_tiny_blocks(smollm2_tokenizer):
    with pytest.raises(InputError, match="block_size"):
        tokenize_and_pack(DOCS, smollm2_tokenizer, block_size=1, separator_id=0)


def test_packing_does_not_depend_on_batching(smollm2_tokenizer):
    texts = [f"Satz {i}: " + "Grüße aus Köln. " * (i % 7) for i in range(300)]
    whole = tokenize_and_pack(texts, smollm2_tokenizer, block_size=32, separator_id=0, batch_size=1000)
    for batch_size in (1, 13, 299):
        assert np.array_equal(tokenize_and_pack(texts, smollm2_tokenizer, 32, 0, batch_size=batch_size), whole)
    # the cap cuts inside a batch, and a packer that is full takes nothing more
    packer = BlockPacker(smollm2_tokenizer, 32, 0, max_blocks=3)
    assert np.array_equal(packer.add(texts), whole[:3]) and packer.full
    assert packer.add(texts).shape == (0, 32)


def test_block_writer_streams_a_standard_npy(tmp_path, smollm2_tokenizer):
    blocks = tokenize_and_pack(DOCS, smollm2_tokenizer, block_size=16, separator_id=0)
    with open_blocks(tmp_path / "b.npy", 16, blocks.dtype) as w:
        for part in np.array_split(blocks, 7):
            w.write(part)
    np.save(tmp_path / "ref.npy", blocks)  # the same bytes as numpy's own writer
    assert (tmp_path / "b.npy").read_bytes() == (tmp_path / "ref.npy").read_bytes()
    assert np.array_equal(load_blocks(tmp_path / "b.npy"), blocks)
    with pytest.raises(RuntimeError), open_blocks(tmp_path / "c.npy", 16, blocks.dtype) as w:
        w.write(blocks)
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.npy", "ref.npy"]  # nothing half-written


def write_stage_inputs(root, tokenizer, target, general, **tokenize):
    tokenizer.save_pretrained(root / "models" / "base")
    (root / "data" / "clean").mkdir(parents=True)
    for name, docs in (("target", target), ("general", general)):
        (root / "data" / "clean" / f"{name}.jsonl").write_text(
            "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in docs), encoding="utf-8")
    cfg = {"block_size": 16, "validation_fraction": 0.2, "seed": 0, "separator_token": "<|endoftext|>",
           "max_train_blocks": None, "max_val_blocks": 5, **tokenize}
    (root / "params.yaml").write_text(yaml.safe_dump({"tokenize": cfg}))


def run_stage_script(root):
    return subprocess.run([sys.executable, str(REPO / "pipelines" / "tokenize_chunk.py")], cwd=root,
                          capture_output=True, text=True)


def test_stage_streams_the_same_blocks_as_packing_in_memory(tmp_path, smollm2_tokenizer):
    tok = smollm2_tokenizer
    general = [f"Line {i}: the quick brown fox jumps over the lazy dog." for i in range(50)]
    write_stage_inputs(tmp_path, tok, DOCS, general, batch_size=7)
    proc = run_stage_script(tmp_path)
    assert proc.returncode == 0, proc.stderr
    sep = tok.convert_tokens_to_ids("<|endoftext|>")
    train, val = split_documents(DOCS, 0.2, seed=0)
    expected = {"train": tokenize_and_pack(train, tok, 16, sep),
                "val": tokenize_and_pack(val, tok, 16, sep, max_blocks=5),
                "general_val": tokenize_and_pack(general, tok, 16, sep, max_blocks=5)}
    for name, arr in expected.items():
        assert np.array_equal(load_blocks(tmp_path / "data" / "tokens" / f"{name}.npy"), arr), name
    report = json.loads((tmp_path / "reports" / "tokenize.json").read_text())
    assert (report["train_documents"], report["val_documents"], report["general_documents"]) == \
        (len(train), len(val), len(general))
    assert report["train_tokens"] == expected["train"].size and report["val_blocks"] == 5


def test_stage_without_a_full_block_fails_cleanly(tmp_path, smollm2_tokenizer):
    write_stage_inputs(tmp_path, smollm2_tokenizer, DOCS, ["short"], block_size=64)
    proc = run_stage_script(tmp_path)
    assert proc.returncode == 1 and "general_val" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "data" / "tokens").exists() or not list((tmp_path / "data" / "tokens").iterdir())


def test_stage_separator_defaults_to_eos_and_rejects_unknown_tokens(tmp_path, smollm2_tokenizer):
    tok = smollm2_tokenizer
    write_stage_inputs(tmp_path, tok, DOCS, DOCS[:60], separator_token=None)
    assert run_stage_script(tmp_path).returncode == 0
    report = json.loads((tmp_path / "reports" / "tokenize.json").read_text())
    assert report["separator_token"] == tok.eos_token
    blocks = load_blocks(tmp_path / "data" / "tokens" / "general_val.npy")
    assert np.array_equal(blocks, tokenize_and_pack(DOCS[:60], tok, 16, tok.eos_token_id, max_blocks=5))
    cfg = yaml.safe_load((tmp_path / "params.yaml").read_text())
    cfg["tokenize"]["separator_token"] = "<|no-such-token|>"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_stage_script(tmp_path)
    assert proc.returncode == 1 and "tokenize.separator_token" in proc.stderr and "no-such-token" in proc.stderr


def test_stage_names_the_bad_line(tmp_path, smollm2_tokenizer):
    write_stage_inputs(tmp_path, smollm2_tokenizer, DOCS, DOCS[:60])
    with open(tmp_path / "data" / "clean" / "general.jsonl", "a", encoding="utf-8") as f:
        f.write('{"body": "no text field"}\n')
    proc = run_stage_script(tmp_path)
    assert proc.returncode == 1 and "general.jsonl:61" in proc.stderr and "'text'" in proc.stderr
    assert not list((tmp_path / "data" / "tokens").iterdir())  # nothing half-written
