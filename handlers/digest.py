"""The daily digest: `digest #channel [at 16:00] [tz Zone]`, `digest off`, `digest` (the setting).

Kayak sends the whole company five random customer conversations every day; so does Pitchin, in
one channel of the company's choosing: every day at the chosen time, five conversations answered
the day before (handlers.digest_jobs sends it, handlers.digest_text writes it).

There is one digest for the company: its setting is one row of the ``setting`` table (key
``digest``), so it survives a restart and every worker reads the same one. Setting it again moves it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from handlers import rotation_words as words
from handlers.base import Actor, Named, Reply, Usage, utcnow
from handlers.context import Context
from handlers.rotation_schedule import parse_time
from storage import repos
from storage.models import Setting

SETTING_KEY = "digest"
DEFAULT_AT = "16:00"
USAGE = "digest #channel [at 16:00] [tz Europe/Berlin] | digest off"


@dataclass(frozen=True)
class DigestSetting:
    """Where and when the digest goes: ``at`` is a wall-clock time in ``tz``; ``first_day`` is the
    first local date it goes out (a digest set after today's time starts tomorrow)."""

    platform: str
    tenant: str
    channel: str
    at: str
    tz: str
    set_by: int | None
    first_day: str  # ISO date

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def at_time(self) -> time:
        return parse_time(self.at)

    @classmethod
    def from_value(cls, value: dict) -> "DigestSetting":
        return cls(platform=value["platform"], tenant=value.get("tenant", ""), channel=value["channel"],
                   at=value.get("at", DEFAULT_AT), tz=value.get("tz", "UTC"), set_by=value.get("set_by"),
                   first_day=value.get("first_day", "1970-01-01"))


def read_setting(session) -> DigestSetting | None:
    row = session.get(Setting, SETTING_KEY)
    return DigestSetting.from_value(row.value) if row is not None and row.value else None


def first_day(at: time, zone: ZoneInfo, now: datetime) -> date:
    """Today (local), unless today's time has passed: then tomorrow. Setting the digest at 17:00 for
    16:00 does not post at once; a digest missed while Pitchin was down still does (digest_jobs)."""
    local = now.astimezone(zone)
    return local.date() if local.time() < at else local.date() + timedelta(days=1)


def shown_day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _where(setting: DigestSetting, actor: Actor, named: Named) -> str:
    """"this channel" where the command was typed in it, else "#C0123" (and on which platform when it
    is not the reader's): the core has channels' ids, not their names."""
    if setting.platform == actor.platform and named.here is not None and setting.channel == named.here:
        return "this channel"
    elsewhere = "" if setting.platform == actor.platform else f" on {setting.platform.capitalize()}"
    return f"#{setting.channel}{elsewhere}"


# ---------------------------------------------------------------- the command


def run(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    if not args:
        return show(ctx, actor, named)
    if args[0].lower() == "off":
        if len(args) > 1:
            raise Usage("`digest off` takes no more words.", USAGE)
        return turn_off(ctx, actor, named)
    return set_digest(ctx, actor, args, named)


def show(ctx: Context, actor: Actor, named: Named) -> Reply:
    with ctx.db.transaction(read_only=True) as session:
        setting = read_setting(session)
        by = repos.person_refs(session, [setting.set_by]).get(setting.set_by) if setting else None
    if setting is None:
        return Reply("There is no daily digest yet: every day it posts five random customer conversations "
                     f"answered the day before in a channel.\nUsage: {USAGE}")
    who = f", set by {by.name}" if by else ""
    return Reply(f"The daily digest goes to {_where(setting, actor, named)} at {setting.at} {setting.tz} every "
                 f"day{who}.\nUsage: {USAGE}")


def _channel(word: str, named: Named) -> str:
    found = words.token(word, "channel", named)
    if found is not None:
        return found
    if word.lower() == "here" and named.here:
        return named.here
    raise Usage(f"“{word}” is not a channel: mention it (#general), or say “digest here”.", USAGE)


def set_digest(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    head, opts = words.options(args, ("at", "tz"), USAGE)
    if len(head) != 1:
        raise Usage("Name one channel, then optionally a time and a time zone." if head else
                    "Name the channel the digest goes to first.", USAGE)
    channel = _channel(head[0], named)
    try:
        at = parse_time(opts.get("at", DEFAULT_AT))
    except ValueError:  # "4pm", "25:00"
        raise Usage(f"“{opts['at']}” is not a time of day: write it as 16:00.", USAGE) from None
    zone_said = opts.get("tz") or actor.tz
    zone = words.zone(zone_said or "UTC", USAGE)
    now = ctx.now()
    starts = first_day(at, zone, now)
    try:
        before, now_set = _store(ctx, actor, channel, f"{at:%H:%M}", zone.key, starts)
    except IntegrityError:  # two people set it at the same moment: the other's row is there now
        before, now_set = _store(ctx, actor, channel, f"{at:%H:%M}", zone.key, starts)
    zone_note = ("" if opts.get("tz") else " (your time zone)" if actor.tz else
                 " (no time zone given and none known for you: UTC; add tz Europe/Berlin to change)")
    moved = ""
    if before is not None and (before.platform, before.channel) != (actor.platform, channel):
        moved = f" It no longer goes to {_where(before, actor, named)}."
    return Reply(f"Every day at {at:%H:%M} {zone.key}{zone_note}, five random customer conversations answered the "
                 f"day before go to {_where(now_set, actor, named)}: the customer's question, the answer, the "
                 "colleague's name and the customer's first name only, with links to the threads. The first comes "
                 f"{shown_day(starts)}.{moved}")


def _store(ctx: Context, actor: Actor, channel: str, at: str, tz: str,
           starts: date) -> tuple[DigestSetting | None, DigestSetting]:
    """Save the setting: the one it replaced (if any), and the new one."""
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        row = session.get(Setting, SETTING_KEY)
        before = DigestSetting.from_value(row.value) if row is not None and row.value else None
        setting = DigestSetting(platform=actor.platform, tenant=actor.tenant, channel=channel, at=at, tz=tz,
                                set_by=person.id, first_day=starts.isoformat())
        value = asdict(setting)
        if row is None:
            session.add(Setting(key=SETTING_KEY, value=value))
        else:
            row.value, row.updated_at = value, utcnow()
            session.add(row)
    return before, setting


def turn_off(ctx: Context, actor: Actor, named: Named) -> Reply:
    with ctx.db.transaction() as session:
        row = session.get(Setting, SETTING_KEY)
        if row is None or not row.value:
            return Reply(f"There is no daily digest to turn off.\nUsage: {USAGE}")
        before = DigestSetting.from_value(row.value)
        session.delete(row)
    return Reply(f"The daily digest is off: nothing more goes to {_where(before, actor, named)}.")
