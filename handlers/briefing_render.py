"""A composed briefing in words: the card a channel and the managers see, and plain text for a
terminal. Neutral text only: each platform's renderer escapes it (customer words stay inert)."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers import thread_links
from handlers.base import Button, Card
from handlers.briefing_compose import Briefing, ShownIssue
from handlers.briefing_text import AI_MARK

MOVE = "briefing.move"  # value "<BriefingIssue id>:<department id>"
UNMOVE = "briefing.unmove"  # value "<IssueRoute id>"
POST = "briefing.post"  # value "<department id>:<since, epoch seconds>"


def change_words(now: int, before: int | None) -> str:
    if before is None:
        return "new this week"
    if now > before:
        return f"↑ from {before}"
    if now < before:
        return f"↓ from {before}"
    return "same as last week"


def _day(moment: datetime, zone) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b}"


def week_words(b: Briefing) -> str:
    """"Mon 23 Nov – Sun 29 Nov": the days the week covers, in the briefing's zone."""
    return f"{_day(b.since, b.zone)} – {_day(b.until - timedelta(seconds=1), b.zone)}"


def title(b: Briefing) -> str:
    whose = f"for {b.department}" if b.department else "for the company"
    return f"📣 What customers said, {whose} · {week_words(b)}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def issue_lines(n: int, issue: ShownIssue, platform: str | None) -> list[str]:
    mark = f" · {AI_MARK}" if issue.ai else ""
    lines = [f"{n}. {issue.label} · {_plural(issue.customers, 'customer')} "
             f"({change_words(issue.customers, issue.before)}){mark}"]
    if issue.summary:
        lines.append(f"   {issue.summary}")
    for q in issue.quotes:
        url = thread_links.pick(q.links, platform)
        lines.append(f"   “{q.text}” — {q.who}" + (f" · {url}" if url else ""))
    facts = []
    if issue.card:
        card_id, card_title, status = issue.card
        facts.append(f"Suggestion card #{card_id} “{card_title}” ({status})")
    if issue.tickets:
        facts.append(f"{issue.answered} of {_plural(issue.tickets, 'ticket')} answered")
    if facts:
        lines.append("   " + " · ".join(facts))
    return lines


def body(b: Briefing, platform: str | None) -> str:
    if not b.issues:
        return empty_text(b)
    own = [i for i in b.issues if not i.extra]
    top = "the top issue" if len(own) == 1 else f"the top {len(own)} issues"
    head = (f"{_plural(b.raised, 'customer')} raised something this week (new tickets and feedback); "
            + (f"{top}:" if own else f"none near what {b.department} is about."))
    lines = [head]
    for n, issue in enumerate(b.issues, 1):
        lines.append("")
        if issue.extra:
            lines.append("And the company's top issue:")
        lines += issue_lines(n, issue, platform)
    return "\n".join(lines + (["", *b.surveys] if b.surveys else []))


def empty_text(b: Briefing) -> str:
    """One line for a week without issues; with the satisfaction and NPS lines when customers
    answered a survey (a silent week stays one line)."""
    whose = f" for {b.department}" if b.department else ""
    if b.raised:
        said = (f"📣 No briefing{whose} this week ({week_words(b)}): {_plural(b.raised, 'customer')} wrote, "
                "each about something of their own; no issue was raised by two or more.")
    else:
        said = (f"📣 Nothing customers raised{whose} this week ({week_words(b)}): no new ticket and no feedback "
                "logged. No briefing this time.")
    return "\n".join([said, *b.surveys]) if b.surveyed else said


def buttons(b: Briefing, post: bool = False) -> tuple[Button, ...]:
    out = []
    for n, issue in enumerate(b.issues, 1):
        if issue.issue_id is not None:
            out += [Button(f"{n} · Not ours → {name}", MOVE, f"{issue.issue_id}:{dept_id}")
                    for dept_id, name in issue.moves]
    if post and b.department_id is not None and b.issues:
        out.append(Button(f"Post to #{b.channel}", POST, f"{b.department_id}:{int(b.since.timestamp())}",
                          style="primary"))
    return tuple(out)


def card(b: Briefing, platform: str | None, post: bool = False) -> Card:
    return Card(title=title(b), body=body(b, platform), actions=buttons(b, post))


def terminal_text(b: Briefing) -> str:
    """For `pitchin brief`: the title and the issues, links included."""
    if not b.issues:
        return empty_text(b)
    return f"{title(b)}\n\n{body(b, b.platform)}"
