import math

import numpy as np
import torch

from langcpt.evaluation import generate, load_model, perplexity


def test_perplexity_matches_the_models_own_loss(tiny_model_dir):
    model, _ = load_model(tiny_model_dir)
    blocks = np.random.default_rng(0).integers(3, 1000, size=(5, 12)).astype(np.uint16)
    r = perplexity(model, blocks, batch_size=2)
    with torch.no_grad():
        ids = torch.from_numpy(blocks.astype(np.int64))
        loss = model(input_ids=ids, labels=ids).loss.item()
    assert r["tokens"] == 5 * 11
    assert math.isclose(r["loss"], loss, rel_tol=1e-4)
    assert math.isclose(r["perplexity"], math.exp(loss), rel_tol=1e-3)


def test_generate_plain_and_chat(tiny_model_dir):
    model, tok = load_model(tiny_model_dir)
    text = generate(model, tok, "Die Hauptstadt", max_new_tokens=5, chat=False)
    reply = generate(model, tok, "Hallo", max_new_tokens=5, chat=True, system_prompt="Sei nett.")
    assert isinstance(text, str) and isinstance(reply, str)
