"""An issue's label and summary written by a language model (with OPENAI_API_KEY), kept honest.

The model sees the issue's quotes only (customers' own words, no addresses) and returns a short
label, a two-sentence summary and the quotes it finds most telling. A quote it returns that is
not, word for word, in one of the issue's messages is dropped: a briefing never puts words in a
customer's mouth. Without a writer, or when it fails, the briefing labels the issue with its most
central message, shortened (``plain_label``), and says nothing was AI-written.

``IssueWriter`` is implemented under bot/ (bot/llm.py) and handed in as ``Context.writer``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("pitchin.briefings")

LABEL_CHARS = 80  # a label is a line, not a paragraph
AI_MARK = "AI-written"


@dataclass(frozen=True)
class Written:
    label: str
    summary: str
    quotes: tuple[str, ...] = ()  # verbatim substrings of the issue's messages, once checked
    ai: bool = True


class IssueWriter(Protocol):
    def write(self, quotes: Sequence[str]) -> Written:
        """Label and summarise one issue from its quotes; raises on any failure."""


_SPACE = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def verbatim(quote: str, texts: Sequence[str]) -> bool:
    """``quote`` appears word for word (spacing aside) in one of ``texts``."""
    q = _squash(quote)
    return bool(q) and any(q in _squash(t) for t in texts)


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """One line of at most ``limit`` characters, cut at a word with an ellipsis."""
    line = _squash(text)
    if len(line) <= limit:
        return line
    cut = line[:limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:-") + "…"


def plain_label(central_text: str) -> str:
    return shorten(central_text) or "(no text)"


def write_issue(writer: IssueWriter | None, texts: Sequence[str], central_text: str) -> Written:
    """The issue's label and summary: the model's (checked), or the central message's, shortened.
    ``texts``: the messages the model is shown (its quotes must come from these)."""
    if writer is not None and texts:
        try:
            got = writer.write(list(texts))
        except Exception as exc:  # the briefing still goes out, labelled without the model
            log.warning("the language model could not label an issue (%s); using its most central message", exc)
        else:
            kept = tuple(q for q in got.quotes if verbatim(q, texts))
            dropped = len(got.quotes) - len(kept)
            if dropped:
                log.info("dropped %d quote(s) the model returned that no customer wrote", dropped)
            label = shorten(got.label)
            if label:
                return Written(label, _squash(got.summary), kept, ai=True)
    return Written(plain_label(central_text), "", (), ai=False)
