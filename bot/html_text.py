"""HTML as plain text for people to read: a customer's HTML-only mail, a Teams message.

The standard library's ``HTMLParser`` does the parsing (html2text, used before, is GPL-3.0 and this
project is MIT). What a reader needs survives: paragraphs as blank lines, line breaks, list items as
"- item" (numbered in ``<ol>``), table cells two spaces apart, quoted mail as "> " lines (quote
stripping looks for them), a link as "label (address)" so its real address shows, entities as the
characters they name. Scripts, styles and the title go; images go too, alt text included (it is
mostly "logo"). Whitespace folds as a browser folds it, except in ``<pre>``.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

__all__ = ["html_to_text"]

# contents never shown (script and style are raw text to the parser: nothing inside them is a tag)
_HIDDEN = {"script", "style", "title", "template"}
# a blank line before and after
_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "hr", "dl", "blockquote", "ul", "ol"}
# a line of their own
_LINES = {"div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "address", "form",
          "fieldset", "center", "caption", "figure", "figcaption", "main", "nav", "aside", "body"}
_MAX_DEPTH = 8  # list indents and quote marks stop growing here: a line's prefix stays short however deep
_LONG_TAIL = 4096  # an unparsed rest longer than this is read as text (html_to_text says why)
_TAG = re.compile(r"<[^<>]*>")  # a tag in that rest: linear, it cannot backtrack past a "<"
_FOLD = re.compile(r"[ \t\n\r\f]+")  # HTML's white space; a no-break space is not folded
# addresses that mean nothing outside the mail or are not addresses at all
_NOT_SHOWN = ("#", "cid:", "javascript:", "data:", "about:")


def html_to_text(html: str) -> str:
    """Readable plain text from HTML; lines without trailing spaces, at most one blank line in a row."""
    parser = _Reader()
    parser.feed(html)
    if len(parser.rawdata) > _LONG_TAIL:
        # feed() stops at a tag, comment or declaration that never ends and keeps the rest; close()
        # would then read that rest a character at a time, rescanning to its end each time (hours
        # for a crafted megabyte; CPython fixed it in 2025, gh-135462). Read it as text instead.
        tail, parser.rawdata = parser.rawdata, ""
        parser.handle_data(unescape(_TAG.sub(" ", tail)))
    parser.close()
    text = "".join(parser.out).replace("\xa0", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _address_after(label: str, href: str) -> str:
    """What follows a link's label: its address in brackets, so the reader sees where it goes;
    nothing when the label says it already or the address means nothing outside the message."""
    address = (href or "").strip().removeprefix("mailto:")
    if not address or address.lower().startswith(_NOT_SHOWN) or address in label:
        return ""
    return f" ({address})" if label else address


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._hidden: list[str] = []  # open hidden elements
        self._pre = 0
        self._quotes = 0  # blockquote depth: each line inside starts with "> " this many times
        self._lists: list[list] = []  # open lists: [tag, items so far]
        self._link: tuple[str, int] | None = None  # the open link: its address, where its label starts
        self._row_cells = 0  # cells so far in the current table row

    # -- writing

    def _at_line_start(self) -> bool:
        for chunk in reversed(self.out):
            if chunk:
                return chunk.endswith("\n")
        return True

    def _write(self, text: str) -> None:
        if self._at_line_start() and self._quotes:
            self.out.append("> " * min(self._quotes, _MAX_DEPTH))
        self.out.append(text)

    def _break(self, lines: int) -> None:
        """End the current line, with ``lines - 1`` blank lines after it (none at the very start)."""
        if not any(self.out):
            return
        text = "".join(self.out[-4:])  # enough to count the newlines already there
        have = len(text) - len(text.rstrip("\n"))
        if have < lines:
            self.out.append("\n" * (lines - have))

    # -- parsing

    def handle_starttag(self, tag, attrs):
        if tag in _HIDDEN:
            if tag not in self._hidden:  # they do not nest: one of each is enough to know
                self._hidden.append(tag)
            return
        if tag == "body":
            self._hidden.clear()  # an unclosed <title> above hides nothing of the body
        if self._hidden:
            return
        if tag == "br":
            self.out.append("\n")
        elif tag in _PARAGRAPHS:
            nested = (tag in ("ul", "ol") and self._lists) or (tag == "blockquote" and self._quotes)
            self._break(1 if nested else 2)
            if tag == "pre":
                self._pre += 1
            elif tag == "blockquote":
                self._quotes += 1
            elif tag in ("ul", "ol"):
                self._lists.append([tag, 0])
        elif tag in _LINES:
            self._break(1)
            if tag == "tr":
                self._row_cells = 0
            elif tag == "li":
                self._item()
        elif tag in ("td", "th"):
            if self._row_cells and not self._at_line_start():
                self.out.append("  ")
            self._row_cells += 1
        elif tag == "a":
            if self._link is not None:
                self._end_link()  # links do not nest: a new one ends the open one, as in a browser
            self._link = (dict(attrs).get("href") or "", len(self.out))

    def handle_startendtag(self, tag, attrs):
        if tag in _HIDDEN:
            return  # <script/> hides nothing
        self.handle_starttag(tag, attrs)

    def _item(self) -> None:
        depth = min(max(len(self._lists), 1), _MAX_DEPTH)
        mark = "- "
        if self._lists:
            self._lists[-1][1] += 1
            if self._lists[-1][0] == "ol":
                mark = f"{self._lists[-1][1]}. "
        self._write("  " * (depth - 1) + mark)

    def handle_endtag(self, tag):
        if tag in _HIDDEN:
            if tag in self._hidden:
                self._hidden.remove(tag)
            return
        if self._hidden:
            return
        if tag in _PARAGRAPHS:
            if tag == "pre":
                self._pre = max(self._pre - 1, 0)
            elif tag == "blockquote":
                self._break(1)  # the quote's last line ends with its "> "
                self._quotes = max(self._quotes - 1, 0)
            elif tag in ("ul", "ol") and self._lists:
                self._lists.pop()
            nested = (tag in ("ul", "ol") and self._lists) or (tag == "blockquote" and self._quotes)
            self._break(1 if nested else 2)
        elif tag in _LINES:
            self._break(1)
        elif tag == "a" and self._link is not None:
            self._end_link()

    def close(self) -> None:
        super().close()
        if self._link is not None:  # a link left open still shows where it goes
            self._end_link()

    def _end_link(self) -> None:
        href, start = self._link
        self._link = None
        label = " ".join("".join(self.out[start:]).split())
        after = _address_after(label, href)
        if not after:
            return
        if self._ends_with_space():  # the label ended with a space: keep it after the address
            after = after.lstrip(" ") + " "
        elif self._at_line_start():
            after = after.lstrip(" ")
        elif not label:
            after = " " + after  # a picture that links: its address, apart from the text before
        self._write(after)

    def handle_data(self, data):
        if self._hidden or not data:
            return
        if self._pre:
            for i, line in enumerate(data.split("\n")):
                if i:
                    self.out.append("\n")
                if line:
                    self._write(line)
            return
        text = _FOLD.sub(" ", data)
        if self._at_line_start() or self._ends_with_space():
            text = text.lstrip(" ")
        if text:
            self._write(text)

    def _ends_with_space(self) -> bool:
        for chunk in reversed(self.out):
            if chunk:
                return chunk.endswith(" ")
        return False
