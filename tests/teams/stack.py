"""A whole Pitchin process with Teams on: real HTTP server, real botbuilder CloudAdapter behind
/api/messages, real database, real SMTP server; only Microsoft's Bot Connector service is a fake,
on 127.0.0.1 (the activities' serviceUrl points at it). Slack can be on too (its fake Web API)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace

import aiohttp
from sqlmodel import select

from bot.app import Pitchin
from storage.models import OutboxJob
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.smtp import SmtpSink
from tests.fakes.teams_connector import SUPPORT, Activities, Call, FakeConnector
from tests.stack import Stack, settings_for

ANN = ("29:ann", "Ann Example")
BOB = ("29:bob", "Bob Builder")
EMAILS = {ANN[0]: "ann@acme.test", BOB[0]: "bob@acme.test"}


@dataclass
class TeamsStack(Stack):
    teams: FakeConnector | None = None
    acts: Activities | None = None

    async def send(self, activity: dict, headers: dict | None = None) -> tuple[int, str]:
        """POST one activity to /api/messages, as the Bot Framework Service does."""
        async with self.http.post(f"{self.base}/api/messages", data=json.dumps(activity),
                                  headers={"Content-Type": "application/json", **(headers or {})}) as resp:
            return resp.status, await resp.text()

    async def say(self, user, text: str, thread: str | None = None, mention: bool = False, **kw) -> dict:
        activity = self.acts.message(user, text, thread=thread, mention=mention, **kw)
        status, body = await self.send(activity)
        assert status in (200, 201), (status, body)
        return activity

    async def submit(self, user, data: dict, card_id: str, thread: str | None = None) -> dict:
        activity = self.acts.submit(user, data, card_id, thread=thread)
        status, body = await self.send(activity)
        assert status in (200, 201), (status, body)
        return activity

    async def choose_channel(self) -> Call:
        """`@Pitchin tickets here` in the support channel; returns Pitchin's answer."""
        said = await self.say(ANN, "tickets here", mention=True)
        (answer,) = await self.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
        return answer

    async def ticket(self, index: int = 0, timeout: float = 10) -> Call:
        """The index-th ticket card posted (each starts its own thread in the ticket channel), once
        Pitchin has stored where it is (so the thread is known as the ticket's)."""
        card = (await self.teams.wait_for("create", count=index + 1, timeout=timeout))[index]
        await self.anchored(card.new_id, timeout)
        return card

    async def outbox_job(self, kind: str, timeout: float = 10) -> OutboxJob:
        """The first job of ``kind`` that has failed at least once (polled until the deadline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.pitchin.db.transaction() as session:
                job = session.exec(select(OutboxJob).where(OutboxJob.kind == kind, OutboxJob.last_error.is_not(None))
                                   .order_by(OutboxJob.id)).first()
            if job is not None:
                return job
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {kind} job failed within {timeout} s")

    async def restart(self) -> None:
        """Stop this Pitchin and start a new one on the same database (and the same fakes)."""
        settings = self.pitchin.settings
        await self.pitchin.stop()
        self.pitchin = Pitchin(settings)
        await self.pitchin.start(http=True, worker=True, scheduler=False)


async def start_teams_stack(db_url: str, with_slack: bool = False, **overrides) -> TeamsStack:
    teams = await FakeConnector().start()
    for user_id, name in (ANN, BOB):
        teams.set_member(user_id, name, EMAILS[user_id])
    slack = None
    if with_slack:
        slack = FakeSlackApi()
        await slack.start()
    smtp = SmtpSink()
    smtp.start()
    settings = replace(settings_for(db_url, slack, smtp), **{"teams": True, **overrides})
    pitchin = Pitchin(settings)
    await pitchin.start(http=True, worker=True, scheduler=False)
    return TeamsStack(pitchin, slack, smtp, aiohttp.ClientSession(), teams=teams, acts=Activities(teams))


async def stop_teams_stack(stack: TeamsStack) -> None:
    await stack.http.close()
    await stack.pitchin.stop()
    stack.smtp.stop()
    await stack.teams.stop()
    if stack.slack is not None:
        await stack.slack.stop()


__all__ = ["ANN", "BOB", "SUPPORT", "TeamsStack", "start_teams_stack", "stop_teams_stack"]
