"""Customer text never becomes live markup on Slack, and an employee's Slack markup reaches the
customer as plain text. Signed requests through the real Bolt app, the fake Slack Web API, a real
SMTP server: the assertions are on what Slack (the fake) and the customer (the SMTP sink) received."""

from __future__ import annotations

import json
import re

from sqlmodel import select

from storage.models import TicketMessage
from tests.fakes.slack_api import event_body
from tests.slack import feedback_steps as fb
from tests.stack import raw_mail

# what a hostile customer (or a hostile mail server) writes: a channel ping, a disguised link, a mention
EVIL = "<!channel> <https://evil.example|Verify> <@UEVIL> <!here|here> & co"
# the same, as Slack must receive it to show it literally
SHOWN = "&lt;!channel&gt; &lt;https://evil.example|Verify&gt; &lt;@UEVIL&gt; &lt;!here|here&gt; &amp; co"
LIVE = ("<!channel>", "<!here", "<!everyone>", "<https://evil", "|Verify>", "<@UEVIL>")
# an & that does not start a whole entity: Slack would show "&am" or swallow the text after it
BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def sent(call) -> str:
    """Everything Slack was given in one call: the top-level text, the blocks, a view."""
    return json.dumps({k: call.args.get(k) for k in ("text", "blocks", "view")}, ensure_ascii=False)


def assert_inert(where: str, shown: str) -> None:
    for live in LIVE:
        assert live not in shown, f"{where}: {live!r} reached Slack as markup: {shown[:600]}"
    assert not BROKEN_ENTITY.search(shown), f"{where}: a cut or raw & in {shown[:600]}"


async def home(stack, user: str):
    body = event_body({"type": "app_home_opened", "user": user, "channel": "D" + user, "tab": "home"})
    status, _ = await stack.slack_post(body, "application/json")
    assert status == 200
    return (await stack.slack.wait_for("views.publish", where=lambda c: c.args["user_id"] == user))[-1]


async def test_a_hostile_subject_and_body_stay_text_on_every_ticket_message(stack):
    status, body = await stack.post_email(raw_mail(subject=EVIL, body=f"Hello {EVIL}", sender="Eve <eve@example.com>"))
    assert status == 202
    ticket = str(body["ticket_id"])

    # the new ticket: the notification text (top-level) and the blocks
    post = await stack.ticket_post()
    root_ts = post.response["ts"]
    assert SHOWN in post.args["text"] and f"#{ticket} · {SHOWN}" in fb.texts(post.args["blocks"])
    assert f"Hello {SHOWN}" in fb.texts(post.args["blocks"])
    assert_inert("new ticket", sent(post))

    # Ann claims: the card is redrawn, still inert, and her own mention still works
    await stack.click("ticket.claim", ticket, "UANN", root_ts)
    update = (await stack.slack.wait_for("chat.update", where=lambda c: c.args["ts"] == root_ts))[-1]
    assert "Claimed by <@UANN>" in fb.texts(update.args["blocks"]) and SHOWN in update.args["text"]
    assert_inert("chat.update after the claim", sent(update))

    # the customer writes again: the follow-up in the thread
    await stack.post_email(raw_mail(subject=f"Re: {EVIL}", body=f"Again {EVIL}", sender="Eve <eve@example.com>",
                                    message_id="<m2@mail.example.com>", in_reply_to="<m1@mail.example.com>"))
    (followup,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root_ts)
    assert f"Again {SHOWN}" in followup.args["text"]
    assert_inert("follow-up in the thread", sent(followup))

    # /pitchin list
    _, rid = await stack.command("UANN", "list")
    listing = await stack.response(rid)
    assert f"#{ticket} · {SHOWN}" in listing["text"] and f"#{ticket} · {SHOWN}" in fb.texts(listing["blocks"])
    assert_inert("/pitchin list", json.dumps(listing, ensure_ascii=False))

    # App Home lists the open ticket
    published = await home(stack, "UANN")
    assert SHOWN in sent(published)
    assert_inert("App Home", sent(published))

    # the customer's mail server refuses Ann's answer with words of its own: the failure in the thread
    stack.smtp.reject("eve@example.com", 550, f"5.1.1 {EVIL}")
    await stack.say_in_thread("UANN", "We refunded it.", root_ts)
    (failed,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root_ts
                                           and "not been delivered" in (c.args.get("text") or ""))
    assert "&lt;!channel&gt;" in failed.args["text"]
    assert_inert("delivery failure", sent(failed))
    assert stack.slack.violations == []


async def test_long_text_is_cut_between_entities_never_inside_one(stack):
    # 2,000 "&" fit the card's body (cut at 2,800 characters) but not a section once escaped (5 each)
    await stack.post_email(raw_mail(subject="&" * 700, body="&" * 2000))
    post = await stack.ticket_post()
    body_block = fb.texts(post.args["blocks"])
    assert "&amp;" * 500 in body_block and "…" in body_block
    assert_inert("a long card", sent(post))

    # 10,000 "&" are cut in the card and posted whole in the thread: 50,000 characters escaped,
    # more than a message holds, so the thread post is cut too
    await stack.post_email(raw_mail(subject="Long", body="&" * 10000, message_id="<m9@mail.example.com>"))
    root = await stack.ticket_post(1)
    (full,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts")
                                         == root.response["ts"])
    assert full.args["text"].endswith("&amp;…") and len(full.args["text"]) < 40000
    assert_inert("a long thread post", sent(full))


async def test_feedback_show_top_search_home_and_dm_keep_customer_markup_inert(stack):
    stack.slack.set_user("UANN", "Ann", "ann@acme.test")
    done = await fb.log_with_form(stack, "UANN", {"what": f"Export {EVIL}", "quote": f"I need {EVIL}",
                                                  "customers": "<@UEVIL> Eve, eve@example.com"})
    assert f"New card #1 · Export {SHOWN}" in fb.texts(done["blocks"])
    assert_inert("the form's outcome", json.dumps(done, ensure_ascii=False))

    for command in ("show 1", "top", "search Export"):
        told = await fb.answer(stack, "UANN", command)
        assert f"#1 · Export {SHOWN}" in told["text"] and f"#1 · Export {SHOWN}" in fb.texts(told["blocks"]), command
        assert_inert(f"/feedback {command}", json.dumps(told, ensure_ascii=False))
    shown = (await fb.answer(stack, "UANN", "show 1"))["text"]
    assert f"“I need {SHOWN}”" in shown and "&lt;@UEVIL&gt; Eve" in shown

    published = await home(stack, "UANN")
    assert f"#1 · Export {SHOWN}" in fb.texts(published.args["view"]["blocks"])
    assert_inert("App Home", sent(published))

    # shipping it tells Ann, who logged it, in her DM
    preview = await fb.answer(stack, "UANN", "status 1 shipped It is in Settings.")
    assert_inert("the status preview", json.dumps(preview, ensure_ascii=False))
    action_id, value = fb.button(preview["blocks"], "Confirm: shipped")
    await stack.click(action_id, value, "UANN", "1800000000.000002")
    (dm,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args["channel"] == "UANN")
    assert f"#1 · Export {SHOWN}, which you logged, is shipped" in dm.args["text"]
    assert_inert("the DM", sent(dm))


async def test_an_employees_slack_markup_reaches_the_customer_as_plain_text(stack):
    stack.slack.set_user("U2", "Bob Builder", "bob@acme.test")
    stack.slack.set_channel("C123", "billing")
    await stack.post_email(raw_mail())
    root_ts = (await stack.ticket_post()).response["ts"]
    # exactly what Slack sends for: a < b & c, see [our help page](…) or https://acme.test, ask @Bob in
    # #billing and #billing (Slack's newer empty label), @here, @support-team, mail help@acme.test
    typed = ("a &lt; b &amp; c, see <https://acme.test/help|our help page> or <https://acme.test>, "
             "ask <@U2> in <#C123|billing> and <#C123|>, <!here>, <!subteam^S1|@support-team>, "
             "mail <mailto:help@acme.test|help@acme.test> by <!date^1700000000^{date_short}|Nov 14>")
    await stack.say_in_thread("UANN", typed, root_ts)
    (mail,) = await stack.smtp.wait_for(1)
    assert ("a < b & c, see our help page (https://acme.test/help) or https://acme.test, ask Bob Builder in "
            "#billing and #billing, @here, @support-team, mail help@acme.test by Nov 14") in mail.text
    assert "&lt;" not in mail.text and "&amp;" not in mail.text and "<@U2>" not in mail.text

    # what is stored (and shown on the other platform, in digests …) is that plain text too
    with stack.pitchin.db.transaction() as session:
        (stored,) = session.exec(select(TicketMessage.text).where(TicketMessage.kind == "reply")).all()
    assert stored.startswith("a < b & c, see our help page (https://acme.test/help)")
