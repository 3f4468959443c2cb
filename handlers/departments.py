"""Departments that hear a weekly briefing: `department add|list|remove`.

A department is a name, the channel it works in (on the platform it was added from), its managers
(a copy of each briefing by DM) and, optionally, words saying what it is about: ``about billing
refunds invoices`` steers its briefing to the issues closest to those words (the words' vector is
computed here, once, with the local model; handlers/briefing_compose.py compares it with issues).
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update

from handlers import message_vectors, rotation_words as words
from handlers.base import Actor, Named, Reply, Usage
from handlers.context import Context
from handlers.rotation_schedule import WEEKDAYS, parse_time
from storage import repos
from storage.models import BriefingIssue, Department, IssueRoute

USAGE = {
    "add": "department add <Name> #channel [@manager …] [about <words…>] [weekly mon 09:00] [tz Europe/Berlin]",
    "list": "department list",
    "remove": "department remove <Name>",
    "unmove": "department unmove <move number>",
}
DEPARTMENT_USAGE = "department add|list|remove|unmove …"
NAME = re.compile(r"[\w&.-]{1,40}")
KEYWORDS = ("about", "weekly", "tz")
DEFAULT_WEEKDAY, DEFAULT_AT = 0, "09:00"


def model_files(ctx: Context):
    from handlers.local_model import ModelFiles

    return ctx.local_model or ModelFiles.bundled()


def model_name(ctx: Context) -> str:
    """The name the local model's vectors are stored under (MessageVector.model)."""
    return model_files(ctx).name


def embed_words(ctx: Context, text: str):
    """The local model's vector of a department's ``about`` words (the bundled model, offline)."""
    from handlers.similarity import LocalEmbedder

    embedder = LocalEmbedder(model_files(ctx))
    return embedder.embed([text])[0], embedder.name


def zone_of(dept: Department) -> ZoneInfo:
    try:
        return ZoneInfo(dept.tz)
    except Exception:  # a zone that left the system's database: UTC rather than no briefing
        return ZoneInfo("UTC")


def when_words(dept: Department) -> str:
    return f"{WEEKDAYS[dept.weekday].capitalize()} {dept.at_time} {dept.tz}"


def by_name(session, name: str, usage: str) -> Department:
    dept = session.execute(select(Department).where(func.lower(Department.name) == name.lower())).scalar_one_or_none()
    if dept is None:
        known = session.execute(select(Department.name).order_by(Department.name)).scalars().all()
        hint = f" Known: {', '.join(known)}." if known else " There is none yet."
        raise Usage(f"There is no department “{name}”.{hint}", usage)
    return dept


# ---------------------------------------------------------------- add


def _split(args: list[str], usage: str) -> tuple[list[str], dict[str, list[str]]]:
    """"Billing <channel:0> <person:0> about refunds invoices weekly tue 10:00 tz UTC" → the leading
    words and {"about": [...], "weekly": ["tue", "10:00"], "tz": ["UTC"]}. ``about`` takes every
    word up to the next keyword."""
    head: list[str] = []
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for word in args:
        key = word.lower()
        if key in KEYWORDS:
            if key in found:
                raise Usage(f"“{word}” is given twice.", usage)
            current = found[key] = []
        elif current is not None:
            current.append(word)
        else:
            head.append(word)
    return head, found


def _weekly(said: list[str] | None, usage: str) -> tuple[int, str]:
    if said is None:
        return DEFAULT_WEEKDAY, DEFAULT_AT
    if len(said) != 2:
        raise Usage("Say the day and the time after “weekly”, as in weekly mon 09:00.", usage)
    day = said[0].lower()[:3]
    if day not in WEEKDAYS or not said[0].isalpha():
        raise Usage(f"“{said[0]}” is not a weekday: mon, tue, wed, thu, fri, sat or sun.", usage)
    try:
        at = parse_time(said[1])
    except ValueError:
        raise Usage(f"“{said[1]}” is not a time of day: write it as 09:00 (24-hour clock).", usage) from None
    return WEEKDAYS.index(day), f"{at:%H:%M}"


def _channel(word: str, named: Named, usage: str) -> str:
    found = words.token(word, "channel", named)
    if found is not None:
        return found
    if word.lower() == "here" and named.here:
        return named.here
    raise Usage(f"“{word}” is not a channel: mention the department's channel (#billing), or say “here”.", usage)


def add(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["add"]
    head, opts = _split(args, usage)
    if not head:
        raise Usage("Give the department a name and its channel.", usage)
    name = head[0]
    if words.is_person(name) or words.TOKEN.match(name) or not NAME.fullmatch(name):
        raise Usage(f"“{name}” cannot be a department's name: one word (letters, digits, & - . _) first.", usage)
    if len(head) < 2:
        raise Usage(f"Say which channel {name} works in, after its name.", usage)
    channel = _channel(head[1], named, usage)
    weekday, at = _weekly(opts.get("weekly"), usage)
    if "tz" in opts and len(opts["tz"]) != 1:
        raise Usage("Give one time zone after “tz”, as in tz Europe/Berlin.", usage)
    zone_said = opts["tz"][0] if "tz" in opts else actor.tz
    zone = words.zone(zone_said or "UTC", usage)
    about = " ".join(opts.get("about", [])).strip()
    if "about" in opts and not about:
        raise Usage("Say what the department is about after “about”, as in about billing refunds invoices.", usage)
    vector = model = None
    if about:  # before the transaction: the model computes for a moment, no lock is held meanwhile
        vector, model = embed_words(ctx, about)
    with ctx.db.transaction() as session:
        if session.execute(select(Department.id).where(func.lower(Department.name) == name.lower())).first():
            raise Usage(f"There is already a department “{name}”: remove it first, or pick another name.", usage)
        creator = repos.person_for(session, actor)
        managers = [words.person_id(session, w, named, usage) for w in head[2:]]
        managers = list(dict.fromkeys(managers))
        dept = Department(name=name, platform=actor.platform, tenant=actor.tenant, channel_id=channel,
                          managers=managers, about=about,
                          about_vector=message_vectors.encode(vector) if vector is not None else None,
                          about_model=model, weekday=weekday, at_time=at, tz=zone.key, created_by_id=creator.id,
                          created_at=ctx.now())
        session.add(dept)
        session.flush()
        refs = repos.person_refs(session, managers)
    who = (f" Its managers get a copy by DM: {', '.join(refs[p].name for p in managers)}." if managers
           else " No managers named: it goes to the channel only.")
    what = (f" It hears the issues closest to “{about}” (and the company's top one)." if about
            else " It hears the company's top three issues.")
    zone_note = "" if zone_said else " (no time zone given and none known for you: UTC; add tz Europe/Berlin to change)"
    return Reply(f"Department {name} added: its briefing goes to #{channel} every {when_words(dept)}{zone_note}."
                 f"{what}{who} See it now: brief {name}")


# ---------------------------------------------------------------- list and remove


def list_all(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    if args:
        raise Usage("`department list` takes no words.", USAGE["list"])
    with ctx.db.transaction(read_only=True) as session:
        depts = session.execute(select(Department).order_by(Department.name)).scalars().all()
        if not depts:
            return Reply(f"There is no department yet. Add one: {USAGE['add']}")
        refs = repos.person_refs(session, [p for d in depts for p in d.managers])
        routes = session.execute(select(IssueRoute).order_by(IssueRoute.id)).scalars().all()
        names = {d.id: d.name for d in depts}
    lines = []
    for d in depts:
        managers = ", ".join(refs[p].name for p in d.managers if p in refs) or "none"
        about = f"about “{d.about}”" if d.about else "the company's top three"
        lines.append(f"{d.name}: #{d.channel_id}, {when_words(d)}; {about}; managers: {managers}")
    if routes:
        lines.append("Issues moved with “Not ours”:")
        lines += [f"  “{r.label}” → {names.get(r.department_id, '?')} (undo: department unmove {r.id})" for r in routes]
    return Reply("\n".join(lines))


def remove(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["remove"]
    if len(args) != 1:
        raise Usage("Give one department's name.", usage)
    with ctx.db.transaction() as session:
        dept = by_name(session, args[0], usage)
        routes = session.execute(delete(IssueRoute).where(IssueRoute.department_id == dept.id)).rowcount
        # routes that moved issues away from it stay (they say where those issues belong); the
        # issues it was shown stay as history, no longer tied to it
        session.execute(update(IssueRoute).where(IssueRoute.from_department_id == dept.id)
                        .values(from_department_id=None))
        session.execute(update(BriefingIssue).where(BriefingIssue.department_id == dept.id)
                        .values(department_id=None))
        name, channel = dept.name, dept.channel_id
        session.delete(dept)
    moved = (f" The {routes} issue move{'s' if routes != 1 else ''} to it went too: those issues go back to "
             "the departments whose words are closest." if routes else "")
    return Reply(f"Department {name} removed: no more briefings in #{channel}.{moved}")


def undo_move(ctx: Context, route_id: int) -> tuple[bool, str]:
    """Take a "Not ours → X" move back: (whether there was one, what to say)."""
    with ctx.db.transaction() as session:
        route = session.get(IssueRoute, route_id)
        if route is None:
            return False, "That move is not there any more: undone already, or its department was removed."
        target = session.get(Department, route.department_id)
        label, name = route.label, target.name if target else "?"
        session.delete(route)
    return True, f"Undone: issues like “{label}” are no longer moved to {name}."


def unmove(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["unmove"]
    if len(args) != 1 or not args[0].lstrip("#").isdigit():
        raise Usage("Give the number of the move, as `department list` shows it.", usage)
    ok, said = undo_move(ctx, int(args[0].lstrip("#")))
    return Reply(said, ok=ok)


SUBCOMMANDS = {"add": add, "list": list_all, "remove": remove, "unmove": unmove}


def run(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    """`department …`: alone, the list; else a sub-command (a typo gets the list, never a guess)."""
    if not args:
        return list_all(ctx, actor, [], named)
    verb = SUBCOMMANDS.get(args[0].lower())
    if verb is None:
        raise Usage(f"Pitchin does not know “department {args[0]}”.\n" + "\n".join(USAGE.values()), DEPARTMENT_USAGE)
    return verb(ctx, actor, args[1:], named)


# ---------------------------------------------------------------- when a briefing is due (pure)


def due_at(dept: Department, now: datetime) -> datetime | None:
    """The moment this week's briefing came due, when that was earlier today in the department's
    zone: a briefing missed while Pitchin was down goes out the same local day, never later. None
    otherwise (another weekday, not yet the time, or the department was added after the time)."""
    zone = zone_of(dept)
    local = now.astimezone(zone)
    if local.weekday() != dept.weekday:
        return None
    hour, minute = (int(x) for x in dept.at_time.split(":"))
    due = datetime.combine(local.date(), time(hour, minute), tzinfo=zone)
    due = due.astimezone(timezone.utc).astimezone(zone)  # a time skipped by a DST change: the moment after it
    created = dept.created_at.replace(tzinfo=timezone.utc) if dept.created_at.tzinfo is None else dept.created_at
    if due > now or created > due or due.date() != local.date():
        return None
    return due


def week_before(due: datetime) -> tuple[datetime, datetime]:
    """The 7 days a briefing due at ``due`` (aware, the department's zone) covers: from the same
    local time a week before (wall-clock arithmetic: a DST change in between moves it an hour), in UTC."""
    return (due - timedelta(days=7)).astimezone(timezone.utc), due.astimezone(timezone.utc)
