"""The guarded chat server: the GGUF behind llama-cpp-python's OpenAI-compatible server, with the crisis guard on
every reply.

    python -m langcpt.server              # or: make serve   (http://127.0.0.1:8000/v1, model "langcpt")

This is llama-cpp-python's own server (`llama_cpp.server.app.create_app`, the one `python -m llama_cpp.server`
runs), not a rewrite: every route of its API stays as it is. One ASGI middleware (`GuardMiddleware`) sits in front
of the routes that generate text (`GUARDED_ROUTES`):
- on the way in, a chat request without a system message gets the Modelfile's system prompt
  (`gguf.modelfile.system`), and a request that does not set temperature / top_p / repeat_penalty gets the
  Modelfile's values, so a client sees the model as `ollama run` shows it;
- on the way out, every reply goes through the crisis guard (`langcpt.safety`) with the user's last message (on
  /v1/completions: the whole prompt). A streamed reply (stream=true) is held back until the model has finished,
  guarded as a whole, then sent as the same server-sent events; the referral arrives in the last chunk (the one
  with finish_reason). Holding back costs the word-by-word display but means no text reaches the client before
  the guard has seen all of it (a guard that removes text could not take back what was already sent).
The routes are checked at start: a text-generating route that the middleware does not cover stops the server.

The server listens on 127.0.0.1 unless --host names another address and --allow-remote is given: it has no
authentication and it is a demonstration, not a clinical tool (`DISCLAIMER`, printed at start).
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
from pathlib import Path

from .fileio import InputError

DISCLAIMER = (
    "langcpt guarded chat server: a DEMONSTRATION, NOT A CLINICAL TOOL. A small language model writes the replies; "
    "they can be wrong or harmful. A crisis guard adds referrals to replies to the crisis messages it recognises; "
    "it misses some and is no substitute for a person. It does not replace professional help, a crisis service or "
    "emergency services.\n"
    "Dies ist eine Demonstration, kein klinisches Werkzeug und kein Ersatz für professionelle Hilfe. In akuter "
    "Gefahr: Notruf 112; Telefonseelsorge rund um die Uhr: 0800 111 0 111 oder 0800 111 0 222.")

# Routes of llama_cpp.server that generate text, and where a reply's text sits in their JSON: chat completions
# (choices[].message.content; streamed: choices[].delta.content), text completions (choices[].text).
GUARDED_ROUTES = {"/v1/chat/completions": "chat", "/v1/completions": "text",
                  "/v1/engines/copilot-codex/completions": "text"}
# Routes that take input but generate no text (checked at start: any other POST route stops the server).
UNGUARDED_POST_ROUTES = {"/v1/embeddings", "/extras/tokenize", "/extras/tokenize/count", "/extras/detokenize"}
SAMPLING_KEYS = ("temperature", "top_p", "repeat_penalty")  # Modelfile PARAMETERs the OpenAI request also has
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def _load_guard(params: dict, root: Path | None):
    """The crisis guard of every reply (the one place the server builds it): patterns and the learned detector,
    whose file is relative to the repository `root`."""
    from .safety import load_guard

    return load_guard(params, root=root)


# ---------------------------------------------------------------- request and reply rewriting
def _text(content) -> str:
    """A message's content as text: a string, or the text parts of a list of content parts."""
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


def prepare_request(request: dict, kind: str, system: str | None, sampling: dict) -> str:
    """Add the system prompt (chat, when the request has no system message) and the sampling defaults (keys the
    request does not set) to `request` in place; return the text the guard checks (the last user message of a chat,
    the prompt of a text completion)."""
    from .safety import last_user_message

    for key, value in sampling.items():
        if value is not None and request.get(key) is None:
            request[key] = value
    if kind == "chat":
        messages = request.get("messages")
        if not isinstance(messages, list):
            return ""
        if system and not any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": system})
        return last_user_message([{"role": m.get("role"), "content": _text(m.get("content"))}
                                  for m in messages if isinstance(m, dict)])
    prompt = request.get("prompt")
    return "\n".join(map(str, prompt)) if isinstance(prompt, list) else _text(prompt)


def _piece(choice: dict, kind: str, streamed: bool) -> str:
    if kind == "text":
        return choice.get("text") or ""
    return (choice.get("delta" if streamed else "message") or {}).get("content") or ""


def _set_piece(choice: dict, kind: str, streamed: bool, text: str) -> None:
    if kind == "text":
        choice["text"] = text
    else:
        choice.setdefault("delta" if streamed else "message", {})["content"] = text


def guard_reply(body: dict, kind: str, apply) -> dict:
    """A non-streamed reply with each choice's text replaced by `apply(text)`."""
    for choice in body.get("choices") or []:
        _set_piece(choice, kind, False, apply(_piece(choice, kind, False)))
    return body


def guard_chunks(chunks: list[dict], kind: str, apply) -> list[dict]:
    """Streamed chunks (in order) with each choice's text guarded as a whole: when the guard only appends, the
    original chunks stay and the addition goes into the choice's last chunk (the one with finish_reason); when it
    changes the text otherwise, the choice's whole text goes into its last chunk and the earlier ones carry none."""
    by_index: dict[int, list[dict]] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            by_index.setdefault(choice.get("index", 0), []).append(choice)
    for choices in by_index.values():
        text = "".join(_piece(c, kind, True) for c in choices)
        shown = apply(text)
        if shown == text:
            continue
        last = choices[-1]
        if shown.startswith(text):
            _set_piece(last, kind, True, _piece(last, kind, True) + shown[len(text):])
            continue
        for c in choices[:-1]:
            if _piece(c, kind, True):
                _set_piece(c, kind, True, "")
        _set_piece(last, kind, True, shown)
    return chunks


class _GuardedSend:
    """The ASGI `send` of one guarded request: passes errors through, rewrites a 200 JSON body, holds back a 200
    event stream's data events until it ends and sends them guarded (comments such as keep-alive pings go on)."""

    def __init__(self, send, kind: str, apply):
        self.send, self.kind, self.apply = send, kind, apply
        self.mode, self.start, self.buffer, self.events = "pass", None, b"", []

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            headers = {k.lower(): v for k, v in message.get("headers", [])}
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip()
            if message["status"] == 200 and ctype == b"application/json":
                self.mode, self.start = "json", message
                return
            if message["status"] == 200 and ctype == b"text/event-stream":
                self.mode = "sse"
            return await self.send(message)
        if message["type"] != "http.response.body" or self.mode == "pass":
            return await self.send(message)
        self.buffer += message.get("body", b"")
        more = message.get("more_body", False)
        if self.mode == "json":
            if not more:
                await self._send_json()
            return
        while (m := _EVENT_END.search(self.buffer)) is not None:
            raw, self.buffer = self.buffer[:m.end()], self.buffer[m.end():]
            if any(line.startswith(b"data:") for line in raw.splitlines()):
                self.events.append((raw, m.group()))
            else:
                await self.send({"type": "http.response.body", "body": raw, "more_body": True})
        if not more:
            await self.send({"type": "http.response.body", "body": self._guarded_events() + self.buffer,
                             "more_body": False})

    async def _send_json(self):
        body = guard_reply(json.loads(self.buffer), self.kind, self.apply)
        data = json.dumps(body).encode()
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() != b"content-length"]
        await self.send({**self.start, "headers": headers + [(b"content-length", str(len(data)).encode())]})
        await self.send({"type": "http.response.body", "body": data, "more_body": False})

    def _guarded_events(self) -> bytes:
        def data(raw: bytes) -> bytes:
            lines = [line[5:] for line in raw.splitlines() if line.startswith(b"data:")]
            return b"\n".join(line[1:] if line.startswith(b" ") else line for line in lines)

        parsed = []
        for raw, sep in self.events:
            try:
                parsed.append(json.loads(data(raw)))
            except ValueError:  # "[DONE]"
                parsed.append(None)
        chunks = [c for c in parsed if isinstance(c, dict)]
        before = [json.dumps(c) for c in chunks]
        guard_chunks(chunks, self.kind, self.apply)
        out, i = [], 0
        for (raw, sep), chunk in zip(self.events, parsed):
            if isinstance(chunk, dict):
                text = json.dumps(chunk)
                out.append(raw if text == before[i] else b"data: " + text.encode() + sep)
                i += 1
            else:
                out.append(raw)
        return b"".join(out)


async def _send_error(send, status: int, message: str) -> None:
    """An OpenAI-style error response."""
    data = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": status}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data, "more_body": False})


class GuardMiddleware:
    """ASGI middleware over llama_cpp.server's app: the system prompt and sampling defaults into every
    text-generating request, the crisis guard onto every reply (module docstring)."""

    def __init__(self, app, guard, system: str | None = None, sampling: dict | None = None):
        self.app, self.guard, self.system, self.sampling = app, guard, system, dict(sampling or {})

    async def __call__(self, scope, receive, send):
        kind = GUARDED_ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            request = json.loads(body)
        except ValueError as e:  # llama_cpp.server's own handler would fail with a 500 and a traceback
            return await _send_error(send, 400, f"request body is not valid JSON: {e}")
        user = ""
        if isinstance(request, dict):  # anything else: llama_cpp.server answers with its validation error
            user = prepare_request(request, kind, self.system, self.sampling)
            body = json.dumps(request).encode()
            scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
                     + [(b"content-length", str(len(body)).encode())]}
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, _GuardedSend(send, kind, lambda reply: self.guard.apply(user, reply)[0]))


# ---------------------------------------------------------------- the app and the command
def check_routes(paths: list[tuple[str, set[str]]]) -> None:
    """Fail closed: every POST route (path, methods) must be guarded or known to generate no text."""
    unknown = sorted(p for p, methods in paths if "POST" in methods and p not in GUARDED_ROUTES
                     and p not in UNGUARDED_POST_ROUTES)
    if unknown:
        raise RuntimeError(f"llama_cpp.server has POST routes the crisis guard does not cover: {unknown}; add them "
                           "to langcpt.server.GUARDED_ROUTES (text replies) or UNGUARDED_POST_ROUTES (no text)")


def app_routes(app) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route of llama_cpp.server's app: its own (FastAPI's docs) and those of the router
    it includes (llama_cpp.server.app.router); a route of another kind is an error (fail closed)."""
    from llama_cpp.server import app as server_app

    routes = []
    for route in app.routes:
        if getattr(route, "original_router", None) is server_app.router:  # FastAPI's include_router entry
            routes += server_app.router.routes
        elif hasattr(route, "path"):
            routes.append(route)
        else:
            raise RuntimeError(f"llama_cpp.server's app has a route langcpt.server cannot check: {route!r}")
    return [(r.path, set(getattr(r, "methods", None) or ())) for r in routes]


def gguf_path(params: dict, root: Path, model: str | None = None) -> Path:
    """The GGUF to serve: `model`, else models/gguf/model-<gguf.gate_quantization>.gguf under `root` (the file
    the Modelfile and the registered pyfunc use); a missing or non-GGUF file is an InputError."""
    if model:
        path, why = Path(model), "--model"
    else:
        quant = params["gguf"]["gate_quantization"]
        path = root / "models" / "gguf" / f"model-{quant}.gguf"
        why = f"gguf.gate_quantization {quant!r}; build it with `dvc repro gguf`, or pass --model"
    if not path.is_file():
        raise InputError(f"{path}: GGUF file not found ({why})")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise InputError(f"{path}: not a GGUF file (no GGUF magic bytes) ({why})")
    return path


def build_app(params: dict, model: Path, n_threads: int | None = None, verbose: bool = False,
              root: Path | None = None):
    """llama_cpp.server's FastAPI app for `model` with GuardMiddleware (the guard, system prompt and sampling of
    `params`; `root`: the repository its detector path is relative to, default the working directory)."""
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    if os.environ.get("CONFIG_FILE"):
        raise InputError("CONFIG_FILE is set: llama_cpp.server would load the models of that file instead; unset it "
                         "(langcpt.server takes its settings from params.yaml)")
    cfg = params["gguf"]
    guard = _load_guard(params, root)
    settings = {"model": str(model), "model_alias": cfg.get("ollama_name") or "langcpt",
                "n_ctx": cfg["modelfile"].get("num_ctx") or 2048, "verbose": verbose}
    if n_threads:
        settings |= {"n_threads": n_threads, "n_threads_batch": n_threads}
    try:
        app = create_app(server_settings=ServerSettings(), model_settings=[ModelSettings(**settings)])
    except ValueError as e:  # llama.cpp could not load the file
        raise InputError(f"{model}: llama.cpp could not load it ({e})") from None
    check_routes(app_routes(app))
    app.description = DISCLAIMER
    app.add_middleware(GuardMiddleware, guard=guard, system=cfg["modelfile"].get("system") or None,
                       sampling={k: cfg["modelfile"].get(k) for k in SAMPLING_KEYS})
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> None:
    from .params import load_params

    parser = argparse.ArgumentParser(prog="python -m langcpt.server", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml", help="params.yaml to read (default: params.yaml)")
    parser.add_argument("--model", help="GGUF file (default: models/gguf/model-<gguf.gate_quantization>.gguf)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host that is not a loopback address (the server has no authentication)")
    parser.add_argument("--n-threads", type=int, default=None, help="llama.cpp threads (default: its own)")
    parser.add_argument("--verbose", action="store_true", help="llama.cpp's load and timing log")
    args = parser.parse_args(argv)
    print(DISCLAIMER, flush=True)
    if not is_loopback(args.host) and not args.allow_remote:
        raise InputError(f"--host {args.host}: not a loopback address; the server has no authentication and is a "
                         "demonstration, so it listens on 127.0.0.1 only unless you also pass --allow-remote")
    params_path = Path(args.params)
    params = load_params(params_path)
    model = gguf_path(params, params_path.resolve().parent, args.model)
    app = build_app(params, model, args.n_threads, args.verbose, root=params_path.resolve().parent)

    import uvicorn

    print(f"serving {model} as model {params['gguf'].get('ollama_name') or 'langcpt'!r} with the crisis guard on "
          f"http://{args.host}:{args.port}/v1 (OpenAI API: /v1/chat/completions)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    from .stage import run_stage

    run_stage(lambda: main(sys.argv[1:]))
