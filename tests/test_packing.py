import numpy as np
import pytest

from langcpt.fileio import InputError
from langcpt.packing import is_validation, load_blocks, save_blocks, split_documents, token_dtype, tokenize_and_pack

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
