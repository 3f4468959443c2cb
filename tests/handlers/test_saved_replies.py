"""Saved replies in the core, on SQLite and PostgreSQL: add, list and search by content, show, edit,
rename, remove and Undo; the team's and one's own; the messages that say what is wrong."""

from __future__ import annotations

import pytest

from handlers import registry, saved_replies
from handlers.base import Actor
from handlers.context import Context
from handlers.saved_replies import Form
from storage import repos
from storage.models import SavedReply

ANN = Actor("test", "U-ANN", "Ann")
BOB = Actor("test", "U-BOB", "Bob")
REFUND = "Hi {customer.first_name|there}, we have refunded your order. It shows in 3–5 days. {me.first_name}"


@pytest.fixture
def ctx(any_database, clock):
    return Context(db=any_database, platforms=("test",), clock=clock)


def saved(ctx, actor, text):
    return registry.run_command(ctx, actor, "saved " + text, "/pitchin ")


def test_add_list_show_and_search_by_content(ctx):
    assert saved(ctx, ANN, f"add Refund {REFUND}").text == "Saved “Refund” as a team reply. It is offered in ticket threads from now on."
    assert saved(ctx, BOB, 'add "Late delivery" Sorry, your parcel is late: the carrier says [[new date]].').ok
    assert saved(ctx, BOB, "add Shipping --mine We ship every weekday.\nTracking comes by mail.").ok

    listed = saved(ctx, BOB, "").text.splitlines()
    assert listed[:4] == [
        "Saved replies (3):",
        "• Late delivery · team · Sorry, your parcel is late: the carrier says [[new date]].",
        "• Refund · team · Hi {customer.first_name|there}, we have refunded your order. It shows in 3–5 da…",
        "• Shipping · yours · We ship every weekday.",  # the first line
    ]
    assert "  /pitchin saved add <name> [--mine] [text]" in listed  # alone: the usage too
    assert [ln.split(" · ")[0] for ln in saved(ctx, ANN, "list").text.splitlines()[1:3]] == ["• Late delivery",
                                                                                              "• Refund"]
    # every word, in the name or the text, whatever the case; named so first
    assert saved(ctx, BOB, "list PARCEL carrier").text.splitlines()[:2] == [
        "Saved replies with “PARCEL carrier” (1):",
        "• Late delivery · team · Sorry, your parcel is late: the carrier says [[new date]]."]
    found = saved(ctx, BOB, "list refund").text.splitlines()
    assert found[1].startswith("• Refund ·") and len(found) == 3
    assert saved(ctx, BOB, "list ship").text.splitlines()[1].startswith("• Shipping · yours")
    missing = saved(ctx, BOB, "list invoice")
    assert not missing.ok and missing.text == ("No saved reply has “invoice” in its name or text. "
                                               "`/pitchin saved list` shows all 3.")

    shown = saved(ctx, ANN, "show late delivery").text
    assert shown.startswith("“Late delivery”, team reply, last changed by Bob on ")
    assert "the carrier says [[new date]]." in shown


def test_private_replies_are_their_owners_and_win_over_the_teams(ctx):
    saved(ctx, ANN, f"add Refund {REFUND}")
    mine = saved(ctx, BOB, "add Refund --mine Refunded! Bob")
    assert mine.text == "Saved “Refund” as your own reply. It is offered in ticket threads from now on."
    with ctx.db.transaction() as session:
        ann, bob = repos.person_for(session, ANN), repos.person_for(session, BOB)
        assert [(r.name, r.text) for r in saved_replies.available(session, bob.id)] == [("Refund", "Refunded! Bob")]
        assert [r.text for r in saved_replies.available(session, ann.id)] == [REFUND]
        assert saved_replies.get(session, bob.id, "REFUND").text == "Refunded! Bob"
        assert saved_replies.get(session, bob.id, "refund", saved_replies.TEAM).text == REFUND
        assert saved_replies.get(session, ann.id, "refund").scope == "team"
    assert "Refunded! Bob" not in saved(ctx, ANN, "list refunded").text
    assert "A team reply has this name too" in saved(ctx, BOB, "show Refund").text
    assert saved(ctx, BOB, "show Refund --team").text.startswith("“Refund”, team reply")

    # Ann cannot reach Bob's own reply, by name or by a form's id
    with ctx.db.transaction() as session:
        bobs = session.exec(__import__("sqlmodel").select(SavedReply).where(SavedReply.owner_id == bob.id)).one()
    reply, _ = saved_replies.submit(ctx, ANN, Form(name="Refund", text="Hacked", reply_id=bobs.id))
    assert not reply.ok and "not yours" in reply.text
    assert saved(ctx, ANN, "edit Refund Changed by Ann, {me.first_name}").ok  # the team's, hers to change too
    assert saved(ctx, BOB, "show Refund").text.splitlines()[1] == "Refunded! Bob"
    team = saved(ctx, BOB, "show Refund --team").text
    assert team.startswith("“Refund”, team reply, last changed by Ann") and "Changed by Ann" in team


def test_validation_says_what_is_wrong(ctx):
    saved(ctx, ANN, f"add Refund {REFUND}")
    dup = saved(ctx, BOB, "add refund Another one")
    assert not dup.ok and dup.text == ("There is already a team reply called “Refund”: "
                                       "`/pitchin saved edit Refund` changes it.")
    assert saved(ctx, BOB, "add Refund --mine Mine is fine").ok  # another scope
    again = saved(ctx, BOB, "add Refund --mine Twice")
    assert again.text == "You already have a reply of your own called “Refund”: `/pitchin saved edit Refund` changes it."

    unknown = saved(ctx, ANN, "add Hello Hi {customer.firstname}, {ticket.numbr}: {customer.firstname}")
    assert not unknown.ok
    assert unknown.text.startswith("Pitchin does not know {customer.firstname}, {ticket.numbr}. The variables are "
                                   "{customer.first_name}, {customer.name}, {customer.email}, {me.first_name}, "
                                   "{me.name}, {ticket.number}, {ticket.subject}")
    long_name = saved(ctx, ANN, '"' + "x" * 61 + '" text')
    assert not long_name.ok
    assert saved(ctx, ANN, 'add "' + "x" * 61 + '" text').text == (
        "A name is at most 60 characters; this one has 61. Make it shorter.")
    assert "at most 4000 characters; this one has 4001" in saved(ctx, ANN, "add Long " + "y" * 4001).text
    empty = saved(ctx, ANN, "add Empty")
    assert not empty.ok and "Write the reply after its name" in empty.text and "Usage: /pitchin saved add" in empty.text
    assert saved(ctx, ANN, "add").text.startswith("Give the reply's name.")
    reply, problems = saved_replies.submit(ctx, ANN, Form(name=" ", text=" "))
    assert set(problems) == {"name", "text"} and not reply.ok
    assert saved(ctx, ANN, "edit Nothing new").text.startswith("There is no saved reply called “Nothing”")
    assert saved(ctx, ANN, "frobnicate").text.startswith("`saved` does not know “frobnicate”.")
    helped = saved(ctx, ANN, "help").text
    assert "{customer.first_name}  the customer's first name" in helped and "[[words in double brackets]]" in helped
    assert "saved add|list|edit|remove" in registry.help_text()


def test_edit_rename_remove_and_undo(ctx, clock):
    saved(ctx, ANN, f"add Refund {REFUND}")
    assert saved(ctx, BOB, "edit Refund Refunded, {customer.first_name|there}.").text == "Changed “Refund”, team."
    assert saved(ctx, BOB, "rename Refund to Refund done").text == "Changed “Refund done” (renamed from “Refund”), team."
    saved(ctx, ANN, '"Late delivery" x')
    saved(ctx, ANN, 'add "Late delivery" Late, sorry.')
    clash = saved(ctx, ANN, 'rename "Late delivery" to refund DONE')
    assert not clash.ok and "already a team reply called “Refund done”" in clash.text
    # a name of several words without quotes, when it is one reply's
    edit_form = saved(ctx, ANN, "edit Late delivery")
    assert not edit_form.ok and "It says now:\nLate, sorry." in edit_form.text

    removed = saved(ctx, ANN, "remove refund done")
    assert removed.text == "Removed the team reply “Refund done”."
    assert [(b.label, b.action_id) for b in removed.actions] == [("Undo", "saved.restore")]
    assert "Refund done" not in saved(ctx, BOB, "list").text
    back = registry.run_action(ctx, BOB, "saved.restore", removed.actions[0].value)
    assert back.text == "“Refund done” is back, as it was." and back.replace_original
    assert saved(ctx, BOB, "show Refund done").text.splitlines()[1] == "Refunded, {customer.first_name|there}."
    assert registry.run_action(ctx, BOB, "saved.restore", removed.actions[0].value).text == "“Refund done” is back already."

    # removed, and a new reply takes the name: the old one cannot come back
    removed = saved(ctx, ANN, 'remove "Refund done"')
    assert saved(ctx, ANN, 'add "Refund done" New words').ok
    gone = registry.run_action(ctx, ANN, "saved.restore", removed.actions[0].value)
    assert not gone.ok and "a new reply took its name" in gone.text
    assert saved(ctx, ANN, "show Refund done").text.splitlines()[1] == "New words"

    # one's own: only its owner brings it back
    mine = saved(ctx, BOB, "add Tip --mine Restart the app.")
    assert mine.ok
    removed = saved(ctx, BOB, "remove Tip")
    assert removed.text == "Removed the reply of your own “Tip”."
    refused = registry.run_action(ctx, ANN, "saved.restore", removed.actions[0].value)
    assert not refused.ok and "Only its owner" in refused.text
    assert saved(ctx, BOB, "restore " + removed.actions[0].value).ok
    with ctx.db.transaction() as session:
        rows = session.exec(__import__("sqlmodel").select(SavedReply).order_by(SavedReply.id)).all()
        bob = repos.person_for(session, BOB)
    tip = next(r for r in rows if r.name == "Tip")
    assert tip.scope == f"person:{bob.id}" and tip.updated_by_id == bob.id and tip.removed_at is None


def test_a_long_list_is_cut_with_how_to_narrow_it(ctx):
    for n in range(saved_replies.LISTED + 3):
        assert saved(ctx, ANN, f"add Answer{n:02d} Text number {n}").ok
    lines = saved(ctx, BOB, "list text").text.splitlines()
    assert lines[0] == f"Saved replies with “text” ({saved_replies.LISTED + 3}):"
    assert lines[1].startswith("• Answer00 · team · Text number 0") and len(lines) == saved_replies.LISTED + 3
    assert lines[-2] == "… and 3 more: `/pitchin saved list <words>` finds the one you want."
    assert saved(ctx, BOB, "list number 42").text.splitlines()[1] == "• Answer42 · team · Text number 42"
