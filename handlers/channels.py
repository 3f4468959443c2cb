"""Where each platform posts tickets, when people choose it in chat (Teams: `@Pitchin tickets here`).

The place is the platform's own description of a channel (a serialized Teams conversation
reference), kept as an opaque dict in the ``setting`` table so it survives a restart and every
worker process reads the same one.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from handlers.base import Actor, Reply, utcnow
from handlers.context import Context
from storage import repos
from storage.models import Setting


def ticket_channel_key(platform: str) -> str:
    return f"{platform}.ticket_channel"


def set_ticket_channel(ctx: Context, actor: Actor, platform: str, place: dict, channel: str) -> Reply:
    """Make ``place`` the channel new tickets are posted to on ``platform``. ``channel`` is the
    platform's id of it, to tell whether anything changed."""
    try:
        return _set_ticket_channel(ctx, actor, platform, place, channel)
    except IntegrityError:  # two people chose at the same moment: the other one's row is there now
        return _set_ticket_channel(ctx, actor, platform, place, channel)


def _set_ticket_channel(ctx: Context, actor: Actor, platform: str, place: dict, channel: str) -> Reply:
    key = ticket_channel_key(platform)
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        row = session.get(Setting, key)
        if row is not None and row.value.get("channel") == channel:
            return Reply("Tickets already come to this channel.")
        if row is not None and row.value.get("tenant", actor.tenant) != actor.tenant:
            # the platform refuses other tenants once one has chosen; this settles two at the same moment
            return Reply("Tickets already go to a channel of another organisation.", ok=False)
        value = {"place": place, "channel": channel, "set_by": person.id, "tenant": actor.tenant}
        if row is None:
            session.add(Setting(key=key, value=value))
        else:
            row.value, row.updated_at = value, utcnow()
            session.add(row)
    moved = " Tickets already posted elsewhere stay where they are." if row is not None else ""
    return Reply("From now on every new customer conversation is posted in this channel as a card with "
                 f"Claim and Close; answer in its replies.{moved}")


def ticket_channel(ctx: Context, platform: str) -> dict | None:
    """The place chosen for ``platform``'s tickets, or None when nobody has chosen one yet."""
    with ctx.db.transaction() as session:
        row = session.get(Setting, ticket_channel_key(platform))
        return dict(row.value["place"]) if row is not None else None


def first_greeting(ctx: Context, platform: str, place: str) -> bool:
    """True exactly once per place: platforms announce an installation more than once (and retry)."""
    try:
        with ctx.db.transaction() as session:
            session.add(Setting(key=f"{platform}.greeted:{place}", value={"at": utcnow().isoformat()}))
    except IntegrityError:
        return False
    return True
