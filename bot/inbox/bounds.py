"""Cheap limits checked on a mail's raw bytes before the standard library parses it.

The standard library's parser spends time on every MIME part and every header line: a 5 MB mail of
50,000 tiny parts took 25 s to read, whoever runs it. These checks are a few regular expression
scans over the bytes (milliseconds for 10 MB), so the expensive work that follows is bounded:

- the top-level header block is refused when it is absurd (real mail has a few KB of headers);
- a mail of more than ``MAX_PARTS`` MIME parts is cut just before part ``MAX_PARTS + 1``; the
  parser then reads the first ones (the open multiparts simply end there) and the ticket says so.

Only boundaries a Content-Type declares (``boundary="…"`` or ``boundary=…``) are recognised; a mail
that hides its boundary in RFC 2231 continuations escapes the cut, and ``parse`` still keeps only
the first ``MAX_PARTS`` parts it finds (the parse then takes longer, off the event loop).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_HEADER_BYTES", "MAX_HEADER_FIELDS", "MAX_PARTS", "Bounded", "header_problem", "keep_first_parts"]

MAX_PARTS = 100
MAX_HEADER_BYTES = 256 * 1024
MAX_HEADER_FIELDS = 1000

_BLANK_LINE = re.compile(rb"\n\r?\n")
_FIELD_START = re.compile(rb"\n[^ \t\r\n]")
_BOUNDARY = re.compile(rb"""\bboundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))""", re.IGNORECASE)
_DASH_LINE = re.compile(rb"^--([^\r\n]+)", re.MULTILINE)


def header_problem(raw: bytes) -> str | None:
    """Why the mail's own header block is too big to read, or None when it is fine."""
    blank = _BLANK_LINE.search(raw, 0, MAX_HEADER_BYTES + 3)
    end = blank.start() + 1 if blank else len(raw)
    if end > MAX_HEADER_BYTES:
        return (f"its header block is over {MAX_HEADER_BYTES // 1024} KB (real mail has a few KB of headers "
                "before the blank line that starts the text); Pitchin does not read it")
    fields = len(_FIELD_START.findall(raw, 0, end)) + 1
    if fields > MAX_HEADER_FIELDS:
        return (f"it has {fields:,} header lines; Pitchin reads mail with at most {MAX_HEADER_FIELDS:,} "
                "(real mail has a few dozen)")
    return None


@dataclass(frozen=True)
class Bounded:
    raw: bytes  # the mail, cut after its first ``kept`` parts when it had more
    parts: int  # MIME parts the whole mail has (delimiter lines of its declared boundaries)
    kept: int

    @property
    def cut(self) -> bool:
        return self.kept < self.parts


def keep_first_parts(raw: bytes, limit: int = MAX_PARTS) -> Bounded:
    """The mail with at most ``limit`` MIME parts, and how many it had."""
    boundaries = {quoted or bare for quoted, bare in _BOUNDARY.findall(raw)}
    if not boundaries:
        return Bounded(raw, 0, 0)
    parts, cut_at = 0, None
    for line in _DASH_LINE.finditer(raw):
        token = line.group(1).rstrip(b" \t\r")
        if token in boundaries:  # "--boundary" opens a part; "--boundary--" closes the multipart
            parts += 1
            if parts == limit + 1:
                cut_at = line.start()
    if cut_at is None:
        return Bounded(raw, parts, parts)
    return Bounded(raw[:cut_at], parts, limit)
