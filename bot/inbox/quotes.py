"""Quoted history: what a mail client appends below a reply, cut off before it reaches a thread."""

from __future__ import annotations

import re

__all__ = ["strip_quoted"]


_ATTRIBUTION_START = re.compile(r"^\s*(On|Am|Le|El|Op|Il|Em|Den|På)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(
    r"(wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev)\s*:\s*$", re.IGNORECASE
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*{0,2}(From|Von|De)\s*:\*{0,2}\s*\S", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"^\s*\*{0,2}(Sent|Date|Gesendet|Envoyé|Enviado)\s*:", re.IGNORECASE)
_OUTLOOK_TO = re.compile(r"^\s*\*{0,2}(To|Subject|An|Betreff|À|Objet|Para|Asunto)\s*:", re.IGNORECASE)
_RULE = re.compile(r"^\s*(_{10,}|-{10,})\s*$")


def strip_quoted(text: str) -> str:
    """Remove the quoted history a mail client appends below a reply.

    Cuts at the first "On <date>, <name> wrote:" line, "-----Original Message-----" line or
    Outlook "From: … Sent: … To:/Subject:" header block, and drops a trailing block of
    ">"-quoted lines. Inline (interleaved) quoting is kept. If nothing would be left, the
    original text is returned unchanged.
    """
    if not text:
        return text
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _quote_start(lines)
    if cut is None:
        kept = lines
    else:
        kept = lines[:cut]
        # A separator rule ("________") right above an Outlook header belongs to the quote.
        while kept and not kept[-1].strip():
            kept.pop()
        if kept and _RULE.match(kept[-1]):
            kept.pop()

    # A trailing block of "> " lines (and the attribution right above it).
    end = len(kept)
    while end and (not kept[end - 1].strip() or kept[end - 1].lstrip().startswith(">")):
        end -= 1
    if any(line.lstrip().startswith(">") for line in kept[end:]):
        kept = kept[:end]
        while kept and not kept[-1].strip():
            kept.pop()
        if kept and _ATTRIBUTION_END.search(kept[-1]):
            kept.pop()

    if cut is None and len(kept) == len(lines):
        return text
    result = "\n".join(kept).rstrip()
    return result if result.strip() else text


def _quote_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if _ORIGINAL_MESSAGE.match(line):
            return i
        if _ATTRIBUTION_START.match(line):
            # The attribution may wrap over up to three lines ("… Ann Smith <\nann@x.com> wrote:").
            joined = line
            for j in range(i, min(i + 3, len(lines))):
                if j > i:
                    joined += " " + lines[j]
                # A real attribution names a date or an address: "On Monday I wrote:" is prose.
                if _ATTRIBUTION_END.search(joined) and re.search(r"\d|@", joined) and len(joined) < 400:
                    return i
        if _OUTLOOK_FROM.match(line):
            window = lines[i + 1 : i + 6]
            if any(_OUTLOOK_SENT.match(w) for w in window) and any(_OUTLOOK_TO.match(w) for w in window):
                return i
    return None

