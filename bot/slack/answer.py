"""How Pitchin answers the person who acted on Slack: privately under their command or click, inside
the modal they are looking at, or with a file in their DM. Whatever fails, they are told somewhere."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import render
from handlers.base import Reply

log = logging.getLogger("pitchin.slack")


async def tell(respond, reply: Reply) -> None:
    """An ephemeral answer through the request's response_url (a command or a click on a message)."""
    await respond(
        text=render.reply_text(reply),
        blocks=render.reply_blocks(reply),
        response_type="ephemeral",
        replace_original=reply.replace_original,
    )


async def direct(client: AsyncWebClient, user_id: str, reply: Reply) -> None:
    """A message in the person's DM with Pitchin (posting to a user id lands there)."""
    await client.chat_postMessage(channel=user_id, text=render.reply_text(reply),
                                  blocks=render.reply_blocks(reply))


async def in_view(client: AsyncWebClient, view_id: str, reply: Reply, user_id: str) -> None:
    """Show the outcome in the open modal. When the person closed it already (Slack answers
    not_found) or Slack refuses, the same words go to their DM instead, so the outcome is never lost."""
    try:
        await client.views_update(view_id=view_id, view=render.reply_view(reply))
    except SlackApiError as exc:
        log.info("views.update %s failed (%s); telling %s in their DM", view_id, exc.response.get("error"), user_id)
        await direct(client, user_id, reply)


async def hand_over(client: AsyncWebClient, user_id: str, reply: Reply) -> Reply:
    """Upload ``reply.file`` into the person's DM with Pitchin and say where it went.

    A DM, not the channel the command was typed in: an export lists customers' emails, and a
    channel may be shared with another company (Slack Connect). files_upload_v2 is Slack's current
    upload flow (files.getUploadURLExternal, POST the bytes, files.completeUploadExternal);
    files.upload was retired in 2025."""
    name, content = reply.file
    try:
        dm = await client.conversations_open(users=user_id)
        await client.files_upload_v2(
            channel=dm["channel"]["id"], filename=name, title=name, content=content.encode("utf-8"),
            initial_comment=render.reply_text(reply),
        )
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "no answer"
        return Reply(f"Pitchin could not upload {name}: Slack said “{error}”. Nothing else changed; "
                     "try again, or ask an admin whether the app has the files:write scope.", ok=False)
    return Reply(f"{reply.text} {name} is in your DM with Pitchin.")


async def share_image(client: AsyncWebClient, user_id: str, reply: Reply) -> Reply:
    """Upload ``reply.image`` (the stats chart) into the person's DM with Pitchin, with the same
    flow as ``hand_over``, and return the words to show them with where it went. The figures are
    private to the asker, as the answer is; the chart goes where only they read it. When the upload
    fails the words still come, saying what happened to the chart."""
    name, png = reply.image
    first_line = reply.text.splitlines()[0] if reply.text else name
    try:
        dm = await client.conversations_open(users=user_id)
        await client.files_upload_v2(channel=dm["channel"]["id"], filename=name, title=name, content=png,
                                     alt_txt=first_line, initial_comment=first_line)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "no answer"
        return Reply(f"{reply.text}\n⚠️ The chart could not be uploaded: Slack said “{error}”. The figures above are "
                     "complete; ask an admin whether the app has the files:write scope, then try again.", ok=False)
    except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
        log.warning("stats chart upload for %s failed: %s", user_id, exc)
        return Reply(f"{reply.text}\n⚠️ The chart could not be uploaded ({type(exc).__name__}): Slack did not take "
                     "the file. The figures above are complete; try again in a moment.", ok=False)
    return Reply(f"{reply.text}\n📈 The week-by-week chart, {name}, is in your DM with Pitchin.")
