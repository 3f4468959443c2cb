"""AI drafts in `pitchin console`: the draft is printed for the person at the terminal, `send`/`edit`/
`discard` act on it, and a sent draft goes out through the normal reply path (undo window, Maildir)."""

from __future__ import annotations

import pytest

from tests.console.test_console import CAROL, close_console, open_console
from tests.fakes.openai_api import FakeOpenAI


@pytest.fixture
def openai():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


async def test_draft_edit_and_send_in_the_terminal(tmp_path, openai):
    term = await open_console(tmp_path, openai_api_key=openai.api_key, openai_base_url=openai.url)
    try:
        await term.post_message(CAROL)
        shown = await term.wait_for("draft 1 · summarise 1")
        assert "claim 1" in shown
        await term.type("claim 1", "#1 is now claimed by ann.")
        openai.answer({"reply": "Hi {customer.first_name|there}, sorry! {me.first_name}", "sources": [],
                       "needs_check": []})
        out = await term.type("draft 1", "discard 1")
        assert "AI draft — check before sending (#1)" in out and "Hi Carol, sorry! ann" in out
        assert "→ send 1 · edit 1 · discard 1" in out
        out = await term.type("edit 1", "Type your reply on one line")
        out = await term.type("Hi Carol, we refunded the second charge.", "before then to take it back.")
        assert "Sending to carol@example.com by email" in out
        (mail,) = await term.wait_mails(1)
        assert "Hi Carol, we refunded the second charge." in mail.get_content()
        assert "from an AI draft they checked" in term.text
        out = await term.type("send 1", "That draft was sent")
    finally:
        await close_console(term)


async def test_without_a_key_the_terminal_offers_no_ai(tmp_path):
    term = await open_console(tmp_path)
    try:
        await term.post_message(CAROL)
        shown = await term.wait_for("└─ claim 1 · close 1")
        assert "draft 1" not in shown
        out = await term.type("draft 1", "AI is off")
        assert "OPENAI_API_KEY" in out
        await term.type("send 1", "AI is off")
    finally:
        await close_console(term)
