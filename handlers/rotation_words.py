"""Reading the words of a `rotation …` command: people, dates, time zones, and how days are shown.

People come as the door resolved them (``<person:0>`` tokens into ``Named.people``) or, typed
plainly (the console), as a name or an email of someone Pitchin knows."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from handlers.base import Named, Usage
from handlers.rotation_schedule import WEEKDAYS
from storage import repos
from storage.models import Person

USAGE = {
    "create": "rotation create <name> @a @b … [days mon-fri] [at 09:00] [until 17:00] [tz Europe/Berlin] "
              "[channel #c]",
    "show": "rotation show [name] [--stats]",
    "add": "rotation add <name> @x [after @y]",
    "remove": "rotation remove <name> @x",
    "cover": "rotation cover <date> [name]",
    "swap": "rotation swap @a @b <date>",
    "away": "rotation away @x <from> [<to>]",
    "skip": "rotation skip <date> [name]",
    "onboard": "rotation onboard @newhire [10 days] [buddy @x] [name]",
    "usergroup": "rotation usergroup <name> @group",
}
ROTATION_USAGE = "rotation create|show|add|remove|cover|swap|away|skip|onboard|usergroup …"

TOKEN = re.compile(r"^<(person|channel|group):(\d+)>$")


def token(word: str, kind: str, named: Named) -> object | None:
    m = TOKEN.match(word)
    if m is None or m.group(1) != kind:
        return None
    items = {"person": named.people, "channel": named.channels, "group": named.groups}[kind]
    index = int(m.group(2))
    return items[index] if index < len(items) else None


def is_person(word: str) -> bool:
    m = TOKEN.match(word)
    return (m is not None and m.group(1) == "person") or word.startswith("@") or "@" in word


def person_id(session, word: str, named: Named, usage: str) -> int:
    """The Person a word names: a mention the door resolved, or a known person's email or name."""
    actor = token(word, "person", named)
    if actor is not None:
        return repos.person_for(session, actor).id
    key = word.lstrip("@").strip().lower()
    if key and not TOKEN.match(word):
        column = Person.email if "@" in key else func.lower(Person.name)
        found = session.execute(select(Person.id).where(column == key).limit(2)).scalars().all()
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise Usage(f"More than one person is called “{word}”: name them by email.", usage)
    raise Usage(f"Pitchin does not know “{word}”. Name people with an @mention (in the console: their "
                "name or email, as Pitchin knows them).", usage)


def zone(name: str, usage: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Usage(f"“{name}” is not a time zone. Use an IANA name such as Europe/Berlin or America/New_York.",
                    usage) from None


def day(word: str, today: date, usage: str) -> date:
    """"2026-12-01", "today", "tomorrow", "tue" (the next Tuesday, today included) → a date, never
    one in the past."""
    w = word.lower()
    if w == "today":
        return today
    if w == "tomorrow":
        return today + timedelta(days=1)
    if w[:3] in WEEKDAYS and len(w) >= 3 and w.isalpha():
        return today + timedelta(days=(WEEKDAYS.index(w[:3]) - today.weekday()) % 7)
    try:
        found = date.fromisoformat(word)
    except ValueError:
        raise Usage(f"“{word}” is not a date: write 2026-12-01, today, tomorrow or a weekday.", usage) from None
    if found < today:
        raise Usage(f"{shown(found)} is in the past.", usage)
    return found


def shown(d: date) -> str:
    """"Tue 1 Dec" (with the year when it is not this year's … or next January's: kept short)."""
    return f"{d:%a} {d.day} {d:%b}"


def shown_at(moment: datetime, where: ZoneInfo) -> str:
    local = moment.astimezone(where)
    return f"{shown(local.date())} {local:%H:%M}"


def options(words: list[str], names: tuple[str, ...], usage: str) -> tuple[list[str], dict[str, str]]:
    """Split "… days mon-fri at 09:00 tz UTC" into the leading words and {"days": "mon-fri", …}."""
    head, found = [], {}
    i = 0
    while i < len(words):
        key = words[i].lower()
        if key in names:
            if i + 1 >= len(words):
                raise Usage(f"Say what “{words[i]}” is.", usage)
            if key in found:
                raise Usage(f"“{words[i]}” is given twice.", usage)
            found[key] = words[i + 1]
            i += 2
        elif found:
            raise Usage(f"Pitchin does not understand “{words[i]}” here.", usage)
        else:
            head.append(words[i])
            i += 1
    return head, found
