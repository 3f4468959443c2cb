"""The daily digest's words: conversations shown without the customer's address, shortened to fit.

The digest goes to a whole company, so a customer is shown by first name only, and an email address
or a long number (a phone, a card, an account) written inside a message is replaced, whoever wrote
it. The texts stay neutral words: each platform's renderer escapes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from handlers.base import Card

EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
# a phone number (or a card or account number): nine digits or more, or "+" and seven or more, with the
# separators people type between them ("(030) 123-456 789"); a date (2026-11-30: eight digits) or an
# order number of eight stays, and so do numbers apart ("2026-11-30 / 12345")
NUMBER = re.compile(r"(?<![\w+(])(?:\+\d(?:[ ().\-/]{0,2}\d){6,}|\(?\d(?:[ ().\-/]{0,2}\d){8,})(?!\w)")
ADDRESS_REMOVED = "[address removed]"
NUMBER_REMOVED = "[number removed]"
# a mail's quoted history starts at a line like these: the digest shows what was written this time
QUOTE_START = re.compile(r"^\s*(On .{0,200}wrote:|-{2,} ?Original Message ?-{2,})\s*$", re.I)

BODY_LIMIT = 2900  # Slack draws at most 3000 characters in a card's body; the digest is one card
QUESTION_MAX, ANSWER_MAX = 400, 600  # however few conversations there are
QUESTION_SHARE = 0.4  # of the room each conversation gets: the answer is what colleagues learn from
LEAST = 80  # never shorter than this, even with long links (the body may then be cut by the platform)


@dataclass(frozen=True)
class Conversation:
    """One answered conversation, as the digest shows it (already without addresses)."""

    ticket_id: int
    subject: str
    customer: str  # first name, or "A customer"
    employee: str
    question: str
    answer: str
    link: str | None


def scrub(text: str, full_name: str = "", first: str = "") -> str:
    """``text`` without email addresses and long numbers; the customer's full name becomes their
    first name (a signature, "Hi Carol Smith")."""
    text = EMAIL.sub(ADDRESS_REMOVED, text)
    text = NUMBER.sub(NUMBER_REMOVED, text)
    if first and len(full_name.split()) > 1:
        text = re.sub(r"\s+".join(re.escape(w) for w in full_name.split()), first, text, flags=re.I)
    return text


def first_name(customer_name: str) -> str:
    """The first word of the customer's name, unless it is (part of) an address: then "A customer"."""
    words = customer_name.replace(",", " ").split()
    if not words or "@" in words[0] or NUMBER.search(words[0]) or not any(c.isalpha() for c in words[0]):
        return "A customer"
    return words[0].strip("\"'<>()")


def plain_text(text: str) -> str:
    """The message as one paragraph: quoted history ("> …", "On … wrote:") dropped, blank space folded."""
    lines = []
    for line in text.splitlines():
        if QUOTE_START.match(line):
            break
        if not line.lstrip().startswith(">"):
            lines.append(line)
    folded = " ".join(" ".join(lines).split())
    return folded or " ".join(text.split())  # all of it quoted: better the quote than nothing


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut after a word, with "…" when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _head(c: Conversation) -> str:
    return f"{c.customer} asked (#{c.ticket_id} · {c.subject}):"


def room(conversations: list[Conversation]) -> tuple[int, int]:
    """How long each question and answer may be so that the whole body fits BODY_LIMIT."""
    fixed = sum(len(_head(c)) + len(c.employee) + len(c.link or "") + 20 for c in conversations)
    each = (BODY_LIMIT - fixed) // max(1, len(conversations))
    return (max(LEAST, min(QUESTION_MAX, int(each * QUESTION_SHARE))),
            max(LEAST, min(ANSWER_MAX, each - int(each * QUESTION_SHARE))))


def digest_card(day: date, conversations: list[Conversation], answered: int) -> Card:
    """One card: a conversation each, the customer's question then the colleague's answer and a link
    to the thread; ``answered``: how many conversations were answered that day in all."""
    ask, say = room(conversations)
    blocks = []
    for c in conversations:
        lines = [_head(c), f"“{shorten(c.question, ask)}”", f"{c.employee} answered:", f"“{shorten(c.answer, say)}”"]
        if c.link:
            lines.append(c.link)
        blocks.append("\n".join(lines))
    count = len(conversations)
    on = f"answered on {day:%a} {day.day} {day:%b}"
    if answered > count:
        title = f"💬 {_number(count).capitalize()} of the {answered} customer conversations {on}"
    else:
        title = f"💬 The {_number(count)} customer conversation{'s' if count != 1 else ''} {on}"
    status = ("Picked at random. Customers are shown by first name; addresses and long numbers are left out.",)
    return Card(title=title, body="\n\n".join(blocks), status=status)


def _number(n: int) -> str:
    return ("one", "two", "three", "four", "five")[n - 1] if 1 <= n <= 5 else str(n)
