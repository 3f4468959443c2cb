"""The words of the rotations' reminders and escalations, queued in the outbox in the caller's
transaction (handlers.rotation_jobs decides when).

Times are shown in the rotation's own zone ("until 17:00"): a shift is a working day there.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from sqlalchemy import select

from handlers import outbound, thread_links
from handlers.base import Button, Card, PersonRef
from handlers.context import Context
from handlers.rotation_shifts import zone_of
from storage import repos
from storage.models import Rotation, ThreadAnchor, Ticket

USERGROUP_PLATFORM = "slack"  # a rotation's user group (Shift.usergroup) is a Slack user group id
LISTED = 15  # unclaimed tickets listed in a reminder; the rest are counted


# ---------------------------------------------------------------- tickets that wait


def _open_unclaimed(session) -> list[Ticket]:
    return list(session.execute(select(Ticket).where(Ticket.status == "open", Ticket.claimed_by_id.is_(None))
                                .order_by(Ticket.id)).scalars())


def _still_unclaimed(session, ticket_id: int) -> Ticket | None:
    ticket = repos.fresh_ticket(session, ticket_id)
    return ticket if ticket is not None and ticket.status == "open" and ticket.claimed_by_id is None else None


def _ticket_line(ticket: Ticket, links: dict[str, str], platform: str | None) -> str:
    url = thread_links.pick(links, platform)
    return f"#{ticket.id} · {ticket.subject}" + (f" · {url}" if url else "")


# ---------------------------------------------------------------- shifts in words


def _zone(session, rotation_id: int) -> tzinfo:
    rotation = session.get(Rotation, rotation_id)
    return zone_of(rotation) if rotation is not None else timezone.utc  # removed a moment ago: its times in UTC


def _clock(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


def _date(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b}"


def _names(refs: dict[int, PersonRef], ids) -> str:
    return ", ".join(refs[i].name for i in ids if i in refs)


def _company(refs: dict[int, PersonRef], shift, person_id: int) -> str:
    """Who else is on duty with this person, and the onboarding buddy, as a sentence (or nothing)."""
    words = ""
    others = [p for p in shift.person_ids if p != person_id]
    if others:
        words += f" With you: {_names(refs, others)}."
    if shift.buddy_id is not None and shift.buddy_id in refs:
        words += f" Buddy: {refs[shift.buddy_id].name}" + (" (ask them anything)." if person_id != shift.buddy_id
                                                           else ".")
    return words


def _people(session, shift) -> dict[int, PersonRef]:
    return repos.person_refs(session, [*shift.person_ids, shift.buddy_id])


# ---------------------------------------------------------------- reminders


def on_duty_reminder(ctx: Context, session, shift) -> None:
    """At the shift's start: each person on duty is told, with the tickets nobody has claimed."""
    zone, refs = _zone(session, shift.rotation_id), _people(session, shift)
    waiting = _open_unclaimed(session)
    links = thread_links.ticket_links(session, [t.id for t in waiting[:LISTED]])
    for person_id in shift.person_ids:
        platform = thread_links.reading_platform(session, person_id, ctx.platforms)
        text = (f"☀️ You are on support today until {_clock(shift.end, zone)} ({shift.rotation})."
                f"{_company(refs, shift, person_id)}\n")
        if waiting:
            text += f"Open tickets nobody has claimed ({len(waiting)}):\n"
            text += "\n".join(_ticket_line(t, links[t.id], platform) for t in waiting[:LISTED])
            if len(waiting) > LISTED:
                text += f"\n… and {len(waiting) - LISTED} more: `list` shows them."
        else:
            text += "No open ticket is waiting for a claim right now."
        outbound.post_to_person(ctx, session, person_id, text)


def today_on_support(ctx: Context, session, shift) -> None:
    """"Today on support: @x (until 17:00)" in the rotation's channel."""
    zone, refs = _zone(session, shift.rotation_id), _people(session, shift)
    until = f" (until {_clock(shift.end, zone)})"
    status: list = ["Today on support: "]
    for n, person_id in enumerate(p for p in shift.person_ids if p in refs):
        status += [", "] * (n > 0) + [refs[person_id]]
    status.append(until)
    if shift.buddy_id in refs:
        status += [" · buddy: ", refs[shift.buddy_id]]
    card = Card(title=f"Today on support: {_names(refs, shift.person_ids)}{until}", status=tuple(status))
    platform, channel = shift.channel
    outbound.post_to_channel(ctx, session, platform, channel, card=card)


def heads_up(ctx: Context, session, shift) -> None:
    """The working day before: each person on duty next is told when."""
    zone, refs = _zone(session, shift.rotation_id), _people(session, shift)
    when = f"{_date(shift.start, zone)}, {_clock(shift.start, zone)}–{_clock(shift.end, zone)} ({zone})"
    for person_id in shift.person_ids:
        outbound.post_to_person(ctx, session, person_id,
                                f"👋 Heads-up: you are on support next, {when}, in {shift.rotation}."
                                f"{_company(refs, shift, person_id)}")


def follow_duty(ctx: Context, session, shift) -> None:
    """The rotation's user group (Slack's: the only platform with them) becomes whoever is on duty."""
    outbound.set_usergroup(ctx, session, USERGROUP_PLATFORM, shift.usergroup, list(shift.person_ids))


# ---------------------------------------------------------------- escalations


def to_person_on_duty(ctx: Context, session, ticket_id: int, people: list[int]) -> None:
    """An unclaimed ticket, to each person on duty, with a Claim button."""
    ticket = _still_unclaimed(session, ticket_id)
    if ticket is None:
        return  # claimed or closed a moment ago
    links = thread_links.ticket_links(session, [ticket_id])[ticket_id]
    minutes = f"{ctx.escalate_minutes:g} working minute" + ("s" if ctx.escalate_minutes != 1 else "")
    for person_id in people:
        line = _ticket_line(ticket, links, thread_links.reading_platform(session, person_id, ctx.platforms))
        card = Card(title=f"#{ticket.id} · {ticket.subject}",
                    body=f"Nobody has claimed this ticket from {ticket.customer_email} for {minutes}, and you are "
                         f"on support. Can you take it?\n{line}",
                    actions=(Button("Claim", "ticket.claim", str(ticket.id), style="primary"),), accent="open")
        outbound.post_to_person(ctx, session, person_id, f"⏰ Unclaimed for {minutes}: {line}", card=card)


def to_support_channel(ctx: Context, session, ticket_id: int) -> None:
    """Still unclaimed after twice the escalation time: said in the channel where it was posted."""
    ticket = _still_unclaimed(session, ticket_id)
    if ticket is None:
        return
    minutes = 2 * ctx.escalate_minutes
    for (anchor,) in session.execute(select(ThreadAnchor).where(ThreadAnchor.ticket_id == ticket_id)).all():
        url = thread_links.link(anchor)
        outbound.post_to_channel(ctx, session, anchor.platform, anchor.channel,
                                 f"⏰ #{ticket.id} · {ticket.subject} has waited {minutes:g} working minutes and "
                                 f"nobody has claimed it yet." + (f" {url}" if url else ""))


def nudge(ctx: Context, session, ticket_id: int, person_id: int, hours: float) -> None:
    """A claimed ticket without an answer for hours of working time: its claimer is reminded once."""
    ticket = repos.fresh_ticket(session, ticket_id)
    if ticket is None or ticket.status != "open" or ticket.claimed_by_id != person_id:
        return
    links = thread_links.ticket_links(session, [ticket_id])[ticket_id]
    line = _ticket_line(ticket, links, thread_links.reading_platform(session, person_id, ctx.platforms))
    outbound.post_to_person(ctx, session, person_id,
                            f"⏳ {ticket.customer_email} has waited {hours:g} working hours for an answer on a ticket you "
                            f"claimed: {line}\nAnswer in its thread, or unclaim it so someone else can.")


__all__ = ["on_duty_reminder", "today_on_support", "heads_up", "follow_duty",
           "to_person_on_duty", "to_support_channel", "nudge"]
