"""OpenAI embeddings for similar suggestions (bot/llm.py), against a fake API on 127.0.0.1: batching,
normalising, the cache, blank texts, refusals in words, a Pitchin that uses it for /feedback, and
the whole index falling back to the local model when the API fails."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.app import Pitchin
from bot.config import ConfigError, Settings, load_settings
from bot.llm import MAX_BATCH, EmbeddingError, OpenAIEmbedder, make_llm_client
from handlers import feedback
from handlers.base import Actor
from handlers.context import Context
from handlers.feedback import Draft
from handlers.feedback_index import SuggestionIndex
from handlers.similarity import MAX_CHARS, Embedder, LocalEmbedder
from tests.conftest import RecordingCustomers
from tests.fakes.openai_api import FakeOpenAI, fake_vector

ROOT = Path(__file__).resolve().parents[1]
ANN = Actor("test", "U-ANN", "Ann")
BOB = Actor("test", "U-BOB", "Bob")
CAROL = Actor("test", "U-CAROL", "Carol")


@pytest.fixture
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


def client_for(fake: FakeOpenAI, key: str | None = None, max_retries: int = 0):
    return make_llm_client(Settings(openai_api_key=key or fake.api_key, openai_base_url=fake.url),
                           max_retries=max_retries)


@pytest.fixture
def client(fake):
    c = client_for(fake)
    yield c
    c.close()


@pytest.fixture
def embedder(client):
    return OpenAIEmbedder(client)


def sent_batches(fake: FakeOpenAI) -> list[list[str]]:
    return [r["body"]["input"] for r in fake.requests]


# ---------------------------------------------------------------- settings and the client


def test_no_key_no_client():
    assert make_llm_client(Settings()) is None


def test_the_client_takes_key_and_base_url_from_settings_only(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/elsewhere")
    client = make_llm_client(Settings(openai_api_key="sk-test"))
    assert str(client.base_url) == "https://api.openai.com/v1/" and client.api_key == "sk-test"
    client.close()


def test_embedding_model_setting(tmp_path):
    assert load_settings({}, dotenv=None).openai_embedding_model == "text-embedding-3-small"
    got = load_settings({"PITCHIN_OPENAI_EMBEDDING_MODEL": "text-embedding-3-large"}, dotenv=None)
    assert got.openai_embedding_model == "text-embedding-3-large"
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL is “api.example.com/v1”, not an http"):
        load_settings({"OPENAI_BASE_URL": "api.example.com/v1"}, dotenv=None)


# ---------------------------------------------------------------- the embedder


def test_rows_are_unit_float32_in_order_and_similar_texts_are_close(fake, embedder):
    fake.scale = 7.5  # the embedder normalises whatever the server answers
    texts = ["Export invoices to CSV", "I want to export my invoices to excel", "Dark mode for the dashboard"]
    rows = embedder.embed(texts)
    assert rows.dtype == np.float32 and rows.shape == (3, 1536)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    for row, text in zip(rows, texts):
        assert np.allclose(row, fake_vector(text, 1536), atol=1e-5)
    assert rows[0] @ rows[1] > 0.4 > abs(rows[0] @ rows[2])
    assert embedder.name == "openai:text-embedding-3-small"
    assert isinstance(embedder, Embedder)
    assert {k.lower(): v for k, v in fake.requests[0]["headers"].items()}["authorization"] == "Bearer sk-fake"
    assert fake.requests[0]["body"]["model"] == "text-embedding-3-small"


def test_batches_of_at_most_256_inputs(fake, embedder):
    texts = [f"request number {i}" for i in range(600)]
    rows = embedder.embed(texts)
    assert [len(b) for b in sent_batches(fake)] == [MAX_BATCH, MAX_BATCH, 600 - 2 * MAX_BATCH]
    assert fake.inputs() == texts
    assert np.allclose(rows[599], fake_vector("request number 599", 1536), atol=1e-5)
    assert embedder.api_calls == 3


def test_long_texts_are_cut_and_requests_stay_small(fake, embedder):
    long = [f"{i} " + "word " * 1500 for i in range(30)]  # 7,500 characters each
    embedder.embed(long)
    assert all(len(t) == MAX_CHARS for t in fake.inputs())
    assert all(sum(map(len, batch)) <= 100_000 for batch in sent_batches(fake))
    assert len(fake.requests) == 2


def test_smaller_batches_on_request(fake, client):
    OpenAIEmbedder(client, batch_size=2).embed(["one", "two", "three"])
    assert sent_batches(fake) == [["one", "two"], ["three"]]
    with pytest.raises(ValueError):
        OpenAIEmbedder(client, batch_size=MAX_BATCH + 1)


def test_blank_texts_get_zero_rows_and_are_never_sent(fake, embedder):
    rows = embedder.embed(["", "   ", "!!! ???", "Export invoices"])
    assert rows.shape == (4, 1536)
    assert not rows[:3].any() and np.isclose(np.linalg.norm(rows[3]), 1.0)
    assert fake.inputs() == ["Export invoices"]
    assert embedder.embed(["", " \n "]).shape == (2, 1536) and len(fake.requests) == 1
    assert embedder.embed([]).shape == (0, 1536) and len(fake.requests) == 1


def test_dimensions_are_asked_for(fake, client):
    small = OpenAIEmbedder(client, dimensions=64)
    assert small.embed([" "]).shape == (1, 64) and fake.requests == []
    assert small.embed(["Export invoices"]).shape == (1, 64)
    assert fake.requests[0]["body"]["dimensions"] == 64 and small.name == "openai:text-embedding-3-small-64"


def test_the_cache_spares_repeated_texts(fake, client):
    embedder = OpenAIEmbedder(client, cache_size=2)
    first = embedder.embed(["alpha one", "beta two", "alpha one"])
    assert sent_batches(fake) == [["alpha one", "beta two"]]  # duplicates are sent once
    again = embedder.embed(["beta two", "alpha one"])
    assert len(fake.requests) == 1 and np.array_equal(again, first[[1, 0]])
    embedder.embed(["gamma three"])  # evicts the least recently used: "beta two"
    embedder.embed(["alpha one", "beta two"])
    assert sent_batches(fake)[-1] == ["beta two"]
    again[0, 0] = 42.0  # a caller's array is its own: the cache is not changed through it
    assert embedder.embed(["beta two"])[0, 0] != 42.0


def test_401_says_the_key_was_refused(fake, client):
    embedder = OpenAIEmbedder(client)
    fake.fail(401)
    with pytest.raises(EmbeddingError, match=r"^OPENAI_API_KEY was refused by http://127\.0\.0\.1:\d+/v1 \(401\)") as err:
        embedder.embed(["Export invoices"])
    assert err.value.status == 401 and "unset OPENAI_API_KEY" in str(err.value)
    assert "sk-fake" not in str(err.value)


def test_a_wrong_key_is_refused(fake):
    client = client_for(fake, key="sk-wrong")
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY was refused"):
        OpenAIEmbedder(client).embed(["Export invoices"])
    client.close()


def test_an_unknown_model_names_the_setting(fake, client):
    with pytest.raises(EmbeddingError, match="no embeddings model “text-embedding-9”.*PITCHIN_OPENAI_EMBEDDING_MODEL"):
        OpenAIEmbedder(client, "text-embedding-9").embed(["Export invoices"])


@pytest.mark.parametrize("status, words", [(429, "rate-limiting"), (500, "failed to make embeddings")])
def test_without_retries_a_failure_is_an_error_and_the_next_call_works(fake, embedder, status, words):
    fake.fail(status, times=1)
    with pytest.raises(EmbeddingError, match=words) as err:
        embedder.embed(["Export invoices"])
    assert err.value.status == status
    assert embedder.embed(["Export invoices"]).shape == (1, 1536)  # failures are not cached
    assert len(fake.requests) == 2


@pytest.mark.parametrize("status", [429, 500])
def test_the_client_retries_a_passing_failure(fake, status):
    client = client_for(fake, max_retries=1)
    fake.fail(status, times=1)
    assert OpenAIEmbedder(client).embed(["Export invoices"]).shape == (1, 1536)
    assert len(fake.requests) == 2
    client.close()


def test_an_unreachable_server_is_named(fake, embedder):
    fake.stop()
    with pytest.raises(EmbeddingError, match=r"Cannot reach http://127\.0\.0\.1:\d+/v1 .*OPENAI_BASE_URL"):
        embedder.embed(["Export invoices"])


# ---------------------------------------------------------------- in Pitchin


def pitchin_for(sqlite_url: str, **overrides) -> Pitchin:
    settings = replace(Settings(database_url=sqlite_url, port=0, from_email="support@acme.test",
                                intake_token="t", maildir="maildir"), **overrides)
    return Pitchin(settings, customers=RecordingCustomers())


async def test_pitchin_with_a_key_finds_similar_feedback_with_openai(fake, sqlite_url, caplog):
    pitchin = pitchin_for(sqlite_url, openai_api_key=fake.api_key, openai_base_url=fake.url)
    ctx = pitchin.ctx
    assert isinstance(ctx.embedder, OpenAIEmbedder) and ctx.embedder.client is pitchin.llm
    with caplog.at_level(logging.INFO, logger="pitchin"):
        await pitchin.start(http=False, worker=False, scheduler=False)
    assert "Similar suggestions: OpenAI embeddings (openai:text-embedding-3-small at http://127.0.0.1:" in caplog.text

    first = feedback.log(ctx, ANN, Draft("Export invoices to CSV", customers=("carol@example.com",)))
    assert first.text.startswith("New card #1")
    offer = feedback.log(ctx, BOB, Draft("I want to export my invoices to excel"))
    assert "heard before" in offer.text and "#1 · Export invoices to CSV" in offer.text
    assert [b.label for b in offer.actions] == ["Add to #1", "Create new"]
    # the first query; the card's request (the same text) then comes from the cache; the second query
    assert fake.inputs() == ["Export invoices to CSV", "I want to export my invoices to excel"]
    feedback.log(ctx, CAROL, Draft("Dark mode please"))
    assert fake.inputs()[2:] == ["Dark mode please"]
    assert embedder_of(ctx) is ctx.embedder  # no fallback happened
    await pitchin.stop()


async def test_pitchin_without_a_key_uses_the_local_model(sqlite_url, caplog):
    pitchin = pitchin_for(sqlite_url)
    assert pitchin.llm is None and pitchin.ctx.embedder is None
    with caplog.at_level(logging.INFO, logger="pitchin"):
        await pitchin.start(http=False, worker=False, scheduler=False)
    assert "Similar suggestions: the local model" in caplog.text
    await pitchin.stop()


def embedder_of(ctx: Context):
    return ctx.suggestions._embedder


async def test_when_the_api_fails_the_whole_index_falls_back_to_the_local_model(fake, sqlite_url, caplog):
    pitchin = pitchin_for(sqlite_url, openai_api_key=fake.api_key, openai_base_url=fake.url)
    ctx = pitchin.ctx
    assert feedback.log(ctx, ANN, Draft("Export invoices to CSV")).text.startswith("New card #1")
    assert feedback.log(ctx, ANN, Draft("Dark mode for the dashboard")).text.startswith("New card #2")
    calls = len(fake.requests)
    fake.fail(401)
    ctx.embedder.cache_clear()  # else card #2's request would come from the cache (its text was a query)
    with caplog.at_level(logging.WARNING, logger="pitchin"):
        # adding card #2's request to the index fails: the index is rebuilt with the local model
        offer = feedback.log(ctx, BOB, Draft("Can I download my invoices as a spreadsheet?"))
        assert "heard before" in offer.text and "#1 · Export invoices to CSV" in offer.text
        assert isinstance(embedder_of(ctx), LocalEmbedder)
        assert len(fake.requests) == calls + 1  # one refused call, then never again
        assert "dark mode" in feedback.log(ctx, CAROL, Draft("dark mode in the dashboard please")).text.lower()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert ("embedder openai:text-embedding-3-small failed (EmbeddingError: OPENAI_API_KEY was refused"
            in warnings[0].getMessage())
    assert "all-MiniLM-L6-v2" in warnings[0].getMessage()
    assert len(fake.requests) == calls + 1
    pitchin.db.dispose()
    pitchin.llm.close()


def test_a_failure_while_looking_up_falls_back_too(fake, ctx, client, caplog):
    ctx.embedder = OpenAIEmbedder(client)
    feedback.log(ctx, ANN, Draft("Export invoices to CSV"))
    with ctx.db.transaction() as session:
        ctx.suggestions.sync(session)  # the index holds every request: the next failure is the query's
    fake.fail(500)
    with caplog.at_level(logging.WARNING, logger="pitchin"):
        offer = feedback.log(ctx, BOB, Draft("I want to export my invoices to excel"))
    assert "heard before" in offer.text
    assert isinstance(embedder_of(ctx), LocalEmbedder)
    assert "failed (EmbeddingError:" in caplog.text and "(500)" in caplog.text


def test_when_the_local_model_fails_too_the_error_is_raised(database, monkeypatch):
    class Broken:
        name = "broken"

        def embed(self, texts):
            raise EmbeddingError("down")

    class BrokenLocal(Broken):
        name = "broken-local"

        def __init__(self, files=None):  # the local model's files, as LocalEmbedder takes them
            self.files = files

    monkeypatch.setattr("handlers.feedback_index.LocalEmbedder", BrokenLocal)
    index = SuggestionIndex(Broken())
    with database.transaction() as session, pytest.raises(EmbeddingError):
        index.similar(session, "Export invoices")
    assert isinstance(index._embedder, BrokenLocal)


# ---------------------------------------------------------------- the bench


def run_bench(tmp_path, env):
    rows = ["text,category"] + [f"{word} {thing} number {i},{word}" for word in ("refund", "card", "transfer")
                                for i, thing in enumerate(["money", "help", "please", "now"])]
    data = tmp_path / "tiny.csv"
    data.write_text("\n".join(rows) + "\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run([sys.executable, str(ROOT / "bench" / "similarity.py"), "--engine", "openai",
                           "--csv", str(data), "--per-card", "2"],
                          env={**base, **env}, capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_the_bench_runs_against_an_openai_compatible_server(fake, tmp_path):
    done = run_bench(tmp_path, {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.url})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["engine"] == "openai" and result["model"] == "openai:text-embedding-3-small"
    assert result["queries"] == 6 and result["api_calls"] == 1  # one batch; every pass served by the cache
    for name in ("first", "among_three", "first_online", "among_three_online", "first_accepted",
                 "among_three_accepted"):
        assert 0.0 <= result[name] <= 1.0, (name, result)
    assert result["misses"] == "drop"


def test_the_bench_says_what_is_missing(fake, tmp_path):
    done = run_bench(tmp_path, {})
    assert done.returncode == 1 and "--engine openai needs OPENAI_API_KEY" in done.stderr
    done = run_bench(tmp_path, {"OPENAI_API_KEY": "sk-wrong", "OPENAI_BASE_URL": fake.url})
    assert done.returncode == 1 and "OPENAI_API_KEY was refused" in done.stderr and "Traceback" not in done.stderr
