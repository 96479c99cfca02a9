import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO, make_tiny_model_dir

from langcpt.evaluation import (apply_gates, check_gate_params, generate, load_model, perplexity, score,
                                token_text_sizes)
from langcpt.fileio import InputError
from langcpt.packing import save_blocks, tokenize_and_pack


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


GERMAN = ["Grüße aus Köln! Die Straße ist nass, und die Bäume sind grün.",
          "Die Tür ist zu, der Schlüssel liegt auf dem Tisch.",
          "Mit dem Befehl ls kann man den Inhalt eines Verzeichnisses anzeigen.",
          "Ich fühle mich heute müde, aber zufrieden."] * 6


def test_token_text_sizes_count_the_bytes_and_characters_of_the_text(smollm2_tokenizer):
    tok = smollm2_tokenizer
    nbytes, nchars = token_text_sizes(tok)
    # characters split over several byte-level tokens (emoji, CJK) still add up exactly
    others = ["Übermäßig große Äpfel", "naïve 🙂 日本語 — € ½", "  zwei  Leerzeichen\n\tTab"]
    for text in GERMAN[:4] + others:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert nbytes[ids].sum() == len(text.encode("utf-8")), text
        assert nchars[ids].sum() == len(text), text
    sep = tok.convert_tokens_to_ids("<|endoftext|>")
    assert nbytes[sep] == nchars[sep] == 1 and nbytes[tok.convert_tokens_to_ids("<|im_start|>")] == 1


def test_bits_per_byte_is_the_models_nll_over_the_bytes_of_the_predicted_text(tiny_model_dir):
    model, tok = load_model(tiny_model_dir)
    sep = tok.convert_tokens_to_ids("<|endoftext|>")
    blocks = tokenize_and_pack(GERMAN, tok, block_size=24, separator_id=sep)
    assert len(blocks) >= 4 and (blocks[:, 1:] == sep).any()
    # every token is whole characters (Ä or Ü would be two byte tokens), so decoding pieces counts exactly
    assert not [i for i in np.unique(blocks) if "\ufffd" in tok.decode([int(i)])]
    r = score(model, tok, blocks, batch_size=3)
    # by hand: the model's own mean loss over tokens 1..n times their number, and the bytes/characters of the text
    # of tokens 1..n of each block decoded by the tokenizer, one byte/character for each separator
    with torch.no_grad():
        ids = torch.from_numpy(blocks.astype(np.int64))
        nll = model(input_ids=ids, labels=ids).loss.item() * ids[:, 1:].numel()
    text_bytes = text_chars = 0
    for block in blocks:
        pieces = np.split(block[1:], np.flatnonzero(block[1:] == sep))
        for piece in pieces:
            text = tok.decode([int(i) for i in piece if i != sep])
            text_bytes += len(text.encode("utf-8"))
            text_chars += len(text)
        text_bytes += int((block[1:] == sep).sum())
        text_chars += int((block[1:] == sep).sum())
    assert (r["bytes"], r["characters"]) == (text_bytes, text_chars)
    assert math.isclose(r["bits_per_byte"], nll / math.log(2) / text_bytes, rel_tol=1e-4)
    assert math.isclose(r["bits_per_character"], nll / math.log(2) / text_chars, rel_tol=1e-4)
    assert math.isclose(r["loss"], nll / ids[:, 1:].numel(), rel_tol=1e-4)
    assert r["bits_per_character"] > r["bits_per_byte"]  # umlauts: more bytes than characters


def results(target_after, general_after, target_before=1.5, general_before=1.2):
    return {"base": {"target_bpb": target_before, "general_bpb": general_before},
            "pretrained": {"target_bpb": target_after, "general_bpb": general_after},
            "sft": {"target_bpb": target_after, "general_bpb": general_after}}


GATES = {"enabled": True, "models": ["pretrained", "sft"], "max_target_bpb_change": -0.01,
         "max_general_bpb_increase": 0.05}


def test_gates_pass_on_improvement_and_fail_with_the_reason():
    gates, failures = apply_gates(results(1.2, 1.25), GATES, "German")
    assert gates["passed"] and not failures
    assert gates["checks"]["sft_target_bpb"] == {"before": 1.5, "after": 1.2, "change": -0.2, "max_change": -0.01,
                                                 "passed": True}
    gates, failures = apply_gates(results(1.49, 1.2), GATES, "German")  # -0.7%: not the 1% asked for
    assert not gates["passed"] and len(failures) == 2 and "German bits per byte of `pretrained` 1.5000 -> 1.4900" \
        in failures[0] and "did not improve" in failures[0]
    gates, failures = apply_gates(results(1.0, 1.3), {**GATES, "models": ["sft"]}, "German")  # English +8.3%
    assert not gates["passed"] and set(gates["checks"]) == {"sft_target_bpb", "sft_general_bpb"}
    assert failures == ["general-English bits per byte of `sft` 1.2000 -> 1.3000 worsened too much (change +8.33%, "
                        "allowed at most +5.00%: evaluate.gates)"]
    gates, failures = apply_gates(results(2.0, 2.0), {**GATES, "enabled": False})
    assert gates == {"passed": True, "enabled": False, "checks": {}} and not failures


@pytest.mark.parametrize("bad", [{"max_target_bpb_change": "x"}, {"max_general_bpb_increase": None},
                                 {"models": ["base"]}, {"enabled": "yes"}])
def test_gate_params_are_checked(bad):
    with pytest.raises(InputError, match="evaluate.gates"):
        check_gate_params({**GATES, **bad})


def run_evaluate_stage(root, gates):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["evaluate"].update(max_blocks=3, batch_size=2, max_new_tokens=2, prompts=["Die Hauptstadt"],
                              chat_prompts=["Hallo"], gates=gates)
    params["evaluate"]["proficiency"]["enabled"] = False  # tests/test_proficiency.py runs the stage with it
    (root / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    env = {**os.environ, "LANGCPT_MLFLOW": "0"}
    return subprocess.run([sys.executable, str(REPO / "pipelines" / "evaluate.py")], cwd=root, env=env,
                          capture_output=True, text=True)


@pytest.mark.integration
def test_stage_writes_bpb_and_fails_on_a_gate_with_the_reason(tmp_path, smollm2_tokenizer):
    tok = smollm2_tokenizer
    for seed, name in enumerate(("base", "pretrained", "sft")):  # three random models: nothing improved
        make_tiny_model_dir(tmp_path / "models" / name, tok, seed=seed)
    sep = tok.convert_tokens_to_ids("<|endoftext|>")
    (tmp_path / "data" / "tokens").mkdir(parents=True)
    save_blocks(tmp_path / "data" / "tokens" / "val.npy", tokenize_and_pack(GERMAN, tok, 16, sep))
    save_blocks(tmp_path / "data" / "tokens" / "general_val.npy",
                tokenize_and_pack([f"Line {i}: the quick brown fox." for i in range(20)], tok, 16, sep))
    gates = {"enabled": True, "models": ["pretrained", "sft"], "max_target_bpb_change": -0.02,
             "max_general_bpb_increase": 0.05}
    proc = run_evaluate_stage(tmp_path, gates)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "error: evaluate gate: target-language (de) bits per byte of `pretrained`" in proc.stderr
    metrics = json.loads((tmp_path / "reports" / "evaluate" / "metrics.json").read_text())  # written anyway
    assert metrics["gates"]["passed"] is False and not metrics["gates"]["checks"]["pretrained_target_bpb"]["passed"]
    for name in ("base", "pretrained", "sft"):
        assert metrics[name]["target_bpb"] > 0 and metrics[name]["general_bpc"] > 0
    check = metrics["gates"]["checks"]["sft_general_bpb"]
    assert check["before"] == metrics["base"]["general_bpb"] and check["after"] == metrics["sft"]["general_bpb"]
    rows = (tmp_path / "reports" / "evaluate" / "bits_per_byte.csv").read_text().splitlines()
    assert rows[0] == "label,model,dataset,bits_per_byte,bits_per_character" and len(rows) == 7
    assert (tmp_path / "reports" / "evaluate" / "samples.json").exists()
    proc = run_evaluate_stage(tmp_path, {**gates, "enabled": False})
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "reports" / "evaluate" / "metrics.json").read_text())["gates"]["passed"] is True
