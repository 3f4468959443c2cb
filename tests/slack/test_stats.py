"""`/pitchin stats 30d` through the real Bolt app: the figures come back privately under the command,
the chart is uploaded into the asker's DM with Slack's upload flow (conversations.open,
files.getUploadURLExternal, the bytes, files.completeUploadExternal), and a refused upload is said."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.handlers.stats_helpers import person, survey, ticket
from tests.png_facts import colours, size

UPLOAD_FLOW = ("conversations.open", "files.getUploadURLExternal", "file_upload", "files.completeUploadExternal",
               "response_url")


def seed(db) -> None:
    now = datetime.now(timezone.utc)
    with db.transaction() as s:
        ann = person(s, "Ann")
        for days, rating, nps in ((20, "great", 10), (12, "okay", 8), (5, "great", 9), (2, "not_good", 4)):
            t = ticket(s, now - timedelta(days=days), now - timedelta(days=days - 1),
                       [(ann, now - timedelta(days=days) + timedelta(minutes=45))])
            survey(s, t, rating, now - timedelta(days=days - 1), nps, now - timedelta(days=days - 1))


async def test_stats_answers_privately_and_uploads_the_chart_to_the_dm(any_stack):
    stack = any_stack
    seed(stack.pitchin.db)
    status, response_id = await stack.command("UANN", "stats 30d")
    assert status == 200
    told = await stack.response(response_id, timeout=30)
    assert told["response_type"] == "ephemeral"
    assert told["text"].startswith("📊 Support stats, last 30 days (")
    assert "Satisfaction: 50% Great (2 Great, 1 Okay, 1 Not good)" in told["text"]
    assert "NPS: +25 (2 promoters, 1 passive, 1 detractor)" in told["text"]
    assert "First response: median 45 min, p90 45 min (4 tickets answered)" in told["text"]
    assert told["text"].endswith("is in your DM with Pitchin.")

    order = [c.method for c in stack.slack.calls if c.method in UPLOAD_FLOW]
    assert order == list(UPLOAD_FLOW)
    (opened,) = stack.slack.calls_to("conversations.open")
    assert opened.args["users"] == "UANN"
    (asked,) = stack.slack.calls_to("files.getUploadURLExternal")
    assert asked.args["filename"].startswith("pitchin-stats-") and asked.args["filename"].endswith(".png")
    (complete,) = stack.slack.calls_to("files.completeUploadExternal")
    assert complete.ok and complete.args["channel_id"] == "DUANN"
    sent = stack.slack.files[asked.response["file_id"]]
    assert sent.completed and sent.channel_id == "DUANN"
    assert int(asked.args["length"]) == len(sent.content)
    assert size(sent.content) == (1000, 500) and colours(sent.content) > 200
    assert stack.slack.violations == []


async def test_a_refused_upload_is_said_and_the_figures_still_come(stack):
    stack.slack.fail("files.getUploadURLExternal", status=200, error="missing_scope")
    _, response_id = await stack.command("UANN", "stats 7d")
    told = await stack.response(response_id, timeout=30)
    assert told["text"].startswith("📊 Support stats, last 7 days (")
    assert "Satisfaction: no ratings yet" in told["text"]
    assert "The chart could not be uploaded: Slack said “missing_scope”" in told["text"]
    assert stack.slack.calls_to("files.completeUploadExternal") == []


async def test_a_wrong_window_gets_the_usage_line_and_no_upload(stack):
    _, response_id = await stack.command("UANN", "stats fortnight")
    told = await stack.response(response_id)
    assert "“fortnight” is not a window Pitchin knows: say 7d, 30d or 90d." in told["text"]
    assert "Usage: /pitchin stats [7d|30d|90d]" in told["text"]
    assert stack.slack.calls_to("files.getUploadURLExternal") == []
