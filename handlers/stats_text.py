"""A stats Report in words: the `stats` answer, the weekly briefing's two lines, and durations a
person reads at a glance ("1 h 20 min", "2 d 3 h"). Neutral text: each platform escapes it."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.stats import DraftCounts, Nps, Ratings, Report, Spread

MINUS = "−"  # a real minus sign: "−40" reads as a score, "-40" as a dash


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def duration_words(d: timedelta) -> str:
    """Minutes under an hour, hours and minutes under a day, days and hours beyond (rounded)."""
    minutes = max(int((d.total_seconds() + 30) // 60), 0)
    if minutes < 1:
        return "under 1 min"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h" + (f" {rest} min" if rest else "")
    days, hours = divmod((minutes + 30) // 60, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def signed(score: int) -> str:
    return f"+{score}" if score > 0 else f"{MINUS}{-score}" if score < 0 else "0"


def satisfaction_words(r: Ratings) -> str:
    """"82% Great (14 Great, 2 Okay, 1 Not good)", or "no ratings yet"."""
    if not r.total:
        return "no ratings yet"
    return f"{r.great_percent}% Great ({r.great} Great, {r.okay} Okay, {r.not_good} Not good)"


def nps_words(n: Nps) -> str:
    """"+40 (6 promoters, 3 passives, 1 detractor)", or "no NPS answers yet"."""
    if not n.answers:
        return "no NPS answers yet"
    return (f"{signed(n.score)} ({_plural(n.promoters, 'promoter')}, {_plural(n.passives, 'passive')}, "
            f"{_plural(n.detractors, 'detractor')})")


def briefing_lines(ratings: Ratings, nps: Nps) -> tuple[str, str]:
    """The two lines a weekly briefing ends with."""
    return f"Satisfaction last week: {satisfaction_words(ratings)}", f"NPS last week: {nps_words(nps)}"


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b}"


def window_words(report: Report) -> str:
    """"last 30 days (31 Oct – 30 Nov 2026)", UTC days."""
    last = report.end - timedelta(microseconds=1)
    return f"last {report.days} days ({_day(report.start)} – {_day(last)} {last.year})"


def title(report: Report) -> str:
    return f"Support stats, {window_words(report)}"


def _spread(s: Spread) -> str:
    return f"median {duration_words(s.median)}, p90 {duration_words(s.p90)}"


def first_response_words(report: Report) -> str:
    s = report.first_response
    notes = []
    if report.waiting:
        notes.append(f"{report.waiting} still waiting")
    if report.closed_unanswered:
        notes.append(f"{report.closed_unanswered} closed without a reply")
    if not report.tickets_in:
        return "no tickets came in"
    if not s.count:
        return "no ticket answered yet" + (f" ({', '.join(notes)})" if notes else "")
    return f"{_spread(s)} ({'; '.join([_plural(s.count, 'ticket') + ' answered'] + notes)})"


def to_close_words(report: Report) -> str:
    s = report.to_close
    return f"{_spread(s)} ({_plural(s.count, 'ticket')})" if s.count else "no ticket closed"


def helpers_words(report: Report) -> str:
    if not report.helpers:
        return "nobody answered a customer yet"
    top = ", ".join(f"{name} ({n})" for name, n in report.top_helpers)
    lead = f"{_plural(report.helpers, 'person', 'people')} answered customers"
    return f"{lead}. Most replies: {top}"


def referrals_words(report: Report) -> str:
    if not report.referrals:
        return "no answers yet"
    return ", ".join(f"{words} ({n})" for words, n in report.referrals)


def report_text(report: Report) -> str:
    """The `stats` answer: one line per figure."""
    return "\n".join([
        f"📊 {title(report)}",
        f"Satisfaction: {satisfaction_words(report.ratings)}",
        f"NPS: {nps_words(report.nps)}",
        f"First response: {first_response_words(report)}",
        f"Time to close: {to_close_words(report)}",
        f"Tickets: {report.tickets_in} in, {report.tickets_closed} closed",
        f"Whole company: {helpers_words(report)}",
        f"How customers heard of us: {referrals_words(report)}",
    ] + ([f"AI drafts: {drafts_words(report.drafts)}"] if report.drafts.total else []))


def drafts_words(d: DraftCounts) -> str:
    words = f"{d.sent} sent as drafted, {d.edited} edited, {d.discarded} discarded"
    return words + (f", {d.stale} out of date (the customer wrote again)" if d.stale else "")
