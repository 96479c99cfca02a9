import json

import pytest

from langcpt.base_model import materialise_base
from langcpt.fileio import InputError


def test_gguf_tokenizer_is_repaired_to_the_original_byte_level_bpe(smollm2_tokenizer):
    tok = smollm2_tokenizer
    assert (tok.eos_token, tok.pad_token, tok.bos_token) == ("<|im_end|>", "<|im_end|>", "<|im_start|>")
    assert len(tok("12345", add_special_tokens=False)["input_ids"]) == 5  # SmolLM2 splits digits
    text = "Grüße aus München: 3 Äpfel, 12 Straßen!\n\tTab"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    assert tok.convert_tokens_to_ids("<|im_end|>") == 2 and "<|im_start|>" in tok.chat_template


def test_local_checkpoint_is_copied_with_a_summary(tiny_model_dir, tmp_path):
    out = tmp_path / "base"
    summary = materialise_base({"source": "local", "path": str(tiny_model_dir)}, out, tmp_path / "cache")
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    assert summary["vocab_size"] == 49152 and summary["eos_token"] == "<|im_end|>"
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 2


def test_bad_local_paths_are_clear_errors_and_write_nothing(tmp_path):
    out = tmp_path / "base"
    with pytest.raises(InputError, match="base.path: .*does not exist"):
        materialise_base({"source": "local", "path": str(tmp_path / "nope")}, out, tmp_path)
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(InputError, match="no \\*.safetensors"):
        materialise_base({"source": "local", "path": str(tmp_path / "pickled")}, out, tmp_path)
    with pytest.raises(InputError, match="base.source"):
        materialise_base({"source": "ftp"}, out, tmp_path)
    assert not out.exists()


def test_tokenizer_without_chat_template_is_refused(tiny_model_dir, tmp_path):
    cfg_path = tiny_model_dir / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("chat_template", None)
    cfg_path.write_text(json.dumps(cfg))
    (tiny_model_dir / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(InputError, match="no chat template"):
        materialise_base({"source": "local", "path": str(tiny_model_dir)}, tmp_path / "base", tmp_path)
