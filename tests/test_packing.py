import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import REPO
from langcpt.fileio import InputError
from langcpt.packing import (BlockPacker, ReplayMixer, batched, check_replay, interleave, is_validation, load_blocks,
                             open_blocks, save_blocks, split_documents, token_dtype, tokenize_and_pack)

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
    general_held_out = [g for g in general if is_validation(g, 0.5, seed=0)]  # replay.holdout_fraction default
    assert 0 < len(general_held_out) < len(general)
    expected = {"train": tokenize_and_pack(train, tok, 16, sep),
                "val": tokenize_and_pack(val, tok, 16, sep, max_blocks=5),
                "general_val": tokenize_and_pack(general_held_out, tok, 16, sep, max_blocks=5)}
    for name, arr in expected.items():
        assert np.array_equal(load_blocks(tmp_path / "data" / "tokens" / f"{name}.npy"), arr), name
    report = json.loads((tmp_path / "reports" / "tokenize.json").read_text())
    assert (report["train_documents"], report["val_documents"], report["general_documents"]) == \
        (len(train), len(val), len(general_held_out))
    assert report["replay_tokens"] == 0 and report["target_train_tokens"] == report["train_tokens"]
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
    held_out = [d for d in DOCS[:60] if is_validation(d, 0.5)]
    assert np.array_equal(blocks, tokenize_and_pack(held_out, tok, 16, tok.eos_token_id, max_blocks=5))
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
    # nothing half-written: data/tokens is written as a whole folder, and no temporary folder is left
    assert not (tmp_path / "data" / "tokens").exists() and not list((tmp_path / "data").glob(".tokens.*"))


def test_interleave_spreads_the_second_rows_evenly_and_keeps_order():
    a, b = np.arange(8).reshape(8, 1), np.arange(100, 102).reshape(2, 1)
    assert interleave(a, b)[:, 0].tolist() == [0, 1, 100, 2, 3, 4, 5, 101, 6, 7]
    assert interleave(a, b[:0]) is a and np.array_equal(interleave(a[:0], b), b)


def test_replay_mixer_keeps_the_ratio_at_every_step_and_under_a_cap(smollm2_tokenizer):
    tok = smollm2_tokenizer
    english = [f"Line {i}: the quick brown fox jumps over the lazy dog." for i in range(40)]
    target = tokenize_and_pack(DOCS, tok, 16, 0)
    mixer = ReplayMixer(BlockPacker(tok, 16, 0), batched(english * 50, 7), ratio=0.2)
    mixed = [mixer.mix(part) for part in np.array_split(target, 9)]
    for i in range(1, 10):  # after every batch: replay = target * 0.2 / 0.8, half up
        t = sum(len(p) for p in np.array_split(target, 9)[:i])
        assert sum(len(m) for m in mixed[:i]) == t + int(t * 0.25 + 0.5)
    rows = np.concatenate(mixed)
    replay = tokenize_and_pack(english * 50, tok, 16, 0)
    is_replay = np.array([any(np.array_equal(r, x) for x in replay[:200]) for r in rows])
    assert is_replay.sum() == mixer.replay_blocks == int(len(target) * 0.25 + 0.5)
    assert np.array_equal(rows[~is_replay], target)  # target blocks all there, in order
    assert np.array_equal(rows[is_replay], replay[:mixer.replay_blocks])
    capped = ReplayMixer(BlockPacker(tok, 16, 0), batched(english * 50, 7), ratio=0.2, max_blocks=30)
    assert len(capped.mix(target[:24])) == 30 and capped.replay_blocks == 6
    dry = ReplayMixer(BlockPacker(tok, 16, 0), iter([]), ratio=0.5)
    with pytest.raises(InputError, match="tokenize.replay"):
        dry.mix(target[:4])


@pytest.mark.parametrize("bad, key", [({"ratio": 1.0}, "ratio"), ({"ratio": "0.1"}, "ratio"),
                                      ({"source": "wiki"}, "source"), ({"holdout_fraction": 0}, "holdout_fraction")])
def test_replay_params_are_checked(bad, key):
    assert check_replay(None) == {"ratio": 0.0, "source": "general", "holdout_fraction": 0.5}
    with pytest.raises(InputError, match=f"tokenize.replay.{key}"):
        check_replay(bad)


def test_stage_replays_only_general_documents_outside_the_held_out_split(tmp_path, smollm2_tokenizer):
    tok = smollm2_tokenizer
    general = [f"English line {i}: marker{i:03d}x and some more words to read." for i in range(120)]
    held_out = {g for g in general if is_validation(g, 0.5, seed=0)}
    write_stage_inputs(tmp_path, tok, DOCS, general, max_val_blocks=None, replay={"ratio": 0.2, "source": "general"})
    proc = run_stage_script(tmp_path)
    assert proc.returncode == 0, proc.stderr
    tokens = tmp_path / "data" / "tokens"
    report = json.loads((tmp_path / "reports" / "tokenize.json").read_text())
    train, val = split_documents(DOCS, 0.2, seed=0)
    target_blocks = tokenize_and_pack(train, tok, 16, tok.convert_tokens_to_ids("<|endoftext|>"))
    assert report["train_blocks"] == len(target_blocks) + int(len(target_blocks) * 0.25 + 0.5) == \
        len(load_blocks(tokens / "train.npy"))
    assert report["replay_tokens"] == report["replay_blocks"] * 16 > 0
    assert report["replay_share"] == pytest.approx(0.2, abs=0.01)
    assert report["replay_pool_passes"] >= 2  # 60 short English documents: the pool is cycled for the 20%
    train_text = tok.decode(load_blocks(tokens / "train.npy").reshape(-1).tolist())
    general_val_text = tok.decode(load_blocks(tokens / "general_val.npy").reshape(-1).tolist())
    markers = {g: g.split(": ")[1].split()[0] for g in general}
    assert all(markers[g] not in train_text for g in held_out)  # no held-out English document is trained on
    pool = [g for g in general if g not in held_out]  # replayed (a marker cut by a block edge may not show whole)
    assert sum(markers[g] in train_text for g in pool) >= 0.8 * len(pool)
    assert not [g for g in general if g not in held_out and markers[g] in general_val_text]
    # ratio 0: the training blocks are the target language's alone, as before replay existed
    write_stage_inputs(tmp_path / "r0", tok, DOCS, general, replay={"ratio": 0.0})
    assert run_stage_script(tmp_path / "r0").returncode == 0
    assert np.array_equal(load_blocks(tmp_path / "r0" / "data" / "tokens" / "train.npy"), target_blocks)
    # a cap on training blocks holds with replay, and replay keeps its share of it
    write_stage_inputs(tmp_path / "cap", tok, DOCS, general, max_train_blocks=20, replay={"ratio": 0.2})
    assert run_stage_script(tmp_path / "cap").returncode == 0
    report = json.loads((tmp_path / "cap" / "reports" / "tokenize.json").read_text())
    assert (report["train_blocks"], report["replay_blocks"]) == (20, 4)


def test_load_tokenizer_ignores_truncation_and_padding_saved_in_tokenizer_json(smollm2_tokenizer, tmp_path):
    from langcpt.packing import encode_batch, load_tokenizer

    text = "Wer am Morgen zerknittert aussieht, hat am Tag gute Entfaltungsmöglichkeiten. " * 4
    full = smollm2_tokenizer(text, add_special_tokens=False).input_ids
    smollm2_tokenizer.save_pretrained(tmp_path)
    spec = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    spec["truncation"] = {"direction": "Right", "max_length": 8, "strategy": "LongestFirst", "stride": 0}
    spec["padding"] = {"strategy": {"Fixed": 512}, "direction": "Right", "pad_to_multiple_of": None, "pad_id": 0,
                       "pad_type_id": 0, "pad_token": "<|endoftext|>"}
    (tmp_path / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    tokenizer, _ = load_tokenizer(tmp_path)
    assert len(full) > 40 and encode_batch(tokenizer, [text]) == [full]
