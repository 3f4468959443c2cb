"""Tests of the fake Slack Web API, the request builders and the Slack contract checker."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack_api import (
    Call,
    FakeSlackApi,
    block_action_body,
    event_body,
    message_event,
    sign,
    slash_command_body,
)
from tests.fakes.slack_contract import (
    CONTRACT_PATH,
    EVENT_WRAPPER_SCHEMA_PATH,
    EXTRA_ARGS,
    EXTRA_METHODS,
    GLOBAL_ARGS,
    SKIP_REASON,
    SlackContract,
    contract_available,
)

needs_contract = pytest.mark.skipif(not contract_available(), reason=SKIP_REASON)

SECRET = "test-signing-secret"

# Every Web API method Pitchin calls.
PITCHIN_METHODS = [
    "auth.test",
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "chat.getPermalink",
    "reactions.add",
    "reactions.remove",
    "users.info",
    "conversations.info",
    "conversations.join",
    "views.open",
    "views.publish",
    "views.update",
    "apps.connections.open",
]


@pytest.fixture
async def fake():
    api = FakeSlackApi()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
def client(fake: FakeSlackApi) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=fake.url)


# --------------------------------------------------------------------------- contract


@needs_contract
def test_contract_flags_unknown_method():
    problems = SlackContract().check("chat.postMessageX", {"channel": "C1"})
    assert len(problems) == 1
    assert "chat.postMessageX" in problems[0] and "unknown" in problems[0]


@needs_contract
def test_contract_flags_undocumented_argument():
    problems = SlackContract().check("chat.postMessage", {"channel": "C1", "text": "hi", "colour": "red"})
    assert len(problems) == 1
    assert "'colour'" in problems[0] and "chat.postMessage" in problems[0]


@needs_contract
def test_contract_accepts_documented_arguments_and_ignores_token():
    contract = SlackContract()
    assert contract.check(
        "chat.postMessage",
        {"token": "xoxb", "channel": "C1", "text": "hi", "blocks": [], "thread_ts": "1.2", "unfurl_links": False},
    ) == []
    assert contract.check("reactions.add", {"channel": "C1", "name": "eyes", "timestamp": "1.2"}) == []
    assert contract.check("users.info", {"user": "U1"}) == []
    assert contract.check("views.publish", {"user_id": "U1", "view": {"type": "home"}}) == []


@needs_contract
def test_contract_knows_every_method_pitchin_calls():
    contract = SlackContract()
    assert [m for m in PITCHIN_METHODS if not contract.has_method(m)] == []


@needs_contract
def test_contract_allow_list_only_names_what_the_spec_really_lacks():
    spec = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    for method in EXTRA_METHODS:
        assert "/" + method not in spec["paths"], f"{method} is in the spec; drop it from EXTRA_METHODS"
    for method, args in EXTRA_ARGS.items():
        documented = {
            p["name"] for op in spec["paths"]["/" + method].values() for p in op.get("parameters", [])
        }
        assert not (set(args) & documented), f"{method}: {set(args) & documented} already documented"
    for arg in GLOBAL_ARGS:  # documented somewhere, but not on the methods Pitchin calls
        lacking = [
            m for m in PITCHIN_METHODS
            if "/" + m in spec["paths"]
            and arg not in {p["name"] for op in spec["paths"]["/" + m].values() for p in op.get("parameters", [])}
        ]
        assert lacking, f"every method documents {arg}; drop it from GLOBAL_ARGS"
    contract = SlackContract()
    assert contract.check("apps.connections.open", {}) == []
    assert contract.check("auth.test", {"team_id": "T1"}) == []  # GLOBAL_ARGS: Bolt adds team_id to every call
    assert contract.check("chat.postMessage", {"channel": "C1", "text": "x", "metadata": {"event_type": "t"}}) == []
    assert contract.check("chat.update", {"channel": "C1", "ts": "1.2", "metadata": {}}) == []


# --------------------------------------------------------------------------- fake Web API


async def test_post_message_with_blocks_is_recorded_parsed(fake: FakeSlackApi, client: AsyncWebClient):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*New ticket*"}}]
    first = await client.chat_postMessage(channel="C1", text="New ticket", blocks=blocks)
    second = await client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])

    assert first["ok"] and first["channel"] == "C1"
    assert first["message"]["blocks"] == blocks and first["message"]["bot_id"] == "BBOT"
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])

    calls = fake.calls_to("chat.postMessage")
    assert [c.args["text"] for c in calls] == ["New ticket", "reply"]
    assert calls[0].args["blocks"] == blocks
    assert calls[0].headers["authorization"] == "Bearer xoxb-test"
    assert calls[1].args["thread_ts"] == first["ts"]
    assert fake.violations == []


async def test_form_encoded_blocks_are_json_decoded(fake: FakeSlackApi, client: AsyncWebClient):
    blocks = [{"type": "divider"}]
    await client.api_call("chat.update", data={"channel": "C1", "ts": "1.2", "blocks": json.dumps(blocks)})
    (call,) = fake.calls_to("chat.update")
    assert call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert call.args == {"channel": "C1", "ts": "1.2", "blocks": blocks}


async def test_canned_answers(fake: FakeSlackApi, client: AsyncWebClient):
    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"], auth["team"], auth["user"]) == (
        "UBOT", "BBOT", "T1", "Acme", "pitchin",
    )

    fake.set_user("U2", "Ada Lovelace", "ada@example.org")
    ada = (await client.users_info(user="U2"))["user"]
    assert ada["profile"]["real_name"] == "Ada Lovelace"
    assert ada["profile"]["display_name"] == "Ada Lovelace"
    assert ada["profile"]["email"] == "ada@example.org"
    other = (await client.users_info(user="U9"))["user"]
    assert other["id"] == "U9" and "U9".lower() in other["profile"]["email"]

    posted = await client.chat_postMessage(channel="C1", text="v1")
    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="v2")
    assert updated["ok"] and updated["ts"] == posted["ts"] and updated["message"]["text"] == "v2"
    assert fake.messages[("C1", posted["ts"])]["text"] == "v2"

    link = await client.chat_getPermalink(channel="C1", message_ts="1700000000.000100")
    assert link["permalink"].endswith("/archives/C1/p1700000000000100")
    eph = await client.chat_postEphemeral(channel="C1", user="U2", text="only you")
    assert eph["message_ts"]
    assert (await client.reactions_add(channel="C1", name="eyes", timestamp="1.2"))["ok"]
    assert (await client.reactions_remove(channel="C1", name="eyes", timestamp="1.2"))["ok"]
    assert (await client.conversations_info(channel="C1"))["channel"]["id"] == "C1"
    assert (await client.conversations_join(channel="C1"))["ok"]
    opened = await client.views_open(trigger_id="t.1", view={"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []})
    assert opened["view"]["id"]
    assert (await client.views_update(view_id=opened["view"]["id"], view={"type": "modal", "blocks": []}))["ok"]
    assert (await client.views_publish(user_id="U2", view={"type": "home", "blocks": []}))["ok"]

    fake.set_socket_mode_url("ws://127.0.0.1:1/ws")
    app_client = AsyncWebClient(base_url=fake.url)
    conn = await app_client.apps_connections_open(app_token="xapp-test")
    assert conn["url"] == "ws://127.0.0.1:1/ws"
    assert fake.calls_to("apps.connections.open")[0].headers["authorization"] == "Bearer xapp-test"

    assert fake.violations == []
    assert {c.method for c in fake.calls} == set(PITCHIN_METHODS)


@needs_contract
async def test_contract_violations_are_recorded_and_fail_visibly(fake: FakeSlackApi, client: AsyncWebClient):
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("chat.postMessagee", json={"channel": "C1", "text": "x"})
    assert unknown.value.response["error"] == "unknown_method"

    with pytest.raises(SlackApiError) as bad_arg:
        await client.chat_postMessage(channel="C1", text="x", colour="red")
    assert bad_arg.value.response["error"] == "invalid_arguments"

    assert len(fake.violations) == 2
    assert "chat.postMessagee" in fake.violations[0]
    assert "'colour'" in fake.violations[1]


async def test_rate_limit_reaches_client_as_429_with_retry_after(fake: FakeSlackApi, client: AsyncWebClient):
    fake.rate_limit("chat.postMessage", times=1, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert err.value.response["error"] == "ratelimited"

    ok = await client.chat_postMessage(channel="C1", text="x")  # only `times` calls are limited
    assert ok["ok"]
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]


async def test_fail_and_down(fake: FakeSlackApi, client: AsyncWebClient):
    fake.fail("reactions.add", times=2, status=500)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            await client.reactions_add(channel="C1", name="eyes", timestamp="1.2")
        assert err.value.response.status_code == 500
    assert (await client.reactions_add(channel="C1", name="eyes", timestamp="1.2"))["ok"]

    fake.fail("chat.update", status=200, error="message_not_found")
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts="1.2", text="x")
    assert err.value.response["error"] == "message_not_found"

    fake.set_down(True)
    with pytest.raises(SlackApiError) as err:
        await client.auth_test()
    assert err.value.response.status_code == 503
    fake.set_down(False)
    assert (await client.auth_test())["ok"]


async def test_missing_token_is_not_authed(fake: FakeSlackApi):
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(base_url=fake.url).auth_test()
    assert err.value.response["error"] == "not_authed"


async def test_wait_for_polls_until_the_call_arrives(fake: FakeSlackApi, client: AsyncWebClient):
    async def later():
        await asyncio.sleep(0.2)
        await client.chat_postMessage(channel="C1", text="one")
        await client.chat_postMessage(channel="C2", text="two")

    task = asyncio.create_task(later())
    calls = await fake.wait_for("chat.postMessage", where=lambda c: c.args["channel"] == "C2", timeout=5)
    await task
    assert [c.args["text"] for c in calls] == ["two"]
    assert isinstance(calls[0], Call)


async def test_wait_for_times_out_with_the_calls_seen(fake: FakeSlackApi, client: AsyncWebClient):
    await client.auth_test()
    started = time.monotonic()
    with pytest.raises(AssertionError) as err:
        await fake.wait_for("chat.postMessage", count=1, timeout=0.3)
    assert time.monotonic() - started < 2
    assert "chat.postMessage" in str(err.value) and "auth.test" in str(err.value)


async def test_response_url_posts_are_recorded(fake: FakeSlackApi):
    url = fake.url_for_response("resp-1")
    assert url == f"http://127.0.0.1:{fake.port}/response/resp-1"
    res = await AsyncWebhookClient(url).send(text="Claimed", replace_original=False)
    assert res.status_code == 200
    (call,) = await fake.wait_for("response_url")
    assert call.path == "/response/resp-1"
    assert call.args["text"] == "Claimed" and call.args["replace_original"] is False


# --------------------------------------------------------------------------- builders


def _validate(instance, schema, where="$"):
    """Tiny JSON-Schema subset validator (type/required/properties/items/minItems/uniqueItems);
    jsonschema is not a dependency of this project."""
    types = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}
    errors = []
    expected = schema.get("type")
    if expected and not isinstance(instance, types[expected]) or (expected == "integer" and isinstance(instance, bool)):
        return [f"{where}: expected {expected}, got {type(instance).__name__}"]
    if isinstance(instance, dict):
        errors += [f"{where}: missing required {k!r}" for k in schema.get("required", []) if k not in instance]
        for key, sub in schema.get("properties", {}).items():
            if key in instance:
                errors += _validate(instance[key], sub, f"{where}.{key}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if schema.get("uniqueItems") and len({json.dumps(i, sort_keys=True) for i in instance}) != len(instance):
            errors.append(f"{where}: items not unique")
        for i, item in enumerate(instance):
            errors += _validate(item, schema.get("items", {}), f"{where}[{i}]")
    return errors


@pytest.mark.skipif(not EVENT_WRAPPER_SCHEMA_PATH.is_file(), reason=SKIP_REASON)
def test_event_envelope_validates_against_slack_schema():
    schema = json.loads(EVENT_WRAPPER_SCHEMA_PATH.read_text(encoding="utf-8"))
    body = event_body(message_event("C1", "U2", "my printer is on fire", "1700000001.000200"), event_id="Ev123")
    envelope = json.loads(body)
    assert _validate(envelope, schema) == []
    assert envelope["type"] == "event_callback" and envelope["event_id"] == "Ev123"
    assert envelope["event"]["event_ts"] == "1700000001.000200"
    # the validator really validates
    assert _validate({**envelope, "event": {"type": "message"}}, schema) == ["$.event: missing required 'event_ts'"]
    assert json.loads(event_body({"type": "app_home_opened", "user": "U2"}))["event_id"] != json.loads(
        event_body({"type": "app_home_opened", "user": "U2"})
    )["event_id"]


def test_message_event_shape():
    ev = message_event("G1", "U2", "hi", "1.000100", thread_ts="1.000001", subtype=None, parent_user_id="U3")
    assert ev["type"] == "message" and ev["channel_type"] == "group"
    assert ev["thread_ts"] == "1.000001" and ev["parent_user_id"] == "U3"
    assert "subtype" not in ev
    bot = message_event("C1", None, "beep", "1.2", subtype="bot_message", bot_id="B2")
    assert "user" not in bot and bot["bot_id"] == "B2" and "thread_ts" not in bot


def test_signed_request_is_accepted_by_signature_verifier():
    body = event_body(message_event("C1", "U2", "hi", "1.2"))
    headers = sign(SECRET, body)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + " ", headers)
    old = sign(SECRET, body, timestamp=int(time.time()) - 3600)
    assert not verifier.is_valid_request(body, old)  # Slack's 5-minute replay window


def test_block_action_and_slash_command_bodies_look_like_slack():
    body = block_action_body("claim", "ticket-7", "U2", "C1", "1700000000.000100", "http://x/response/1")
    (raw,) = parse_qs(body)["payload"]
    payload = json.loads(raw)
    assert payload["type"] == "block_actions"
    assert set(payload["user"]) >= {"id", "username", "name", "team_id"}
    assert payload["team"]["id"] == "T1" and payload["channel"]["id"] == "C1"
    assert payload["container"] == {
        "type": "message", "message_ts": "1700000000.000100", "channel_id": "C1", "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == "1700000000.000100"
    (action,) = payload["actions"]
    assert action["action_id"] == "claim" and action["value"] == "ticket-7" and action["type"] == "button"
    assert action["block_id"] and action["action_ts"]
    assert payload["api_app_id"] and payload["token"] and payload["trigger_id"]
    assert payload["response_url"] == "http://x/response/1"

    form = {k: v[0] for k, v in parse_qs(slash_command_body("/pitchin", "list", "U2", "C1", "http://x/r")).items()}
    assert form["command"] == "/pitchin" and form["text"] == "list"
    assert form["user_id"] == "U2" and form["channel_id"] == "C1" and form["team_id"] == "T1"
    assert form["response_url"] == "http://x/r" and form["trigger_id"]
    assert "command=%2Fpitchin" in slash_command_body("/pitchin", "", "U2", "C1", "http://x/r")


async def test_bolt_app_accepts_built_requests_end_to_end(fake: FakeSlackApi):
    """The builders' bodies, signed with sign(), drive a real Bolt app whose Web API is the fake."""
    app = AsyncApp(signing_secret=SECRET, client=AsyncWebClient(token="xoxb-test", base_url=fake.url))

    @app.event("message")
    async def on_message(event, say):
        await say(text=f"got: {event['text']}", thread_ts=event["ts"])

    @app.action("claim")
    async def on_claim(ack, body, respond, client):
        await ack()
        await client.reactions_add(channel=body["channel"]["id"], name="eyes", timestamp=body["message"]["ts"])
        await respond(text="claimed", replace_original=False)

    @app.command("/pitchin")
    async def on_command(ack, command):
        await ack(text=f"help for {command['user_id']}")

    async def dispatch(body: str, content_type: str):
        return await app.async_dispatch(AsyncBoltRequest(body=body, headers=sign(SECRET, body, content_type=content_type)))

    res = await dispatch(event_body(message_event("C1", "U2", "help me", "1700000001.000100")), "application/json")
    assert res.status == 200
    (said,) = await fake.wait_for("chat.postMessage")
    # Bolt's per-request client adds team_id to every call (see GLOBAL_ARGS in slack_contract)
    assert said.args == {"channel": "C1", "text": "got: help me", "thread_ts": "1700000001.000100", "team_id": "T1"}

    body = block_action_body("claim", "t-1", "U2", "C1", "1700000000.000100", fake.url_for_response("a1"))
    res = await dispatch(body, "application/x-www-form-urlencoded")
    assert res.status == 200
    (reacted,) = await fake.wait_for("reactions.add")
    assert reacted.args == {"channel": "C1", "name": "eyes", "timestamp": "1700000000.000100", "team_id": "T1"}
    (responded,) = await fake.wait_for("response_url")
    assert responded.path == "/response/a1" and responded.args["text"] == "claimed"

    res = await dispatch(
        slash_command_body("/pitchin", "help", "U2", "C1", fake.url_for_response("c1")),
        "application/x-www-form-urlencoded",
    )
    assert res.status == 200 and res.body == "help for U2"  # ack(text=...) answers plain text

    bad = event_body(message_event("C1", "U2", "forged", "1700000002.000100"))
    res = await app.async_dispatch(AsyncBoltRequest(body=bad, headers=sign("wrong-secret", bad)))
    assert res.status == 401
    assert len(fake.calls_to("chat.postMessage")) == 1  # the forged event reached no handler
    assert fake.violations == []
