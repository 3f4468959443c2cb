"""The one OpenAI client (optional), and what Pitchin uses it for: embeddings for similar suggestions
(here) and the labels and summaries of briefing issues (``bot/llm_writer.py``).

AI only drafts and summarises for employees; nothing AI-written reaches a customer without a person
sending it. Embeddings only decide which existing suggestion cards are offered to the employee
logging feedback.

``make_llm_client(settings)`` builds the client once, in the composition root (``bot/app.py``), or
returns None when ``OPENAI_API_KEY`` is not set; everything that talks to OpenAI is given that
client. ``OpenAIEmbedder`` implements ``handlers.similarity.Embedder`` with the embeddings API.
When it fails at runtime the suggestion index switches, whole, to the local model
(``handlers.feedback_index``): one index never holds vectors of two models.

``openai`` is imported lazily: a process without ``OPENAI_API_KEY`` never loads it.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.config import Settings
from handlers.similarity import MAX_CHARS, normalize_rows

if TYPE_CHECKING:
    from openai import OpenAI

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
MAX_BATCH = 256  # inputs per request (the API allows 2048; smaller requests fail and retry more cheaply)
MAX_BATCH_CHARS = 100_000  # characters per request: well under the API's 300,000 tokens per request
CACHE_SIZE = 4096  # texts remembered per embedder (1536 floats each: about 25 MB when full)
TIMEOUT = 10.0  # seconds per request: embeddings are asked for while someone waits for an answer
MAX_RETRIES = 1  # the client's own retries of 408/409/429/5xx and connection errors

_HAS_WORD = re.compile(r"[^\W_]")  # as in handlers.similarity: a text without a letter or digit has no meaning


class LLMError(RuntimeError):
    """The OpenAI API refused or failed. The message says why in words an operator understands;
    ``status`` is the HTTP status when there was an answer. The openai exception is the ``__cause__``."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class EmbeddingError(LLMError):
    """The embeddings API refused or failed."""


def make_llm_client(settings: Settings, *, timeout: float = TIMEOUT, max_retries: int = MAX_RETRIES) -> "OpenAI | None":
    """The process's one OpenAI client, or None when ``OPENAI_API_KEY`` is not set.

    Everything comes from ``settings`` (never the client's own reading of the environment), so
    what ``pitchin config`` shows is what is used."""
    if not settings.openai_api_key:
        return None
    from openai import OpenAI

    return OpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url or DEFAULT_BASE_URL,
                  timeout=timeout, max_retries=max_retries)


def explain_api_error(exc: Exception, client: Any, model: str, *, use: str = "embeddings",
                      task: str = "make embeddings", setting: str = "PITCHIN_OPENAI_EMBEDDING_MODEL",
                      without: str = "to use the local model", error: type[LLMError] = EmbeddingError) -> LLMError:
    """An openai exception → an ``error`` that says what to do about it. ``use`` names the API
    ("embeddings", "chat"), ``task`` what was asked of it, ``setting`` the variable naming the model,
    ``without`` what Pitchin does without a key."""
    import openai

    base = str(getattr(client, "base_url", "") or DEFAULT_BASE_URL).rstrip("/")
    status = getattr(exc, "status_code", None)
    detail = ""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        detail = f" The API said: {body['message']}"
    if isinstance(exc, openai.AuthenticationError):
        return error(f"OPENAI_API_KEY was refused by {base} ({status}): check the key, or unset "
                     f"OPENAI_API_KEY {without}.{detail}", status)
    if isinstance(exc, openai.PermissionDeniedError):
        return error(f"OPENAI_API_KEY may not use the {use} model “{model}” at {base} ({status}).{detail}", status)
    if isinstance(exc, openai.NotFoundError):
        return error(f"{base} has no {use} model “{model}” ({status}): check {setting} and OPENAI_BASE_URL."
                     f"{detail}", status)
    if isinstance(exc, openai.RateLimitError):
        return error(f"{base} is rate-limiting this key or its quota is used up ({status}).{detail}", status)
    if isinstance(exc, openai.APIStatusError):
        if status is not None and status >= 500:
            return error(f"{base} failed to {task} ({status}).{detail}", status)
        return error(f"{base} refused the {use} request ({status}).{detail}", status)
    if isinstance(exc, openai.APITimeoutError):
        return error(f"{base} did not answer the {use} request in time.")
    if isinstance(exc, openai.APIConnectionError):
        return error(f"Cannot reach {base} for {use} (OPENAI_BASE_URL): {exc.__cause__ or exc}")
    return error(f"The {use} request to {base} failed: {type(exc).__name__}: {exc}")


class OpenAIEmbedder:
    """``handlers.similarity.Embedder`` through the OpenAI embeddings API (synchronous client).

    * texts are cut to ``handlers.similarity.MAX_CHARS`` like the local model's, de-duplicated,
      and sent in requests of at most ``batch_size`` (≤ 256) inputs and 100,000 characters;
    * a text without a letter or digit gets a zero row and is never sent (the API refuses "");
    * rows are L2-normalised here (other OpenAI-compatible servers may not do it);
    * the last ``cache_size`` texts' rows are remembered, so rebuilding an index (at the first
      lookup, after a merge) does not pay for the same texts again;
    * a refusal or failure raises ``EmbeddingError`` (401: "OPENAI_API_KEY was refused …").

    Thread-safe: the cache has a lock, which is not held while waiting for the API.
    """

    def __init__(self, client: Any, model: str = DEFAULT_EMBEDDING_MODEL, *, dimensions: int | None = None,
                 batch_size: int = MAX_BATCH, cache_size: int = CACHE_SIZE):
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size is {batch_size}; use 1 to {MAX_BATCH}")
        if dimensions is not None and dimensions <= 0:
            raise ValueError(f"dimensions is {dimensions}; use a positive number or None for the model's own")
        self.client = client
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.cache_size = max(cache_size, 0)
        self.name = f"openai:{model}" + (f"-{dimensions}" if dimensions else "")
        self.dim: int | None = dimensions or KNOWN_DIMENSIONS.get(model)  # else learned from the first answer
        self.api_calls = 0  # requests made, answered or not
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAIEmbedder({self.name!r})"

    def embed(self, texts: list[str]) -> np.ndarray:
        cut = [text[:MAX_CHARS] for text in texts]
        rows: list[np.ndarray | None] = [None] * len(cut)
        wanted: dict[str, list[int]] = {}  # text not in the cache → its positions
        with self._lock:
            for i, text in enumerate(cut):
                if not _HAS_WORD.search(text):
                    continue
                hit = self._cache.get(text)
                if hit is not None:
                    self._cache.move_to_end(text)
                    rows[i] = hit
                else:
                    wanted.setdefault(text, []).append(i)
        for batch in self._batches(list(wanted)):
            for text, row in zip(batch, self._request(batch)):
                for i in wanted[text]:
                    rows[i] = row
                self._remember(text, row)
        if self.dim is None:  # only blank texts so far, and a model whose width is not known: ask once
            self._request(["dimensions"])
        out = np.zeros((len(cut), self.dim), np.float32)
        for i, row in enumerate(rows):
            if row is not None:
                out[i] = row
        return out

    def cache_clear(self) -> None:
        with self._lock:
            self._cache.clear()

    # ------------------------------------------------------------------ internals

    def _batches(self, texts: list[str]):
        batch: list[str] = []
        chars = 0
        for text in texts:
            if batch and (len(batch) == self.batch_size or chars + len(text) > MAX_BATCH_CHARS):
                yield batch
                batch, chars = [], 0
            batch.append(text)
            chars += len(text)
        if batch:
            yield batch

    def _request(self, batch: list[str]) -> np.ndarray:
        extra = {"dimensions": self.dimensions} if self.dimensions else {}
        self.api_calls += 1
        try:
            response = self.client.embeddings.create(model=self.model, input=batch, **extra)
        except Exception as exc:
            raise explain_api_error(exc, self.client, self.model) from exc
        data = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in data] != list(range(len(batch))):
            raise EmbeddingError(f"The embeddings API answered {len(data)} embeddings for {len(batch)} texts.")
        matrix = np.asarray([item.embedding for item in data], np.float32)
        if matrix.ndim != 2 or not np.isfinite(matrix).all():
            raise EmbeddingError("The embeddings API answered something that is not a list of vectors of numbers.")
        if self.dim is None:
            self.dim = matrix.shape[1]
        elif matrix.shape[1] != self.dim:
            raise EmbeddingError(f"The embeddings model “{self.model}” answered {matrix.shape[1]} dimensions, "
                                 f"not {self.dim}.")
        return normalize_rows(matrix)

    def _remember(self, text: str, row: np.ndarray) -> None:
        if not self.cache_size:
            return
        row = row.copy()
        row.flags.writeable = False  # shared by every later answer for this text
        with self._lock:
            self._cache[text] = row
            self._cache.move_to_end(text)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)


def ask_for_json(client: Any, model: str, system: str, user: str, *, max_tokens: int, timeout: float, task: str,
                 without: str, error: type[LLMError]) -> Any:
    """One chat completion asked to answer a JSON object: the answer's text (the caller parses it),
    or ``error`` saying in words why there is none (the API failed, refused, or was cut off)."""
    try:
        response = client.chat.completions.create(
            model=model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            response_format={"type": "json_object"},
            max_completion_tokens=max_tokens,
            timeout=timeout,
        )
    except Exception as exc:
        raise explain_api_error(exc, client, model, use="chat", task=task, setting="PITCHIN_OPENAI_MODEL",
                                without=without, error=error) from exc
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise error("The chat model answered no choices.")
    message = choices[0].message
    if getattr(message, "refusal", None):
        raise error(f"The chat model refused to {task}.")
    if choices[0].finish_reason == "length":
        raise error(f"The chat model's answer was cut off at {max_tokens} tokens.")
    return message.content
