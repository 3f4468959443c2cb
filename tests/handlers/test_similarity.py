"""The similarity engine behind the suggestion tracker: CardIndex over the offline MiniLM model."""

from __future__ import annotations

import csv
import random
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from handlers import similarity
from handlers.similarity import CardIndex, Embedder, LocalEmbedder, normalize_rows

BANKING77 = Path(__file__).resolve().parents[3] / "shared" / "data" / "banking77" / "test.csv"

CARDS = {
    "refunds": ["I want my money back for the order I returned", "How do I get a refund?"],
    "dark-mode": ["Please add a dark theme to the app", "The white screen hurts my eyes at night"],
    "csv-export": ["Let me export my reports to a spreadsheet", "I need to download the data as CSV"],
    "password": ["I forgot my password and can't log in", "The reset password email never arrives"],
    "slow": ["The dashboard takes forever to load", "Pages are very slow since yesterday"],
    "invoices": ["My invoice shows the wrong company address", "Can you send invoices to our accountant?"],
}
PARAPHRASES = [
    ("Could I be reimbursed for the purchase I sent back?", "refunds"),
    ("A night mode would be great, the bright interface is blinding", "dark-mode"),
    ("Is there a way to get my data out into Excel?", "csv-export"),
    ("I can't sign in, I lost my password", "password"),
    ("Everything loads really slowly today", "slow"),
]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def index(embedder) -> CardIndex[str]:
    return CardIndex(embedder, [(card, text) for card, texts in CARDS.items() for text in texts])


class BagOfWords:
    """A deterministic stand-in for an injected embedder (such as the OpenAI one under bot/)."""

    name = "bag-of-words-64"

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 64), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[row, sum(map(ord, word)) % 64] += 1
        return normalize_rows(out)


# ---------------------------------------------------------------- the embedder


def test_local_embedder_gives_unit_rows_and_is_an_embedder(embedder):
    vectors = embedder.embed(["My card has not arrived", "Where is my new card?"])
    assert isinstance(embedder, Embedder)
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_a_text_embeds_the_same_alone_or_in_a_padded_batch(embedder):
    short, long = "refund", "I returned the shoes three weeks ago and still have not seen my money back"
    together = embedder.embed([long, short])
    assert np.allclose(together[1], embedder.embed([short])[0], atol=1e-4)
    assert np.allclose(together[0], embedder.embed([long])[0], atol=1e-4)


def test_long_texts_are_embedded_in_calls_of_bounded_size_and_in_their_order(embedder, monkeypatch):
    # what one model call holds in memory grows with its word pieces: 40 long texts must not go as
    # one call of 32 × 256 (640 MB), and cutting them up must change no vector nor their order
    texts = [f"Order {i}: the parcel never arrived and nobody answers. " * 40 for i in range(40)]
    texts[7] = "refund please"
    alone = np.vstack([embedder.embed([t]) for t in texts[:3] + [texts[7]]])
    session, tokenizer = similarity._minilm(embedder.files)
    shapes = []

    class Recording:
        def run(self, outputs, feeds):
            shapes.append(feeds["input_ids"].shape)
            return session.run(outputs, feeds)

    monkeypatch.setitem(similarity._LOADED, embedder.files, (Recording(), tokenizer))
    together = embedder.embed(texts)
    assert all(rows * width <= similarity.MAX_BATCH_TOKENS for rows, width in shapes)
    assert sum(rows for rows, _ in shapes) == 40
    assert np.allclose(together[[0, 1, 2, 7]], alone, atol=1e-4)


def test_texts_without_words_and_huge_texts_embed_safely(embedder):
    vectors = embedder.embed(["", "   ", "refund " * 50_000])
    assert not np.isnan(vectors).any()
    assert np.allclose(np.linalg.norm(vectors[2]), 1.0, atol=1e-5)


def test_the_model_is_loaded_once_and_never_downloaded(embedder, monkeypatch):
    embedder.embed(["warm"])
    assert similarity._minilm(embedder.files) is similarity._minilm(LocalEmbedder().files)

    def no_network(*args, **kwargs):
        raise AssertionError("the similarity engine tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(similarity, "_LOADED", {})  # force a fresh load, offline
    vectors = LocalEmbedder().embed(["offline"])
    assert vectors.shape == (1, 384)


# ---------------------------------------------------------------- matching


@pytest.mark.parametrize(("text", "card"), PARAPHRASES)
def test_a_paraphrase_finds_its_card_first(index, text, card):
    assert index.similar(text)[0][0] == card


def test_results_are_sorted_bounded_and_limited_to_k(index):
    results = index.similar("I would like a refund for my order", k=3)
    assert len(results) == 3
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= score <= 1.0 for score in scores)
    assert len({card for card, _ in results}) == 3
    assert len(index.similar("refund", k=50)) == len(CARDS)


def test_a_request_already_on_a_card_scores_about_one(embedder):
    index = CardIndex(embedder, [("a", "Please add a dark theme"), ("b", "Export reports to CSV")])
    card, score = index.similar("Please add a dark theme")[0]
    assert card == "a" and score == pytest.approx(1.0, abs=1e-3)


def test_empty_index_blank_text_and_k_zero_give_nothing(embedder, index):
    assert CardIndex(embedder).similar("anything") == []
    assert index.similar("   ") == [] and index.similar("?!") == []
    assert index.similar("refund", k=0) == []


def test_min_score_leaves_out_weak_matches(index):
    everything = index.similar("How do I get a refund?", k=len(CARDS))
    cut = (everything[0][1] + everything[1][1]) / 2
    assert index.similar("How do I get a refund?", k=len(CARDS), min_score=cut) == everything[:1]


def test_exclude_leaves_cards_out(index):
    results = index.similar("How do I get a refund?", exclude=["refunds"])
    assert "refunds" not in [card for card, _ in results]


def test_an_accepted_request_teaches_the_card(index):
    text = "You billed my credit card two times this month"
    before = dict(index.similar(text, k=len(CARDS)))
    index.add("invoices", "I was charged twice on my card")
    after = index.similar(text, k=len(CARDS))
    assert after[0][0] == "invoices"
    assert dict(after)["invoices"] > before["invoices"]
    assert index.request_count("invoices") == 3


def test_add_creates_a_card(index):
    index.add("sso", "Support single sign-on with Okta")
    assert "sso" in index and len(index) == len(CARDS) + 1
    assert index.similar("Can we log in through Okta SSO?")[0][0] == "sso"


# ---------------------------------------------------------------- merge and remove


def test_merge_moves_the_requests_and_forgets_the_source(index):
    index.merge("dark-mode", "slow")
    assert "dark-mode" not in index and len(index) == len(CARDS) - 1
    assert index.request_count("slow") == 4
    assert index.similar("Please add a dark theme to the app")[0][0] == "slow"
    assert "dark-mode" not in [card for card, _ in index.similar("dark theme", k=10)]


def test_merge_into_a_new_id_renames_and_merge_into_itself_does_nothing(index):
    index.merge("slow", "performance")
    assert index.similar("The dashboard takes forever to load")[0][0] == "performance"
    index.merge("performance", "performance")
    assert index.request_count("performance") == 2
    with pytest.raises(KeyError):
        index.merge("no-such-card", "refunds")


def test_remove_card_forgets_it_and_keeps_the_others_intact(index):
    assert index.remove_card("csv-export") is True
    assert index.remove_card("csv-export") is False
    assert "csv-export" not in [card for card, _ in index.similar("export to CSV", k=10)]
    assert index.request_count() == sum(map(len, CARDS.values())) - 2
    for card, texts in CARDS.items():  # the requests left behind still point at their own cards
        if card != "csv-export":
            assert all(index.similar(text)[0][0] == card for text in texts)
    index.add("webhooks", "Send us a webhook when a ticket closes")  # reuses the freed slot
    assert index.similar("a webhook on ticket close")[0][0] == "webhooks"
    assert index.similar("How do I get a refund?")[0][0] == "refunds"


# ---------------------------------------------------------------- injection and concurrency


def test_an_injected_embedder_is_used_and_a_dimension_change_refused(embedder):
    index = CardIndex(BagOfWords(), [("pets", "cats and dogs"), ("food", "pizza and pasta")])
    assert index.similar("dogs")[0][0] == "pets"
    mixed = CardIndex(embedder, [("a", "hello")])
    mixed.embedder = BagOfWords()
    with pytest.raises(ValueError, match="dimensions"):
        mixed.add("b", "world")


def test_concurrent_adds_and_lookups(embedder):
    index: CardIndex[int] = CardIndex(embedder, [(0, "first card")])
    errors: list[BaseException] = []

    def writer(start: int) -> None:
        try:
            for i in range(start, start + 50):
                index.add(i % 20, f"request number {i} about topic {i % 20}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for i in range(100):
                assert len(index.similar(f"topic {i % 20}")) <= 3
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (0, 50)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert index.request_count() == 101 and len(index) == 20


# ---------------------------------------------------------------- real customer language


def banking77_subset(categories: int = 20, per_card: int = 5, queries: int = 10):
    if not BANKING77.exists():
        pytest.skip(f"{BANKING77} is not here (shared/ sits beside the repository)")
    by_category: dict[str, list[str]] = {}
    with open(BANKING77, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_category.setdefault(row["category"], []).append(row["text"])
    rng = random.Random(0)
    cards, stream = [], []
    for category in sorted(by_category)[:categories]:
        texts = list(by_category[category])
        rng.shuffle(texts)
        cards += [(category, text) for text in texts[:per_card]]
        stream += [(category, text) for text in texts[per_card:per_card + queries]]
    rng.shuffle(stream)
    return cards, stream


def word_overlap_baseline(cards, text: str) -> list[str]:
    """Trivial baseline: the cards whose best request shares the most words (Jaccard)."""
    words = set(re.findall(r"\w+", text.lower()))
    best: dict[str, float] = {}
    for card, request in cards:
        other = set(re.findall(r"\w+", request.lower()))
        best[card] = max(best.get(card, 0.0), len(words & other) / max(len(words | other), 1))
    return sorted(best, key=lambda c: (-best[c], c))[:3]


def test_on_banking77_the_engine_beats_word_overlap_and_learns_online(embedder):
    cards, stream = banking77_subset()
    static, online = CardIndex(embedder, cards), CardIndex(embedder, cards)
    hits = {"engine": [0, 0], "online": [0, 0], "overlap": [0, 0]}
    for category, text in stream:
        offered = {
            "engine": [card for card, _ in static.similar(text)],
            "online": [card for card, _ in online.similar(text)],
            "overlap": word_overlap_baseline(cards, text),
        }
        for name, cards_offered in offered.items():
            hits[name][0] += cards_offered[0] == category
            hits[name][1] += category in cards_offered
        online.add(category, text)  # the employee accepted the right card
    engine, overlap, learned = hits["engine"], hits["overlap"], hits["online"]
    assert engine[0] > overlap[0] and engine[1] > overlap[1], hits
    assert learned[0] >= engine[0] and learned[1] >= engine[1], hits
    assert engine[0] > len(stream) / 2, hits  # chance is 1 in 20


# ---------------------------------------------------------------- whitening


class Remembering:
    """The local model, each text embedded once (the tests below compare indexes on the same texts)."""

    def __init__(self, inner: Embedder):
        self.inner, self.name, self.calls = inner, inner.name, 0
        self.vectors: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.inner.embed(missing)))
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def test_whitening_learned_from_the_cards_beats_plain_cosine_on_banking77(embedder):
    cards, stream = banking77_subset(categories=77, per_card=5, queries=6)
    remembering = Remembering(embedder)
    remembering.embed([text for _, text in cards + stream])
    whitened, plain = CardIndex(remembering, cards), CardIndex(remembering, cards, shrink=0)
    assert whitened.whitened and not plain.whitened  # 385 requests: enough to learn from
    hits = {"whitened": 0, "plain": 0}
    for category, text in stream:
        hits["whitened"] += whitened.similar(text)[0][0] == category
        hits["plain"] += plain.similar(text)[0][0] == category
    assert hits["whitened"] > hits["plain"], hits
    assert hits["whitened"] > 0.7 * len(stream), hits  # chance is 1 in 77


def test_small_indexes_use_plain_cosine_until_they_hold_enough_requests():
    index = CardIndex(BagOfWords(), [(i % 5, f"topic {i % 5} words {i}") for i in range(19)], whiten_from=20)
    assert not index.whitened
    index.add(0, "topic 0 one more")
    assert index.whitened
    index.remove_card(0)
    assert not index.whitened  # back under the threshold


def test_an_index_changed_bit_by_bit_scores_like_one_built_at_once():
    """Adds in batches, a merge and a removal leave the same whitening as building the final state."""
    rng = random.Random(1)
    words = "refund card pin transfer fee top up cash rate app login limit freeze".split()

    def request(topic: int) -> str:
        return " ".join([words[topic]] * 2 + rng.sample(words, 3))

    pairs = [(rng.randrange(12), None) for _ in range(300)]
    pairs = [(card, request(card)) for card, _ in pairs]
    grown = CardIndex(BagOfWords(), whiten_from=50, dims=32)
    for start in range(0, 300, 7):
        grown.add_many(pairs[start:start + 7])
    grown.merge(3, 4)
    grown.remove_card(7)
    final = [(4 if card == 3 else card, text) for card, text in pairs if card != 7]
    built = CardIndex(BagOfWords(), final, whiten_from=50, dims=32)
    grown.rewhiten()
    assert grown.whitened and built.whitened
    for query in ["refund fee", "pin login", "top up cash", "freeze card limit"]:
        a, b = grown.similar(query, k=5), built.similar(query, k=5)
        assert [card for card, _ in a] == [card for card, _ in b]
        assert np.allclose([score for _, score in a], [score for _, score in b], atol=1e-4)


def test_stored_vectors_are_used_without_embedding_again(embedder):
    remembering = Remembering(embedder)
    texts = ["Please add a dark theme", "Export reports to CSV"]
    vectors = embedder.embed(texts)
    index = CardIndex(remembering)
    index.add_many([("a", texts[0]), ("b", texts[1])], vectors=vectors)
    assert remembering.calls == 0
    assert index.similar("a dark mode please")[0][0] == "a"
    with pytest.raises(ValueError, match="2 requests but 1 vectors"):
        index.add_many([("c", "x"), ("d", "y")], vectors=vectors[:1])
