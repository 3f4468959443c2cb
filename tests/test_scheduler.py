"""The scheduler: IMAP polling is wired in `serve`, and on PostgreSQL only one process leads."""

from __future__ import annotations

import pytest

from bot.app import Pitchin
from bot.scheduler import Scheduler
from tests.fakes.imap import DOVECOT_MISSING, DovecotServer, dovecot_available
from tests.stack import raw_mail, settings_for, start_stack, stop_stack


@pytest.mark.skipif(not dovecot_available(), reason=DOVECOT_MISSING)
async def test_serve_polls_the_imap_mailbox_and_posts_the_ticket(sqlite_url):
    with DovecotServer() as imap:
        imap.deliver(raw_mail(subject="Sent to the mailbox", message_id="<imap-1@mail.example.com>"))
        stack = await start_stack(sqlite_url, imap_url=imap.url())
        try:
            await stack.pitchin.stop()  # restart it with the scheduler on, as `pitchin serve` runs
            stack.pitchin = Pitchin(stack.pitchin.settings)
            await stack.pitchin.start(http=True, worker=True, scheduler=True)
            post = await stack.ticket_post(timeout=20)
            assert "Sent to the mailbox" in post.args["text"]
            assert imap.unseen() == []  # marked seen once stored
        finally:
            await stop_stack(stack)


async def test_only_one_scheduler_leads_on_postgres(pg_url):
    settings = settings_for(pg_url, None, None)
    first, second = Pitchin(settings), Pitchin(settings, upgrade=False)
    a, b = Scheduler(first), Scheduler(second)
    try:
        await a.start()
        await b.start()
        assert a.aps.running and not b.aps.running
        await a.stop()  # the leader goes away: the lock is free for the next one
        assert b._try_lead()
    finally:
        await a.stop()
        await b.stop()
        first.db.dispose()
        second.db.dispose()
