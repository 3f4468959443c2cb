"""Steps shared by the AI draft tests: a Slack stack whose OpenAI is the fake, a ticket, a saved reply."""

from __future__ import annotations

import asyncio
import time

from sqlmodel import select

from storage.models import ReplyDraft, SavedReply
from tests.fakes.openai_api import FakeOpenAI
from tests.stack import raw_mail, start_stack
from tests.slack.test_ticket_loop import block_texts, buttons

DRAFT_MARK = "AI draft — check before sending"


async def ai_stack(db_url: str, fake: FakeOpenAI, **overrides):
    return await start_stack(db_url, openai_api_key=fake.api_key, openai_base_url=fake.url, **overrides)


def save_reply(stack, name: str, text: str, scope: str = "team") -> int:
    with stack.pitchin.db.transaction() as session:
        row = SavedReply(scope=scope, name=name, name_key=name.lower(), text=text)
        session.add(row)
        session.flush()
        return row.id


async def claimed_ticket(stack, user: str = "UANN", **mail) -> tuple[str, str]:
    """A new ticket from Carol, claimed by ``user``: (ticket number, its thread's ts)."""
    _, body = await stack.post_email(raw_mail(**mail))
    ticket = str(body["ticket_id"])
    root_ts = (await stack.ticket_post()).response["ts"]
    await stack.click("ticket.claim", ticket, user, root_ts)
    await stack.slack.wait_for("chat.update", where=lambda c: c.args["ts"] == root_ts)
    return ticket, root_ts


async def ephemeral_to(stack, user: str, containing: str, timeout: float = 15):
    calls = await stack.slack.wait_for("chat.postEphemeral", timeout=timeout,
                                       where=lambda c: c.args.get("user") == user and containing in c.args.get("text", ""))
    return calls[-1]


def draft_button(call, action_id: str = "ai.send") -> str:
    return next(e["value"] for b in call.args["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def drafts(stack) -> list[ReplyDraft]:
    with stack.pitchin.db.transaction() as session:
        rows = list(session.exec(select(ReplyDraft).order_by(ReplyDraft.id)))
        for row in rows:
            session.expunge(row)
        return rows


async def until(check, what: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


__all__ = ["ai_stack", "save_reply", "claimed_ticket", "ephemeral_to", "draft_button", "drafts", "until",
           "block_texts", "buttons", "DRAFT_MARK"]
