"""Socket Mode: with SLACK_APP_TOKEN set, Slack talks to Pitchin over a websocket Pitchin opens,
so no public URL is needed. A websocket server on 127.0.0.1 stands where Slack's would be."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from aiohttp import WSMsgType, web

from tests.fakes.slack_api import block_action_payload, event_envelope, message_event
from tests.stack import CHANNEL, raw_mail, start_stack, stop_stack


class FakeSocketModeServer:
    def __init__(self):
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: asyncio.Queue = asyncio.Queue()
        self.connected = asyncio.Event()

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/link", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        return f"ws://127.0.0.1:{port}/link"

    async def _handle(self, request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        self.connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await self.acks.put(json.loads(msg.data))
        return ws

    async def send(self, kind: str, payload: dict) -> str:
        envelope_id = str(uuid.uuid4())
        await self.sockets[-1].send_str(json.dumps({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                                    "accepts_response_payload": kind != "events_api"}))
        return envelope_id

    async def ack_for(self, envelope_id: str, timeout: float = 10) -> dict:
        async def wait():
            while True:
                ack = await self.acks.get()
                if ack.get("envelope_id") == envelope_id:
                    return ack

        return await asyncio.wait_for(wait(), timeout)

    async def stop(self):
        for ws in self.sockets:
            await ws.close()
        await self.runner.cleanup()


@pytest.fixture
async def socket_stack(sqlite_url):
    server = FakeSocketModeServer()
    url = await server.start()
    stack = await start_stack(sqlite_url, socket_mode_url=url, slack_app_token="xapp-1-test", slack_signing_secret="")
    await asyncio.wait_for(server.connected.wait(), 15)
    yield stack, server
    await stop_stack(stack)
    await server.stop()


async def test_claim_and_reply_over_socket_mode(socket_stack):
    stack, server = socket_stack
    assert stack.slack.calls_to("apps.connections.open")
    # no HTTP endpoint for Slack in Socket Mode: nothing to forge
    async with stack.http.post(f"{stack.base}/slack/events", data="{}") as resp:
        assert resp.status == 404

    _, body = await stack.post_email(raw_mail())
    root_ts = (await stack.ticket_post()).response["ts"]

    payload = block_action_payload("ticket.claim", str(body["ticket_id"]), "UANN", CHANNEL, root_ts,
                                   stack.slack.url_for_response("sm-claim"))
    envelope = await server.send("interactive", payload)
    assert (await server.ack_for(envelope))["envelope_id"] == envelope
    update = await stack.slack.wait_for("chat.update")
    assert "Claimed by <@UANN>" in json.dumps(update[-1].args["blocks"])

    event = message_event(CHANNEL, "UANN", "Answered over Socket Mode", "1800000000.000001", thread_ts=root_ts)
    envelope = await server.send("events_api", event_envelope(event))
    await server.ack_for(envelope)
    (mail,) = await stack.smtp.wait_for(1)
    assert "Answered over Socket Mode" in mail.text and mail["Subject"] == "Re: Double charge"
