"""Links to a ticket's thread, for messages that point at it from elsewhere (a reminder, an escalation).

A link is built from the stored ThreadAnchor alone, so a reminder needs no call to the platform
while it is composed: Slack opens https://slack.com/archives/<channel>/p<ts without the dot> in the
right workspace, and Teams opens a deep link to the thread's root message.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from sqlalchemy import select

from storage.models import Identity, ThreadAnchor


def _slack(anchor: ThreadAnchor) -> str:
    return f"https://slack.com/archives/{anchor.channel}/p{anchor.thread_id.replace('.', '')}"


def _teams(anchor: ThreadAnchor) -> str:
    query = urlencode({"tenantId": anchor.tenant, "parentMessageId": anchor.thread_id})
    return f"https://teams.microsoft.com/l/message/{quote(anchor.channel, safe='')}/{anchor.thread_id}?{query}"


# platform → how a link to a thread's root looks there; a platform without links (the console) is absent
LINKS = {"slack": _slack, "teams": _teams}


def link(anchor: ThreadAnchor) -> str | None:
    build = LINKS.get(anchor.platform)
    return build(anchor) if build else None


def ticket_links(session, ticket_ids) -> dict[int, dict[str, str]]:
    """ticket id → {platform: link to its thread} for every platform it is posted on (with links)."""
    ids = list(ticket_ids)
    out: dict[int, dict[str, str]] = {i: {} for i in ids}
    if not ids:
        return out
    for (anchor,) in session.execute(select(ThreadAnchor).where(ThreadAnchor.ticket_id.in_(ids))).all():
        url = link(anchor)
        if url:
            out[anchor.ticket_id][anchor.platform] = url
    return out


def reading_platform(session, person_id: int, platforms: tuple[str, ...]) -> str | None:
    """The platform a direct message to this person will be read on: their first account on a
    platform this process posts to (the delivery worker picks it the same way)."""
    rows = session.execute(select(Identity.platform).where(Identity.person_id == person_id)
                           .order_by(Identity.id)).scalars()
    return next((p for p in rows if p in platforms), None)


def pick(links: dict[str, str], platform: str | None) -> str | None:
    """The link for ``platform``, else any link (a person on Teams can still open a Slack link)."""
    if platform in links:
        return links[platform]
    return next(iter(links.values()), None)
