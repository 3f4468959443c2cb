"""Briefings: every department hears, each week, the three things customers raised most.

`department add|list|remove|unmove` (handlers/departments.py) says who hears what; `brief
[department]` shows this week's briefing now, to the asker only, with **Post to #channel**; the
weekly one goes out by itself (handlers/briefing_jobs.py). The buttons on a briefing: "Not ours →
Billing" moves an issue, and the issues like it later, to another department's briefing (with
Undo), and Post queues the asker's preview in the department's channel, once.

Composing is handlers/briefing_compose.py (read from stored vectors, never a model call but the
optional IssueWriter's); the words are handlers/briefing_render.py.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone

from sqlalchemy import select

from handlers import departments, outbound, thread_links
from handlers.base import Actor, Button, Named, Reply, Usage
from handlers.briefing_compose import WEEK, compose, keep
from handlers.briefing_render import MOVE, POST, UNMOVE, card, empty_text  # noqa: F401 (ids for the registry)
from handlers.context import Context
from handlers.departments import by_name, week_before
from handlers.scheduled import run_once
from storage import repos
from storage.models import BriefingIssue, Department, IssueRoute

log = logging.getLogger("pitchin.briefings")

BRIEF_USAGE = "brief [department]"
CLI_USAGE = "pitchin brief [--department NAME] [--since YYYY-MM-DD]"
POSTED = "briefing.post"  # run_once job of a preview posted with its button; key "<department id>:<since epoch>"


def _zone(actor: Actor):
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(actor.tz) if actor.tz else timezone.utc
    except Exception:
        return timezone.utc


def brief(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    """This week's briefing (the last 7 days), now, only to the asker: a department's, or the company's."""
    if len(args) > 1:
        raise Usage("Give one department's name at most (one word, as `department list` shows it).", BRIEF_USAGE)
    now = ctx.now()
    with ctx.db.transaction(read_only=True) as session:
        dept = by_name(session, args[0], BRIEF_USAGE) if args else None
        b = compose(ctx, session, dept, now - WEEK, now, store=False, zone=None if dept else _zone(actor))
    if b.issues:
        with ctx.db.transaction() as session:
            b = keep(ctx, session, b)
    if not b.issues:
        return Reply(empty_text(b))
    shown = card(b, actor.platform, post=True)
    hint = "" if dept else "\n(The company's top three; `brief <department>` for one department's.)"
    return Reply(f"{shown.title}\n\n{shown.body}{hint}", actions=shown.actions)


# ---------------------------------------------------------------- buttons


def _ids(value: str, count: int) -> list[int] | None:
    parts = str(value).split(":")
    return [int(p) for p in parts] if len(parts) == count and all(p.isdigit() for p in parts) else None


def move(ctx: Context, actor: Actor, value: str) -> Reply:
    """"Not ours → Billing": this issue, and later issues like it, go to Billing's briefing."""
    ids = _ids(value, 2)
    if ids is None:
        return Reply(f"That button carries “{value}”, which is not an issue and a department.", ok=False)
    with ctx.db.transaction() as session:
        issue, target = session.get(BriefingIssue, ids[0]), session.get(Department, ids[1])
        if issue is None or target is None:
            return Reply("That issue or department is not there any more (the department was removed?). "
                         "`department list` shows what is.", ok=False)
        source = session.get(Department, issue.department_id) if issue.department_id else None
        latest = session.execute(select(IssueRoute).where(IssueRoute.issue_id == issue.id)
                                 .order_by(IssueRoute.id.desc()).limit(1)).scalar_one_or_none()
        if latest is not None and latest.department_id == target.id:
            return Reply(f"“{issue.label}” is moved to {target.name} already.",
                         actions=(Button("Undo", UNMOVE, str(latest.id)),))
        mover = repos.person_for(session, actor)
        route = IssueRoute(department_id=target.id, from_department_id=source.id if source else None,
                           issue_id=issue.id, label=issue.label, model=issue.model, centroid=issue.centroid,
                           moved_by_id=mover.id, created_at=ctx.now())
        session.add(route)
        session.flush()
        route_id, label, name = route.id, issue.label, target.name
        away = f" and leave {source.name}'s" if source else ""
    return Reply(f"Moved “{label}” to {name}: from the next briefing on, issues like it go to "
                 f"{name}'s briefing{away}. Undo with the button, or `department unmove {route_id}`.",
                 actions=(Button("Undo", UNMOVE, str(route_id)),))


def unmove(ctx: Context, actor: Actor, value: str) -> Reply:
    ids = _ids(value, 1)
    if ids is None:
        return Reply(f"That button carries “{value}”, which is not a move's number.", ok=False)
    ok, said = departments.undo_move(ctx, ids[0])
    return Reply(said, ok=ok)


def post(ctx: Context, actor: Actor, value: str) -> Reply:
    """**Post to #channel** under a preview: the same week's briefing, queued in the department's
    channel, once (a second click, or a colleague's, is told it is there)."""
    ids = _ids(value, 2)
    if ids is None:
        return Reply(f"That button carries “{value}”, which is not a department and a week.", ok=False)
    dept_id, epoch = ids
    since = datetime.fromtimestamp(epoch, timezone.utc)
    with ctx.db.transaction(read_only=True) as session:
        dept = session.get(Department, dept_id)
        if dept is None:
            return Reply("That department is not there any more: nothing was posted.", ok=False)
        channel = dept.channel_id
        b = compose(ctx, session, dept, since, since + WEEK, store=False)

    def send(session) -> None:
        kept = keep(ctx, session, b)
        shown = card(kept, dept.platform)
        outbound.post_to_channel(ctx, session, dept.platform, dept.channel_id,
                                 shown.title if kept.issues else empty_text(kept), shown if kept.issues else None)

    if not run_once(ctx, POSTED, f"{dept_id}:{epoch}", send):
        return Reply(f"This briefing is in #{channel} already: it is posted once.")
    return Reply(f"Queued in #{channel}: the briefing goes out in a moment.")


# ---------------------------------------------------------------- the weekly one


def weekly(ctx: Context, session, dept_id: int, due: datetime):
    """The briefing of the week before ``due``, composed (read only) and not yet kept; None when
    the department is gone."""
    dept = session.get(Department, dept_id)
    if dept is None:
        return None
    since, until = week_before(due)
    return compose(ctx, session, dept, since, until, store=False)


def send_weekly(ctx: Context, session, dept_id: int, b) -> None:
    """``b`` (from ``weekly``) to the department's channel, and by DM to its managers. A week with
    nothing raised is said in one line, in the channel only."""
    dept = session.get(Department, dept_id)
    if dept is None:
        return  # removed a moment ago
    b = keep(ctx, session, b)
    if not b.issues:
        outbound.post_to_channel(ctx, session, dept.platform, dept.channel_id, empty_text(b))
        return
    shown = card(b, dept.platform)
    outbound.post_to_channel(ctx, session, dept.platform, dept.channel_id, shown.title, shown)
    for person_id in dept.managers:
        platform = thread_links.reading_platform(session, person_id, ctx.platforms) or dept.platform
        mine = card(b, platform)
        outbound.post_to_person(ctx, session, person_id, mine.title, mine)


# ---------------------------------------------------------------- in a terminal


def terminal(ctx: Context, department: str | None, since: date | None) -> str:
    """`pitchin brief`: the briefing of the 7 days from ``since`` (midnight in the department's zone,
    UTC for the company's), or of the last 7 days; nothing stored, no buttons. Raises Usage for a
    department that does not exist."""
    from handlers.briefing_render import terminal_text

    with ctx.db.transaction(read_only=True) as session:
        dept = by_name(session, department, CLI_USAGE) if department else None
        zone = departments.zone_of(dept) if dept else timezone.utc
        if since is None:
            until = ctx.now()
            start = until - WEEK
        else:
            start = datetime.combine(since, datetime.min.time(), tzinfo=zone)
            until = (start + WEEK).astimezone(timezone.utc)
            start = start.astimezone(timezone.utc)
        return terminal_text(compose(ctx, session, dept, start, until, store=False, zone=zone))
