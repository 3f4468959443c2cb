"""AI help for the person answering a ticket: what the core asks of a language model, and the checks
it makes of the answer without trusting the model.

``ReplyDrafter`` is implemented under bot/ (``bot/llm_drafter.py``, OpenAI) and handed in as
``Context.drafter``; without ``OPENAI_API_KEY`` it is None and no AI action is offered. The core gives
it the conversation (``Turn``s: the customer's messages and the replies sent to them, never internal
notes) and a few saved replies (``SavedText``); it answers a ``DraftText``.

The money and policy guard (``uncovered``/``caution_for``) is deterministic and lives here, not in
the prompt: a draft that speaks of an amount, a refund, a price, a fee, a date or a policy is
checked against the text of the saved replies it names as sources, and whatever no source covers is
said out loud to the person before they send ("Air Canada moment": a model inventing a refund
policy that the company is then held to).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

CUSTOMER, EMPLOYEE = "customer", "employee"


@dataclass(frozen=True)
class Turn:
    """One message of a ticket's conversation as the model is shown it."""

    author: str  # CUSTOMER or EMPLOYEE
    text: str


@dataclass(frozen=True)
class SavedText:
    """A saved reply offered to the model as a source: its name and its text (variables unfilled)."""

    id: int
    name: str
    text: str


@dataclass(frozen=True)
class DraftText:
    """What the model answered: the reply, the saved replies it says it used (by name), and the
    topics it says the person should check."""

    reply: str
    sources: tuple[str, ...] = ()
    needs_check: tuple[str, ...] = ()


class ReplyDrafter(Protocol):
    model: str

    def draft(self, conversation: Sequence[Turn], saved_replies: Sequence[SavedText]) -> DraftText:
        """A reply for a person to check; raises on any failure (refusal, timeout, bad answer)."""

    def summarise(self, conversation: Sequence[Turn]) -> str:
        """A short internal summary of the conversation; raises on any failure."""


# ---------------------------------------------------------------- the money and policy guard

# words that make terms: what a customer may hold the company to
TOPIC_WORDS = {
    "refund": ("refund", "refunds", "refunded", "refunding", "reimburse", "reimbursed", "reimbursement",
               "money back", "credit note"),
    "price": ("price", "prices", "pricing", "cost", "costs", "charge", "charges", "charged", "fee", "fees",
              "discount", "discounts", "free of charge", "compensation", "compensate"),
    "policy": ("policy", "policies", "guarantee", "guaranteed", "warranty", "terms and conditions", "entitled"),
    "deadline": ("deadline", "by monday", "by tuesday", "by wednesday", "by thursday", "by friday",
             "business days", "working days"),
}
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
# an amount of money: a currency sign or code next to a number, or a number of a currency word
_AMOUNT = re.compile(
    r"(?:[$€£¥₹]|\b(?:usd|eur|gbp|chf|cad|aud|jpy)\b)\s?\d+(?:[.,]\d+)*|"
    r"\b\d+(?:[.,]\d+)*\s?(?:[$€£¥₹]|(?:usd|eur|gbp|chf|cad|aud|jpy|dollars?|euros?|pounds?|cents?)\b)|"
    r"\b\d+(?:[.,]\d+)?\s?%", re.I)
# a calendar date: 2026-12-01, 1/12/2026, 1 December, December 1st; a span: 14 days, 30 days
_DATE = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b|"
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\b|\b(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b|"
    rf"\b\d+\s+(?:business\s+|working\s+|calendar\s+)?(?:days?|weeks?|months?|years?|hours?)\b", re.I)
_SPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)?")


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


@dataclass(frozen=True)
class Term:
    """Something in a draft a customer could hold the company to: its kind ("refund", "amount", …)
    and the words as written."""

    kind: str
    words: str


def terms_in(text: str) -> list[Term]:
    """Every amount, date and money-or-policy word in ``text``, in order, once each."""
    low = _squash(text)
    found: list[Term] = []
    for m in _AMOUNT.finditer(text):
        found.append(Term("amount", m.group().strip()))
    for m in _DATE.finditer(text):
        found.append(Term("date", m.group().strip()))
    for kind, words in TOPIC_WORDS.items():
        for word in words:
            if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", low):
                found.append(Term(kind, word))
    unique: list[Term] = []
    for term in found:
        if term not in unique:
            unique.append(term)
    return unique


def _covered(term: Term, sources: Sequence[str]) -> bool:
    """A source covers a term when it says the same: the same amount or date (its numbers), or a word
    of the same topic (a saved reply on refunds covers "refunded")."""
    texts = [_squash(s) for s in sources]
    if term.kind in ("amount", "date"):
        numbers = _DIGITS.findall(term.words)
        return bool(numbers) and any(all(re.search(rf"(?<![\d.,]){re.escape(n)}(?![\d])", t) for n in numbers)
                                     for t in texts)
    words = TOPIC_WORDS[term.kind]
    return any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", t) for t in texts for w in words)


def uncovered(draft: str, sources: Sequence[str]) -> list[Term]:
    """The terms of ``draft`` that none of ``sources`` (the texts of the saved replies it drew on) covers."""
    return [term for term in terms_in(draft) if not _covered(term, sources)]


KIND_WORDS = {"amount": "an amount", "date": "a date or time limit", "deadline": "a deadline", "refund": "a refund",
              "price": "a price, fee or charge", "policy": "a policy or guarantee"}


def caution_for(terms: Sequence[Term]) -> str | None:
    """What the person is told about the terms no saved reply covers, or None when there are none."""
    if not terms:
        return None
    kinds: list[str] = []
    for term in terms:
        if term.kind not in kinds:
            kinds.append(term.kind)
    what = _and([KIND_WORDS[k] for k in kinds])
    quoted = ", ".join(f"“{t.words}”" for t in terms[:6])
    return (f"This draft mentions {what} ({quoted}) that no saved reply covers: check the terms before "
            "sending, and change or remove what the company does not offer.")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------- choosing the saved replies to show

MAX_SOURCES = 4  # saved replies shown to the model: a few, the most relevant
_WORD = re.compile(r"[^\W_]{3,}")
_COMMON = frozenset("the and for you your our are was were with this that have has from not but can will "
                    "would could please thanks thank hello dear there what when how".split())


def _words(text: str) -> set[str]:
    """Distinct words, cut to their first five letters: "charged" and "charges" are one word here."""
    return {w[:5] for w in (m.group().lower() for m in _WORD.finditer(text)) if w not in _COMMON}


def most_relevant(saved: Sequence[SavedText], conversation: Sequence[Turn], limit: int = MAX_SOURCES) -> list[SavedText]:
    """The saved replies sharing the most words with the customer's messages (the latest counts
    twice), at most ``limit``, none that shares no word at all."""
    customer = [t.text for t in conversation if t.author == CUSTOMER]
    latest = _words(customer[-1]) if customer else set()
    every = _words(" ".join(customer))
    scored = []
    for i, reply in enumerate(saved):
        words = _words(f"{reply.name} {reply.text}")
        score = len(words & every) + len(words & latest)
        if score:
            scored.append((-score, i, reply))
    return [reply for _, _, reply in sorted(scored)[:limit]]
