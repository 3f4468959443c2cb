"""A survey answer in the ticket's thread, where the colleague who answered will see it.

Bad news ("Not good", or an NPS of 0–6) mentions whoever answered and carries a Reopen button, so
following up is one click; a comment with any rating is posted too. Each goes once per change of the
answer, never once per page view, through the outbox in the answer's own transaction. The
customer's words are neutral text in the card: every platform shows them exactly as written.

A rating from the mail's link is held a few seconds before it is posted (survey_answers'
SCANNER_SECONDS): a mail scanner opening every link is seen by then, and its notice withdrawn. A
newer answer replaces a notice still waiting, since each card shows all the answers so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from handlers import surveys
from handlers.base import Button, Card, PersonRef, Rich
from handlers.card_json import card_to_json
from handlers.context import Context
from handlers.outbound import CHAT_NOTICE, chat_key, to_chat, wake_after_commit
from storage import repos
from storage.models import OutboxJob, Survey, Ticket

DETRACTOR_MAX = 6  # NPS 0–6: a detractor (7–8 passive, 9–10 promoter)
REOPEN = "ticket.reopen"


@dataclass(frozen=True)
class Answers:
    """A survey's answers at one moment: what changed is what is news."""

    rating: str | None
    comment: str | None
    nps: int | None

    @classmethod
    def of(cls, survey: Survey) -> "Answers":
        return cls(survey.rating, survey.comment, survey.nps)

    @property
    def unhappy(self) -> bool:
        return self.rating == "not_good" or self.detractor

    @property
    def detractor(self) -> bool:
        return self.nps is not None and self.nps <= DETRACTOR_MAX


def news(before: Answers, after: Answers) -> bool:
    """Whether the change from ``before`` to ``after`` is worth a post in the thread."""
    became_not_good = after.rating == "not_good" and before.rating != "not_good"
    became_detractor = after.detractor and not before.detractor
    new_comment = bool(after.comment) and after.comment != before.comment
    return became_not_good or became_detractor or new_comment


def queue_if_news(ctx: Context, session, survey: Survey, ticket: Ticket, before: Answers,
                  hold: timedelta | None = None) -> bool:
    """Queue the thread notice (on every platform) when the answer changed in a way worth telling;
    ``hold``: not before that long from now (a rating from the mail's link may be a mail scanner's,
    ``withdraw`` takes it back)."""
    after = Answers.of(survey)
    if not news(before, after):
        return False
    answerer_id = survey.answered_by_id or ticket.claimed_by_id
    answerer = repos.person_refs(session, [answerer_id]).get(answerer_id)
    card = notice_card(ticket, survey, after, answerer)
    withdraw(ctx, session, survey)  # one still waiting (held) is out of date: this card shows every answer
    to_chat(ctx, session, CHAT_NOTICE, ticket.id, run_after=ctx.now() + hold if hold else None,
            text=notice_text(ticket, after), card=card_to_json(card), survey_id=survey.id)
    wake_after_commit(ctx, session)
    return True


def withdraw(ctx: Context, session, survey: Survey) -> int:
    """Cancel this survey's notices still waiting to be posted (held ones: ``queue_if_news``); how many."""
    keys = [chat_key(platform, survey.ticket_id) for platform in ctx.platforms]
    waiting = session.execute(select(OutboxJob).where(
        OutboxJob.kind == CHAT_NOTICE, OutboxJob.state == "pending", OutboxJob.ordering_key.in_(keys))).scalars()
    return sum(repos.cancel_job(session, job.id, ctx.now()) for job in waiting
               if job.payload.get("survey_id") == survey.id)


def _rating_words(rating: str) -> str:
    return f"{surveys.RATING_EMOJI[rating]} {surveys.RATING_WORDS[rating]}"


def notice_text(ticket: Ticket, answers: Answers) -> str:
    """The notice in one line: the notification where the platform shows one."""
    said = []
    if answers.rating:
        said.append(surveys.RATING_WORDS[answers.rating])
    if answers.nps is not None:
        said.append(f"would recommend us {answers.nps}/10")
    if answers.comment:
        said.append("with a comment")
    head = "🙁" if answers.unhappy else "💬"
    return f"{head} Survey answer for #{ticket.id}: {', '.join(said)}."


def notice_card(ticket: Ticket, survey: Survey, answers: Answers, answerer: PersonRef | None) -> Card:
    customer = f"{survey.customer_name} <{survey.customer_email}>" if survey.customer_name else survey.customer_email
    fields: list[tuple[str, Rich]] = [("Customer", (customer,))]
    if answers.rating:
        fields.append(("Rating", (_rating_words(answers.rating),)))
    if answers.nps is not None:
        fields.append(("Would recommend us", (f"{answers.nps} of 10",)))
    # the status line is Pitchin's own words around the mention (Teams reads it as markdown): no customer text
    if answers.unhappy:
        said = "the customer is not happy with this answer. Reopen the ticket to follow up with them."
        actions = (Button("Reopen", REOPEN, str(ticket.id), style="primary"),)
    else:
        said = "the customer left a comment on this answer."
        actions = ()
    status = ("For ", answerer, ": " + said) if answerer is not None else (said[0].upper() + said[1:],)
    return Card(
        title=f"{'🙁' if answers.unhappy else '💬'} Survey answer · #{ticket.id} · {ticket.subject}",
        body=answers.comment or "",
        fields=tuple(fields),
        status=status,
        actions=actions,
        accent="neutral",
    )
