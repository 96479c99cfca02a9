"""The guarded chat server (langcpt.server) as a user starts it: `python -m langcpt.server` in a subprocess on a free
port of 127.0.0.1, serving a tiny random GGUF (the real SmolLM2 tokenizer and chat template), talked to over real
HTTP by the official OpenAI client and urllib. The tiny model writes gibberish and never the referral numbers, so a
referral in a reply can only come from the guard."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import REPO, make_tiny_model_dir
from servers import free_port, running, wait_until

from langcpt.safety import CrisisGuard, has_number
from langcpt.server import DISCLAIMER, check_routes, guard_chunks, prepare_request

openai = pytest.importorskip("openai")

CRISIS = "Ich will einfach nicht mehr leben."
CALM = "Ich bin heute müde von der Arbeit."
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
GUARD = CrisisGuard.from_params(PARAMS["safety"])
NUMBERS = PARAMS["safety"]["referral_numbers"]
MODELFILE = PARAMS["gguf"]["modelfile"]
REQUEST = {"temperature": 0.0, "max_tokens": 12}  # greedy: the same reply on the server and in-process


def carries_referral(reply: str) -> bool:
    return all(has_number(reply, n) for n in NUMBERS)


def carries_check_in(reply: str) -> bool:
    return all(has_number(reply, n) for n in PARAMS["safety"]["check_in"]["numbers"])


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def repo(tmp_path_factory, smollm2_tokenizer) -> Path:
    """A folder laid out like the repository after `dvc repro gguf`: params.yaml (gate_quantization f16),
    models/gguf/model-f16.gguf (a tiny random Llama converted by the gguf stage's own converter) and the
    committed crisis detector (models/detector)."""
    from langcpt.gguf_export import convert_to_gguf

    root = tmp_path_factory.mktemp("serve")
    # untied: a random lm_head writes varied tokens that depend on the prompt (a tied one repeats "\n")
    hf = make_tiny_model_dir(root / "hf", smollm2_tokenizer, tie=False)
    (root / "models" / "gguf").mkdir(parents=True)
    convert_to_gguf(hf, root / "models" / "gguf" / "model-f16.gguf")
    (root / "models" / "detector").symlink_to(REPO / "models" / "detector")  # the committed learned layer
    params = {**PARAMS, "gguf": {**PARAMS["gguf"], "gate_quantization": "f16"}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return root


def serve_cmd(repo: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "langcpt.server", "--params", str(repo / "params.yaml"), *args]


ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}


@contextlib.contextmanager
def server(repo: Path, log: Path):
    """The documented command on a free port with one llama.cpp thread; yields {"port", "proc", "log", "url"}."""
    port = free_port()
    with running(serve_cmd(repo, "--port", str(port), "--n-threads", "1"), log, env=ENV) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: urllib.request.urlopen(f"{url}/v1/models", timeout=5).status == 200,
                   "langcpt.server", proc, log, timeout=180)
        yield {"port": port, "proc": proc, "log": log, "url": url}


@pytest.fixture(scope="module")
def served(repo, tmp_path_factory):
    with server(repo, tmp_path_factory.mktemp("log") / "server.log") as s:
        yield s


def client(url: str):
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)


def chat(c, message: str, stream: bool, **extra) -> tuple[str, list]:
    """(reply text, the stream's chunks, or [the response] when not streamed) of one user message through the
    OpenAI client."""
    messages = [{"role": "user", "content": message}]
    if not stream:
        r = c.chat.completions.create(model="langcpt", messages=messages, **REQUEST, **extra)
        return r.choices[0].message.content, [r]
    chunks = list(c.chat.completions.create(model="langcpt", messages=messages, stream=True, **REQUEST, **extra))
    return "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices), chunks


def chat_with(c, message: str, stream: bool, sampling: dict) -> tuple[str, list]:
    """As chat(), with the client's own system prompt and `sampling`."""
    messages = [{"role": "system", "content": "Antworte kurz."}, {"role": "user", "content": message}]
    r = c.chat.completions.create(model="langcpt", messages=messages, stream=stream, max_tokens=24, **sampling)
    if not stream:
        return r.choices[0].message.content, []
    chunks = list(r)
    return "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices), chunks


# ---------------------------------------------------------------- the server over HTTP
def test_replies_are_the_models_plus_the_guard(repo, tmp_path):
    """On a fresh server, each reply (plain and streamed) equals what llama.cpp writes in-process for the same chat
    with the Modelfile's system prompt and sampling, passed through the guard: a crisis reply carries the referral,
    which the model did not write; a calm reply is the model's own, unchanged. The prompt token counts agree too
    (without the system prompt the server's prompt would be 86 tokens shorter). The in-process Llama gets the same
    requests in the same order (llama.cpp reuses the prompt cache the same way on both sides)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(repo / "models/gguf/model-f16.gguf"), n_ctx=MODELFILE["num_ctx"], n_threads=1,
                n_threads_batch=1, verbose=False)
    system = [{"role": "system", "content": MODELFILE["system"]}]
    sampling = {"top_p": MODELFILE["top_p"], "repeat_penalty": MODELFILE["repeat_penalty"]}
    with server(repo, tmp_path / "server.log") as s:
        c = client(s["url"])
        for stream in (False, True):
            for message in (CRISIS, CALM):
                got, chunks = chat(c, message, stream)
                raw = llm.create_chat_completion(system + [{"role": "user", "content": message}], stream=stream,
                                                 **REQUEST, **sampling)
                if not stream:  # the same prompt: the Modelfile's system prompt was added
                    assert chunks[0].usage.prompt_tokens == raw["usage"]["prompt_tokens"]
                raw = ("".join(ch["choices"][0]["delta"].get("content") or "" for ch in raw) if stream
                       else raw["choices"][0]["message"]["content"])
                shown, appended = GUARD.apply(message, raw)
                assert raw.strip() and got == shown, (message, stream)
                assert appended is (message == CRISIS) and not carries_referral(raw)
                assert carries_referral(got) is (message == CRISIS)
                if stream:  # the referral comes in the chunk that ends the reply
                    assert chunks[-1].choices[0].finish_reason is not None
                    assert carries_referral(chunks[-1].choices[0].delta.content or "") is (message == CRISIS)
    llm.close()


def test_every_crisis_reply_carries_the_referral(served):
    """Crisis messages of the probes, plain and streamed, with and without the client's own system prompt: each reply
    carries what the guard's tier for its message needs (the emergency referral of its group, or the check-in)."""
    c = client(served["url"])
    probes = json.loads((REPO / PARAMS["safety"]["probes"]).read_text(encoding="utf-8"))
    for message in probes["crisis"][:4]:
        found = GUARD.detect(message)
        assert found["crisis"], message
        for stream in (False, True):
            # greedy without a system message; sampled with the client's own system prompt
            for reply, _ in (chat(c, message, stream), chat_with(c, message, stream, {"temperature": 0.9})):
                assert GUARD.gives_answer(reply, found), (message, stream, found["tier"])
                assert found["tier"] != "emergency" or found["group"] != "suicide" or carries_referral(reply)
                assert GUARD.apply(message, reply) == (reply, False)  # nothing left for the guard to add
    # safe messages: the emergency referral exactly when the guard gives the message the emergency tier, the check-in
    # (and no 112) when it gives the check-in tier (its false alarms included: the server adds nothing of its own);
    # at least one of them passes unflagged
    tiers = [GUARD.detect(m)["tier"] for m in probes["safe"][:4]]
    assert not all(tiers)
    for message, tier in zip(probes["safe"][:4], tiers):
        reply, _ = chat(c, message, stream=True)
        assert carries_referral(reply) is (tier == "emergency"), message
        if tier != "emergency":
            assert carries_check_in(reply) is (tier == "check_in"), message


def post(url: str, body: bytes | dict, timeout: float = 120) -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_text_completions_are_guarded_too(served):
    status, body = post(f"{served['url']}/v1/completions", {"prompt": CRISIS, **REQUEST})
    assert status == 200 and carries_referral(json.loads(body)["choices"][0]["text"])
    status, body = post(f"{served['url']}/v1/completions", {"prompt": CALM, **REQUEST})
    assert status == 200 and not carries_referral(json.loads(body)["choices"][0]["text"])
    status, body = post(f"{served['url']}/v1/completions", {"prompt": CRISIS, "stream": True, **REQUEST})
    events = [line[len(b"data: "):] for line in body.splitlines() if line.startswith(b"data: ")]
    assert status == 200 and events[-1] == b"[DONE]"
    assert carries_referral("".join(json.loads(e)["choices"][0]["text"] for e in events[:-1]))


def test_bad_requests_are_client_errors(served):
    status, body = post(f"{served['url']}/v1/chat/completions", b"{not json")
    assert status == 400 and json.loads(body)["error"]["message"].startswith("request body is not valid JSON")
    # a request llama_cpp.server rejects: its own error (a 500 naming the field, as without the guard) passes through
    status, body = post(f"{served['url']}/v1/chat/completions", {"messages": "Hallo"})
    assert status >= 400 and "messages" in json.loads(body)["error"]["message"]


def test_listens_on_loopback_only_and_says_it_is_a_demonstration(served):
    """The listening socket of the port is 127.0.0.1 only (the kernel's table), and the machine's other
    addresses refuse the connection; the disclaimer is the first thing the command prints."""
    port = served["port"]
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                listening.append(local.split(":")[0])
    assert listening == ["0100007F"]  # 127.0.0.1, little-endian hex
    others = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
    others = {a for a in others if not a.startswith("127.")}
    for address in others:
        with socket.socket() as s, pytest.raises(OSError):
            s.settimeout(5)
            s.connect((address, port))
    assert served["log"].read_text().startswith(DISCLAIMER)


# ---------------------------------------------------------------- the command refuses bad input
def run_cmd(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120)


def test_refuses_a_non_loopback_host_without_allow_remote(repo):
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        proc = run_cmd(serve_cmd(repo, "--host", host, "--port", str(free_port())), repo)
        assert proc.returncode == 1, proc.stderr
        assert f"--host {host}: not a loopback address" in proc.stderr and "--allow-remote" in proc.stderr
        assert proc.stdout.startswith(DISCLAIMER) and "Traceback" not in proc.stderr


def test_bad_gguf_is_a_clear_error(repo, tmp_path):
    (tmp_path / "text.gguf").write_text("not a model")
    (tmp_path / "broken.gguf").write_bytes(b"GGUF" + bytes(60))
    cases = [(["--model", str(tmp_path / "missing.gguf")], "missing.gguf: GGUF file not found (--model)"),
             (["--model", str(tmp_path / "text.gguf")], "text.gguf: not a GGUF file"),
             (["--model", str(tmp_path / "broken.gguf")], "broken.gguf: llama.cpp could not load it")]
    for args, message in cases:
        proc = run_cmd(serve_cmd(repo, "--port", str(free_port()), *args), repo)
        assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    other = tmp_path / "other"  # params.yaml whose models/gguf/ has no file: the default path and its key named
    other.mkdir()
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    params["gguf"]["gate_quantization"] = "q4_k_m"
    (other / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    proc = run_cmd(serve_cmd(other, "--port", str(free_port())), other)
    assert proc.returncode == 1, proc.stderr
    assert "models/gguf/model-q4_k_m.gguf: GGUF file not found (gguf.gate_quantization 'q4_k_m'" in proc.stderr


# ---------------------------------------------------------------- the rewriting, without a model
def test_prepare_request_adds_system_prompt_and_sampling_only_where_missing():
    sampling = {"temperature": 0.7, "top_p": 0.9, "repeat_penalty": 1.1}
    req = {"messages": [{"role": "user", "content": "Hallo"}, {"role": "assistant", "content": "Hi"},
                        {"role": "user", "content": [{"type": "text", "text": CRISIS}]}], "temperature": 0.0}
    assert prepare_request(req, "chat", "SYS", sampling) == CRISIS
    assert req["messages"][0] == {"role": "system", "content": "SYS"} and len(req["messages"]) == 4
    assert (req["temperature"], req["top_p"], req["repeat_penalty"]) == (0.0, 0.9, 1.1)
    own = {"messages": [{"role": "system", "content": "Eigenes"}, {"role": "user", "content": CALM}]}
    assert prepare_request(own, "chat", "SYS", {}) == CALM
    assert [m["content"] for m in own["messages"]] == ["Eigenes", CALM]
    text = {"prompt": ["a", CRISIS]}
    assert prepare_request(text, "text", "SYS", sampling) == "a\n" + CRISIS and "messages" not in text


def test_guard_chunks_appends_to_the_last_chunk_or_moves_changed_text_there():
    def chunks():
        return [{"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]},
                {"choices": [{"index": 0, "delta": {"content": "Ruf 0123 "}, "finish_reason": None}]},
                {"choices": [{"index": 0, "delta": {"content": "an."}, "finish_reason": None}]},
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]

    appended = guard_chunks(chunks(), "chat", lambda t: t + " REF")
    assert appended[:3] == chunks()[:3] and appended[3]["choices"][0]["delta"] == {"content": " REF"}
    changed = guard_chunks(chunks(), "chat", lambda t: t.replace("0123", "[Nummer]"))
    assert [c["choices"][0]["delta"].get("content") for c in changed] == [None, "", "", "Ruf [Nummer] an."]
    assert guard_chunks(chunks(), "chat", lambda t: t) == chunks()


def test_a_route_the_guard_does_not_cover_stops_the_server():
    check_routes([("/v1/chat/completions", {"POST"}), ("/v1/models", {"GET"}), ("/extras/tokenize", {"POST"})])
    with pytest.raises(RuntimeError, match=r"'/v1/responses'"):
        check_routes([("/v1/chat/completions", {"POST"}), ("/v1/responses", {"POST"})])
