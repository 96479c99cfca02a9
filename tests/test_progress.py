"""Progress of the long steps reaches a terminal, and stays out of a pipe (a CI log, `dvc repro > log`).

Each step runs in a real subprocess whose stderr is a pseudo-terminal (pty) and again with stderr on a pipe:
dedup_clean's cleaning + MinHash hashing and its LSH pass (langcpt.clean / langcpt.dedup), the gguf stage's
conversion (llama.cpp's convert_hf_to_gguf.py output) and quantization (one bar per type).
"""
from __future__ import annotations

import fcntl
import io
import itertools
import json
import os
import pty
import re
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time

import pytest
from tqdm import tqdm

from conftest import REPO, make_tiny_model_dir
from langcpt.gguf_export import _follow_tensor_log


def run_python(code: str, cwd, terminal: bool) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `python -c code`; stderr is a pty when `terminal`, else a pipe."""
    cmd = [sys.executable, "-c", textwrap.dedent(code)]
    if not terminal:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
        return p.returncode, p.stdout, p.stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # 200 columns: room for the bars
    with subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        out = proc.stdout.read().decode()
    os.close(master)
    return proc.wait(), out, b"".join(chunks).decode(errors="replace")


CLEAN = """
    import json, sys
    from langcpt.clean import clean_stream
    docs = [json.loads(line) for line, _ in zip(open(sys.argv[1] if len(sys.argv) > 1 else "{src}"), range({n}))]
    r = clean_stream(docs, "kept.jsonl", {{"workers": 1}}, desc="clean + MinHash target")
    print(json.dumps(r.metrics))
"""


@pytest.mark.parametrize("terminal", [True, False])
def test_clean_and_minhash_bars_on_a_terminal_only(tmp_path, terminal):
    src = REPO / "data/clean/target.jsonl"
    if not src.is_file():
        pytest.skip(f"{src} not built (dvc repro dedup_clean)")
    n = 3000  # real German documents of the default corpus (fortunes first)
    rc, out, err = run_python(CLEAN.format(src=src, n=n), tmp_path, terminal)
    assert rc == 0, err
    assert json.loads(out)["input_docs"] == n
    if terminal:
        counts = [int(c) for c in re.findall(r"clean \+ MinHash target: (\d+)doc", err)]
        assert counts and counts[-1] == n and counts == sorted(counts), err[-2000:]
        assert re.search(r"near-dedup \(LSH\):\s+\d+%", err), err[-2000:]
    else:
        assert "MinHash" not in err and "near-dedup" not in err and "doc/s" not in err


GGUF = """
    import sys
    from langcpt.gguf_export import convert_to_gguf, quantize
    f16 = convert_to_gguf("{hf}", "tiny-f16.gguf", "f16")
    quantize(f16, "tiny-q8_0.gguf", "q8_0")
    print("done")
"""


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory, smollm2_tokenizer):
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "hf", smollm2_tokenizer, tie=False)


@pytest.mark.integration
@pytest.mark.parametrize("terminal", [True, False])
def test_conversion_output_and_quantize_bar_on_a_terminal_only(tmp_path, tiny_hf, terminal):
    rc, out, err = run_python(GGUF.format(hf=tiny_hf), tmp_path, terminal)
    assert rc == 0 and out.strip() == "done", err[-3000:]
    from langcpt.gguf_export import _tensor_count

    n = _tensor_count(tmp_path / "tiny-f16.gguf")
    if terminal:
        # convert_hf_to_gguf.py's own lines: one per tensor, then its "Writing" bar
        assert len(re.findall(r"--> F16, shape = ", err)) + len(re.findall(r"--> F32, shape = ", err)) == n, err
        assert "Writing:" in err
        assert re.search(rf"quantize q8_0:\s+\d+%\|.*\| \d+/{n} ", err), err[-2000:]
    else:
        assert err == ""  # nothing reaches a pipe: the converter's output is kept for error messages only


def test_quantize_bar_follows_llama_cpp_tensor_lines():
    """The bar moves to the last "[ i/ n]" line that llama.cpp has written to the captured log, as it grows."""
    bar = tqdm(total=273, file=io.StringIO())
    with tempfile.TemporaryFile() as log, _follow_tensor_log({"fileno": log.fileno()}, bar):
        for i, name in zip((1, 2, 273), ("token_embd.weight", "blk.0.attn_k.weight", "blk.29.ffn_up.weight")):
            os.write(log.fileno(), f"[{i:4d}/ 273] {name:36s} - [   576,   1536,      1,      1], type =    f16, "
                                   f"converting to q8_0 .. size =     1.69 MiB ->     0.90 MiB\n".encode())
            for _ in itertools.takewhile(lambda _: bar.n != i, range(100)):
                time.sleep(0.05)
            assert bar.n == i
    assert bar.n == 273  # and the follower thread ended with the block (no hang)
