"""Feedback through botbuilder's own TestAdapter: typed commands that are wrong get the usage line
(written for Teams) and change nothing; the dialogs' invokes get proper invoke responses; and the
small pieces (button data, the message's HTML) on their own."""

from __future__ import annotations

import pytest
from botbuilder.schema import ActivityTypes
from sqlmodel import select

from bot.teams import render
from bot.teams.inbound import button_click, html_text
from handlers import feedback
from handlers.base import Actor, Button, Reply
from handlers.feedback import Draft
from storage.models import FeedbackDraft, SuggestionCard, SuggestionRequest
from tests.fakes.teams_connector import TENANT, card_actions, card_text
from tests.teams.stack import ANN, BOB
from tests.teams.test_activity_handler import ROOT, Harness, open_ticket, text_of


@pytest.fixture
def teams(ctx):
    ctx.platforms = ("teams",)
    return Harness(ctx)


def person(user) -> Actor:
    """The person as Pitchin knows them from their Teams activities."""
    return Actor("teams", user[0], user[1], tenant=TENANT)


def state(ctx) -> tuple:
    """Everything a feedback command can change."""
    with ctx.db.transaction() as session:
        return (sorted((c.id, c.title, c.status, c.merged_into_id) for c in session.exec(select(SuggestionCard))),
                len(session.exec(select(SuggestionRequest)).all()), len(session.exec(select(FeedbackDraft)).all()))


@pytest.mark.parametrize("typed, why, usage", [
    ("feedback log", "Say what the customer wants.", "@Pitchin feedback <what the customer wants>"),
    ("feedback log    ", "Say what the customer wants.", "@Pitchin feedback <what the customer wants>"),
    ("feedback show 9", "There is no card #9.", "@Pitchin feedback show <card>"),
    ("feedback show", "Give one card number.", "@Pitchin feedback show <card>"),
    ("feedback status 9 planned", "There is no card #9.", "@Pitchin feedback status <card> new|planned"),
    ("feedback merge 1 into 9", "There is no card #9.", "@Pitchin feedback merge <card> into <card>"),
    ("feedback merge 1 into 1", "A card cannot be merged into itself (#1).", "@Pitchin feedback merge <card> into"),
    ("feedback merge one into 2", "“one” is not a card number.", "@Pitchin feedback merge <card> into <card>"),
    ("feedback merge 1 2", "Say which card goes into which.", "@Pitchin feedback merge <card> into <card>"),
    ("feedback status 1 someday", "“someday” is not a status.",
     "@Pitchin feedback status <card> new|planned|in_progress|shipped|declined"),
    ("feedback status 1", "Give a card number and a status.", "@Pitchin feedback status <card>"),
])
async def test_bad_feedback_commands_get_the_usage_line_and_change_nothing(teams, typed, why, usage):
    feedback.log(teams.ctx, person(ANN), Draft("Dark mode", customers=("carol@example.com",)))
    feedback.log(teams.ctx, person(ANN), Draft("Fax support", customers=("old@example.com",)))
    before = state(teams.ctx)
    (answer,) = await teams.send(teams.acts.message(BOB, typed, mention=True))
    shown = text_of(answer)
    assert why in shown and f"Usage: {usage}" in shown and "/feedback" not in shown
    assert shown.startswith(f"<at>{BOB[1]}</at>\n")  # said to Bob, who is notified, above the words
    assert state(teams.ctx) == before


async def test_a_broken_or_foreign_feedback_button_changes_nothing(teams):
    feedback.log(teams.ctx, person(ANN), Draft("Dark mode"))
    offer = feedback.log(teams.ctx, person(BOB), Draft("A dark theme, please"))
    add = next(b for b in offer.actions if b.action_id == "feedback.add")
    before = state(teams.ctx)
    (broken,) = await teams.send(teams.acts.submit(BOB, {"action": "feedback.add", "feedback_id": "x:y"}, "offer-1"))
    assert "That button is broken" in text_of(broken)
    (foreign,) = await teams.send(teams.acts.submit(ANN, render.button_data(add), "offer-1"))
    assert "Only the person logging this feedback" in text_of(foreign)
    (gone,) = await teams.send(teams.acts.submit(BOB, {"action": "feedback.add", "feedback_id": "999:1"}, "offer-1"))
    assert "That feedback form has expired" in text_of(gone)
    assert state(teams.ctx) == before


async def test_an_unknown_card_in_the_offer_is_refused(teams):
    feedback.log(teams.ctx, person(ANN), Draft("Dark mode"))
    offer = feedback.log(teams.ctx, person(BOB), Draft("A dark theme, please"))
    draft_id = next(b for b in offer.actions if b.action_id == "feedback.new").value
    before = state(teams.ctx)
    (refused,) = await teams.send(teams.acts.submit(BOB, {"action": "feedback.add", "feedback_id": f"{draft_id}:9"},
                                                    "offer-1"))
    assert "There is no card #9." in text_of(refused)
    assert state(teams.ctx)[:2] == before[:2]  # no card, no request


async def test_dialog_invokes_get_invoke_responses(teams):
    ticket = open_ticket(teams.ctx)
    data = {"msteams": {"type": "task/fetch"}, "action": "feedback.from_ticket", "ticket_id": ticket}
    (response,) = await teams.send(teams.acts.task_fetch(ANN, data, ROOT))
    assert response.type == ActivityTypes.invoke_response and response.value.status == 200
    task = response.value.body["task"]
    assert task["type"] == "continue" and task["value"]["title"] == "Log customer feedback"
    form = task["value"]["card"]["content"]
    assert form["type"] == "AdaptiveCard" and form["version"] == "1.4"
    customers = next(e for e in form["body"] if e.get("id") == "customers")
    assert customers["value"] == "Carol <carol@example.com>"

    (answer,) = await teams.send(teams.acts.task_submit(ANN, {"form": "feedback", "ticket_id": ticket},
                                                        {"text": "", "customers": customers["value"]}, ROOT))
    shown = answer.value.body["task"]["value"]["card"]["content"]
    assert card_text(shown).startswith("Say what the customer wants.\n") and state(teams.ctx)[1] == 0
    (closed,) = await teams.send(teams.acts.task_submit(ANN, {"form": "close"}, card_id=ROOT))
    assert closed.value.status == 200 and closed.value.body is None
    # an invoke Pitchin has no handler for is botbuilder's: 501, not a crash
    (other,) = await teams.send(teams.acts.invoke(ANN, "composeExtension/query", {"commandId": "search"}))
    assert other.value.status == 501


async def test_a_ticket_id_that_is_no_ticket_logs_without_one(teams):
    (answer,) = await teams.send(teams.acts.task_submit(ANN, {"form": "feedback", "ticket_id": 404},
                                                        {"text": "Dark mode", "customers": "zoe@example.com"}, ROOT))
    assert "New card #1 · Dark mode" in card_text(answer.value.body["task"]["value"]["card"]["content"])
    with teams.ctx.db.transaction() as session:
        (request,) = session.exec(select(SuggestionRequest)).all()
    assert request.ticket_id is None and request.customer_email == "zoe@example.com"


async def test_a_click_on_a_form_button_from_a_client_without_dialogs_is_answered(teams):
    ticket = open_ticket(teams.ctx)
    (told,) = await teams.send(teams.acts.submit(ANN, {"action": "feedback.from_ticket", "ticket_id": ticket}, ROOT))
    assert "opens a form" in text_of(told) and "@Pitchin feedback" in text_of(told)


def test_button_data_keeps_text_values_exact_and_ticket_ids_numbers():
    assert render.button_data(Button("Claim", "ticket.claim", "7")) == {"action": "ticket.claim", "ticket_id": 7}
    assert render.button_data(Button("Add", "feedback.add", "3:1")) == {"action": "feedback.add", "feedback_id": "3:1"}
    new = render.button_data(Button("Create new", "feedback.new", "007"))
    assert new == {"action": "feedback.new", "feedback_id": "007"} and button_click(new) == ("feedback.new", "007")
    assert render.button_data(Button("Log feedback", "feedback.from_ticket", "12")) == \
        {"msteams": {"type": "task/fetch"}, "action": "feedback.from_ticket", "ticket_id": 12}
    card = render.reply_card(Reply("x", actions=(Button("Log feedback", "feedback.from_ticket", "12"),)))
    assert card_actions(card)[0]["msteams"] == {"type": "task/fetch"}


@pytest.mark.parametrize("html, text", [
    ("<p>Can we export to <b>CSV</b>?</p>", "Can we export to CSV?"),
    ("<div>one<br>two</div><div>three &amp; four</div>", "one\ntwo\nthree & four"),
    ("<p>Ask <at id=\"0\">Bob Builder</at> about it</p>", "Ask Bob Builder about it"),
    ("plain &lt;text&gt;", "plain <text>"),
    ('<p>see <a href="https://x.test/a">the page</a></p><ul><li>one</li><li>two</li></ul>',
     "see the page (https://x.test/a)\n- one\n- two"),
])
def test_html_text(html, text):
    assert html_text(html) == text
