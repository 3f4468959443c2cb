"""Outside words in a log line or an error message: on one line, and not too long."""

from __future__ import annotations


def one_line(text: object, limit: int = 200) -> str:
    """``text`` with every run of white space made one space, cut to ``limit`` characters ("…" last)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
