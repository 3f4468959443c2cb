"""A fake OpenAI API (embeddings and chat completions) on 127.0.0.1, for tests and for trying the bench
without a key.

    fake = FakeOpenAI(); fake.start()
    client = OpenAI(api_key=fake.api_key, base_url=fake.url, max_retries=0)   # fake.url ends in /v1
    ... client.embeddings.create(model="text-embedding-3-small", input=["export invoices"]) ...
    fake.requests[-1]["input"]             # every request body, in order (also .headers, .path)
    fake.inputs()                          # every text embedded, in order
    fake.fail(401)                         # every request now answers 401 (fail(None) heals it)
    fake.fail(500, times=1)                # only the next request fails
    fake.answer({"label": "…", "summary": "…", "quotes": [...]})  # the next chat answer (a str is sent as is)
    fake.chat_requests()                   # the body of every chat request, in order
    fake.hold(); …; fake.release()         # requests wait (unanswered) until released: timeouts

``POST /v1/embeddings`` and ``POST /v1/chat/completions`` exist. Chat answers are the ones queued
with ``answer`` (content as given, ``finish_reason``/``refusal`` too); with none queued, the fake
reads the JSON array of strings in the last user message (as bot/llm_writer.py sends it) and
answers a label of the first message's first words, a two-sentence summary and its first two
messages as quotes. Like the real API it refuses ``response_format`` json_object unless a message
says "json", and unknown chat models with 404.

Embeddings: A vector is a hashed bag of words (lower-cased words, a
plural "s" dropped, common words left out, each word into one of ``dim`` signed buckets), so texts
sharing words get similar vectors, deterministically. Like the real API it answers unit-length
vectors (``scale`` changes that, to test the client's own normalising), honours ``dimensions`` and
``encoding_format`` ("float", or "base64" which the openai package asks for by default), refuses
empty strings with 400, and checks the bearer key with 401.

The server runs in its own thread (``ThreadingHTTPServer``): the embedder's synchronous client can
call it from a test's event loop without blocking it.

    python -m tests.fakes.openai_api [PORT]     # run it alone (key: sk-fake), e.g. for bench/similarity.py
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

__all__ = ["FakeOpenAI", "fake_vector", "default_chat_answer", "MODEL_DIMENSIONS", "CHAT_MODELS"]

MODEL_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
CHAT_MODELS = frozenset({"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-4.1-nano"})
MAX_INPUTS = 2048  # the real API's limit per request
STOP = frozenset("a an and are as at be but by can could do for from has have i in is it its me my of on or our "
                 "please so that the their this to us was we were when will with would you your".split())
_WORD = re.compile(r"[^\W_]+")

ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-f***ake."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def _words(text: str) -> list[str]:
    out = []
    for word in _WORD.findall(text.lower()):
        if word in STOP:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


def fake_vector(text: str, dim: int) -> np.ndarray:
    """The fake's embedding of ``text``: a unit-length hashed bag of words (zeros if it has none)."""
    vector = np.zeros(dim, np.float32)
    for word in _words(text):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dim
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


@dataclass
class _Failure:
    status: int
    times: int | None  # None: until fail(None)


@dataclass
class _ChatAnswer:
    content: str | None
    finish_reason: str
    refusal: str | None


def default_chat_answer(body: dict) -> dict:
    """A plausible answer to bot/llm_writer.py's request: built from the messages it shows."""
    texts: list[str] = []
    users = [m.get("content") for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    last = users[-1] if users and isinstance(users[-1], str) else ""
    start, end = last.find("["), last.rfind("]")
    if 0 <= start < end:
        try:
            got = json.loads(last[start:end + 1])
            texts = [t for t in got if isinstance(t, str)] if isinstance(got, list) else []
        except ValueError:
            pass
    first = " ".join((texts[0] if texts else "customers").split()[:5])
    return {"label": f"About: {first}", "summary": f"{len(texts)} customers wrote about this. The fake wrote this.",
            "quotes": texts[:2]}


@dataclass
class FakeOpenAI:
    api_key: str = "sk-fake"
    host: str = "127.0.0.1"
    port: int = 0
    scale: float = 1.0  # multiply every vector: the real API answers unit vectors, the embedder must not rely on it
    requests: list[dict] = field(default_factory=list)  # {"path", "headers", "body"} of every request, in order
    _failures: deque = field(default_factory=deque)
    _answers: deque = field(default_factory=deque)  # queued chat answers (_ChatAnswer)
    _open: threading.Event = field(default_factory=threading.Event)  # cleared by hold(): requests wait
    _connections: set = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        """The base URL to give the client (``OPENAI_BASE_URL``)."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> "FakeOpenAI":
        fake = self
        self._open.set()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def setup(self):
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self):
                with fake._lock:
                    fake._connections.discard(self.connection)
                super().finish()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = fake._answer(self.path, dict(self.headers), raw)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting (hold()) or the fake was stopped
                    self.close_connection = True

            def do_GET(self):
                self.do_POST()

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop open (keep-alive) connections: the API is then unreachable."""
        self._open.set()  # held requests end
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def fail(self, status: int | None, times: int | None = None) -> None:
        """Answer ``status`` to the next ``times`` requests (every request when None); None heals."""
        with self._lock:
            self._failures.clear()
            if status is not None:
                self._failures.append(_Failure(status, times))

    def answer(self, content: str | dict | list | None, *, finish_reason: str = "stop",
               refusal: str | None = None) -> None:
        """Queue the next chat answer: a dict or list is sent as JSON, a str as it is."""
        text = content if isinstance(content, str) or content is None else json.dumps(content, ensure_ascii=False)
        with self._lock:
            self._answers.append(_ChatAnswer(text, finish_reason, refusal))

    def hold(self) -> None:
        """Requests from now on wait, unanswered, until ``release`` (or ``stop``)."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def chat_requests(self) -> list[dict]:
        """The body of every chat completions request, in order (failed requests included)."""
        return [r["body"] for r in self.requests if r["path"].rstrip("/") == "/v1/chat/completions"]

    def inputs(self) -> list[str]:
        """Every text sent for embedding, in order (failed requests included)."""
        out: list[str] = []
        for request in self.requests:
            got = request["body"].get("input") if isinstance(request["body"], dict) else None
            out += [got] if isinstance(got, str) else list(got or [])
        return out

    def vector(self, text: str, dim: int = 1536) -> np.ndarray:
        return fake_vector(text, dim)

    # ------------------------------------------------------------------ the API

    def _pending_failure(self) -> int | None:
        with self._lock:
            if not self._failures:
                return None
            failure = self._failures[0]
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.popleft()
            return failure.status

    @staticmethod
    def _error(status: int, message: str | None = None, param: str | None = None):
        kind, code, default = ERRORS.get(status, ("server_error", None, "Error."))
        headers = {"retry-after-ms": "10"} if status in (429, 500, 503) else {}  # retries stay fast
        return status, {"error": {"message": message or default, "type": kind, "param": param, "code": code}}, headers

    def _answer(self, path: str, headers: dict, raw: bytes):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
        self._open.wait(timeout=60)  # hold(): the client times out meanwhile
        if path.rstrip("/") not in ("/v1/embeddings", "/v1/chat/completions"):
            return 404, {"error": {"message": f"Invalid URL (POST {path})", "type": "invalid_request_error",
                                   "param": None, "code": None}}, {}
        failure = self._pending_failure()
        if failure is not None:
            return self._error(failure)
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return self._error(401)
        if not isinstance(body, dict):
            return self._error(400, "We could not parse the JSON body of your request.")
        if path.rstrip("/") == "/v1/chat/completions":
            return self._chat(body)
        model, texts = body.get("model"), body.get("input")
        if model not in MODEL_DIMENSIONS:
            return self._error(404, f"The model `{model}` does not exist or you do not have access to it.")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return self._error(400, "'input' is a required property: a string or an array of strings.", "input")
        if len(texts) > MAX_INPUTS:
            return self._error(400, f"'input' may hold at most {MAX_INPUTS} items.", "input")
        if any(t == "" for t in texts):
            return self._error(400, "'input' cannot contain an empty string.", "input")
        dim = body.get("dimensions") or MODEL_DIMENSIONS[model]
        encoding = body.get("encoding_format") or "float"
        data = []
        for i, text in enumerate(texts):
            vector = (fake_vector(text, dim) * self.scale).astype(np.float32)
            value = base64.b64encode(vector.tobytes()).decode() if encoding == "base64" else vector.tolist()
            data.append({"object": "embedding", "index": i, "embedding": value})
        tokens = sum(len(t.split()) for t in texts)
        return 200, {"object": "list", "data": data, "model": model,
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, {}

    def _chat(self, body: dict):
        model, messages = body.get("model"), body.get("messages")
        if model not in CHAT_MODELS:
            return self._error(404, f"The model `{model}` does not exist or you do not have access to it.")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
            return self._error(400, "'messages' must be a non-empty array of messages with text content.", "messages")
        if (body.get("response_format") or {}).get("type") == "json_object" and \
                not any("json" in m["content"].lower() for m in messages):
            return self._error(400, "'messages' must contain the word 'json' in some form, to use "
                                    "'response_format' of type 'json_object'.", "messages")
        with self._lock:
            queued = self._answers.popleft() if self._answers else None
        if queued is None:
            queued = _ChatAnswer(json.dumps(default_chat_answer(body), ensure_ascii=False), "stop", None)
        prompt = sum(len(m["content"].split()) for m in messages)
        done = len((queued.content or "").split())
        with self._lock:
            number = len(self.requests)
        return 200, {"id": f"chatcmpl-fake-{number}", "object": "chat.completion", "created": 1700000000,
                     "model": model, "system_fingerprint": None,
                     "choices": [{"index": 0, "finish_reason": queued.finish_reason, "logprobs": None,
                                  "message": {"role": "assistant", "content": queued.content,
                                              "refusal": queued.refusal}}],
                     "usage": {"prompt_tokens": prompt, "completion_tokens": done,
                               "total_tokens": prompt + done}}, {}


if __name__ == "__main__":
    server = FakeOpenAI(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(f"fake OpenAI API (embeddings, chat) on {server.url} (OPENAI_API_KEY={server.api_key}); Ctrl-C stops it",
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
