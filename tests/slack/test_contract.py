"""Every Slack Web API method Pitchin calls, with every argument it passes, is in Slack's own spec."""

from __future__ import annotations

import pytest

from tests.fakes.slack_contract import SKIP_REASON, SlackContract, contract_available
from tests.stack import LaterClock, raw_mail

pytestmark = pytest.mark.skipif(not contract_available(), reason=SKIP_REASON)


async def test_a_whole_ticket_loop_uses_only_documented_methods_and_arguments(stack):
    stack.smtp.stop()  # a failed delivery too, so the ⚠️ path is exercised
    _, body = await stack.post_email(raw_mail(body="x" * 5000))  # long: the full text goes to the thread
    ticket = str(body["ticket_id"])
    root_ts = (await stack.ticket_post()).response["ts"]
    await stack.click("ticket.claim", ticket, "UANN", root_ts)
    _, ann_ts = await stack.say_in_thread("UANN", "Looking into it", root_ts)
    await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "warning")
    stack.smtp.start()
    stack.pitchin.ctx.clock = LaterClock()
    await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "white_check_mark", timeout=15)
    await stack.slack.wait_for("reactions.remove")
    await stack.post_email(raw_mail(body="thanks", message_id="<m2@mail.example.com>", in_reply_to="<m1@mail.example.com>"))
    await stack.slack.wait_for("chat.postMessage", count=2, where=lambda c: c.args.get("thread_ts") == root_ts)
    _, rid = await stack.command("UANN", "list")
    await stack.response(rid)
    await stack.click("ticket.close", ticket, "UANN", root_ts)
    await stack.slack.wait_for("chat.update", count=2)

    used = {c.method for c in stack.slack.calls if c.method != "response_url"}
    assert {"auth.test", "chat.postMessage", "chat.update", "chat.postEphemeral", "reactions.add",
            "reactions.remove", "users.info"} <= used
    contract = SlackContract()
    problems = [f"{c.method}: {p}" for c in stack.slack.calls if c.method != "response_url"
                for p in contract.check(c.method, c.args)]
    assert problems == [] and stack.slack.violations == []



async def test_feedback_uses_only_documented_methods_and_arguments(stack):
    """The feedback paths: the modal (open, submit, offer, click), one-liners, the message shortcut,
    the ticket card's button, the Home tab, the export upload and the DM when a card ships."""
    from tests.fakes.slack_api import event_body, shortcut_message
    from tests.slack import feedback_steps as fb

    _, body = await stack.post_email(raw_mail(body="Can I export my invoices to CSV?"))
    ticket = str(body["ticket_id"])
    root_ts = (await stack.ticket_post()).response["ts"]
    await stack.click("feedback.from_ticket", ticket, "UANN", root_ts)
    form = (await stack.slack.wait_for("views.open"))[0].response["view"]
    await fb.submit(stack, "UANN", form, {"what": "Export invoices to CSV"})
    await fb.shown(stack, form["id"])
    form = await fb.shortcut(stack, "UBOB", shortcut_message("UBOB", "note: and as Excel", "1800000000.1",
                                                             thread_ts=root_ts))
    await fb.submit(stack, "UBOB", form, {"what": "Download invoices as a spreadsheet"})
    offer = await fb.shown(stack, form["id"])
    await fb.click_in_view(stack, "UBOB", offer, "Add to #1")
    await fb.shown(stack, form["id"], count=2)
    await fb.answer(stack, "UANN", "Dark mode")
    await fb.answer(stack, "UANN", "export")
    preview = await fb.answer(stack, "UANN", "status 1 shipped It is in Settings → Export.")
    await stack.click(*fb.button(preview["blocks"], "Confirm: shipped"), "UANN", "1800000000.2")
    await stack.slack.wait_for("chat.postMessage", count=2, where=lambda c: c.args["channel"] in ("UANN", "UBOB"))
    await stack.slack_post(event_body({"type": "app_home_opened", "user": "UANN", "tab": "home"}), "application/json")
    await stack.slack.wait_for("views.publish")

    used = {c.method for c in stack.slack.calls if c.method not in ("response_url", "file_upload")}
    assert {"views.open", "views.update", "views.publish", "conversations.open", "files.getUploadURLExternal",
            "files.completeUploadExternal", "chat.postMessage"} <= used
    contract = SlackContract()
    problems = [f"{c.method}: {p}" for c in stack.slack.calls if c.method not in ("response_url", "file_upload")
                for p in contract.check(c.method, c.args)]
    assert problems == [] and stack.slack.violations == []


async def test_the_fake_upload_flow_is_checked_like_slack(stack):
    """files_upload_v2 against the fake: the declared length must match the bytes, and an upload
    cannot be completed twice."""
    from slack_sdk.errors import SlackApiError

    client = stack.pitchin.slack_app.client
    done = await client.files_upload_v2(channel="DUANN", filename="a.csv", content="x,y\n1,2\n")
    (upload,) = stack.slack.files.values()
    assert done["file"]["id"] == upload.id and upload.text == "x,y\n1,2\n" and upload.channel_id == "DUANN"
    with pytest.raises(SlackApiError) as refused:
        await client.files_completeUploadExternal(files=[{"id": upload.id, "title": "again"}], channel_id="DUANN")
    assert refused.value.response["error"] == "file_not_found"
    asked = await client.files_getUploadURLExternal(filename="b.csv", length=3)
    async with stack.http.post(asked["upload_url"], data=b"12345") as resp:
        assert resp.status == 200
    assert stack.slack.violations == [f"file_upload {asked['file_id']}: 5 bytes sent, 3 declared"]
