"""Where a reply URL may point: the address policy, and the webhook channel applying it to the
addresses it really connects to. Names are resolved by a stub (tests/fakes/network.py), so no
test asks a DNS server or connects anywhere but 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import ip_address

import pytest

from bot.inbox.addresses import AllowList, Refused, check_addresses, check_url, special_use
from bot.inbox.lookup import PoolResolver
from bot.inbox.webhook import Unsigned, WebhookChannel
from handlers.base import DeliveryError
from tests.fakes.network import Listener, StubResolver
from tests.inbox.test_webhook import SECRET, make_reply

# a public address a stub may answer where nothing connects (the intake's screen, the pure policy);
# where a reply goes out, stubs answer only loopback addresses, so even a broken check stays on this machine
PUBLIC = "93.184.215.14"


# ---------------------------------------------------------------- the policy


@pytest.mark.parametrize("address, words", [
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.0.0.1", "a private address (RFC 1918)"),
    ("172.16.5.4", "a private address (RFC 1918)"),
    ("192.168.1.1", "a private address (RFC 1918)"),
    ("100.64.0.1", "a carrier-grade NAT address"),  # not is_private in Python 3.11
    ("169.254.169.254", "a link-local address (where cloud metadata services answer)"),
    ("fe80::1", "a link-local address"),
    ("224.0.0.1", "a multicast address"),  # is_global is True for it in Python 3.11
    ("ff02::1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("fd00::1", "an IPv6 unique local address (fc00::/7)"),
    ("::ffff:127.0.0.1", "a loopback address (IPv4 127.0.0.1 written as IPv6)"),
    ("::ffff:10.1.2.3", "a private address (RFC 1918) (IPv4 10.1.2.3 written as IPv6)"),
    ("2002:a9fe:a9fe::1", "a link-local address"),  # 6to4 of 169.254.169.254: is_global in 3.11
    ("64:ff9b::7f00:1", "a loopback address"),  # NAT64 of 127.0.0.1
    ("fec0::1", "an IPv6 site-local address"),
    ("240.0.0.1", "a reserved or special-purpose address"),
    ("192.0.2.10", "a reserved or special-purpose address"),
    ("2001:db8::1", "a reserved or special-purpose address"),
])
def test_addresses_that_are_not_public_are_named(address, words):
    assert words in (special_use(ip_address(address)) or "")


@pytest.mark.parametrize("address", ["8.8.8.8", PUBLIC, "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"])
def test_public_addresses_pass(address):
    assert special_use(ip_address(address)) is None


def test_the_allow_list_reads_hosts_addresses_and_networks():
    allow = AllowList.parse(" hooks.Internal. , 10.0.0.0/8,127.0.0.1, [::1], fd00::/8 ,")
    assert allow.hosts == {"hooks.internal"}
    assert allow.allows_host("HOOKS.internal") and allow.allows_host("10.9.8.7") and allow.allows_host("::1")
    assert allow.allows_address(ip_address("::ffff:127.0.0.1"))  # the same machine, written as IPv6
    assert not allow.allows_host("127.0.0.2") and not allow.allows_host("other.internal")


@pytest.mark.parametrize("entry, words", [
    ("10.0.0.1/8", "“10.0.0.1/8”, which is not a CIDR network (10.0.0.1/8 has host bits set)"),
    ("10.0.0.0/33", "“10.0.0.0/33”, which is not a CIDR network"),
    ("https://hooks.internal", "“https://hooks.internal”, which is not a host name, an IP address or a CIDR network"),
    ("hooks.internal:8443", "no scheme, port or path"),
    ("hooks internal", "which is not a host name"),
    ("127.1", "which is not a host name"),
])
def test_an_unreadable_allow_entry_is_named(entry, words):
    with pytest.raises(ValueError) as err:
        AllowList.parse(f"hooks.example.com,{entry}")
    assert words in str(err.value)


@pytest.mark.parametrize("url, words", [
    ("https://127.0.0.1/x", "points at 127.0.0.1, a loopback address"),
    ("https://[::ffff:7f00:1]/x", "points at ::ffff:7f00:1, a loopback address"),
    ("https://[fe80::1%25eth0]/x", "a link-local address"),
    ("https://2130706433/x", "an IP address in a legacy numeric form"),
    ("https://127.1/x", "an IP address in a legacy numeric form"),
    ("https://0x7f.1/x", "an IP address in a legacy numeric form"),
    ("http://hooks.example.com/x", "uses plain http"),
    ("http://8.8.8.8/x", "uses plain http"),
    ("ftp://hooks.example.com/x", "is not an http(s) address"),
    ("https://[::1/x", "is not a valid URL"),
    ("https://hooks.example.com:99999/x", "is not a valid URL"),
])
def test_urls_pitchin_does_not_post_to(url, words):
    with pytest.raises(Refused) as err:
        check_url(url, AllowList())
    assert words in err.value.explain("'reply_url'")


def test_what_the_allow_list_lets_through():
    assert check_url("https://hooks.example.com/x", AllowList()).hostname == "hooks.example.com"
    assert check_url("https://8.8.8.8/x", AllowList()).hostname == "8.8.8.8"
    allow = AllowList.parse("127.0.0.1,hooks.internal,10.0.0.0/8")
    check_url("http://127.0.0.1:8080/x", allow)  # a listed address: even plain http
    check_url("http://hooks.internal/x", allow)  # a listed name: even plain http
    check_addresses("hooks.internal", ["192.168.7.7"], allow)  # a listed name may resolve anywhere
    check_addresses("app.example.com", ["10.1.2.3"], allow)  # a listed network is reachable by any name...
    with pytest.raises(Refused, match="uses plain http"):
        check_url("http://app.example.com/x", allow)  # ...but only a listed host may use plain http


def test_one_forbidden_answer_refuses_the_name():
    with pytest.raises(Refused) as err:
        check_addresses("hooks.example.com", [PUBLIC, "127.0.0.1"], AllowList())
    assert err.value.explain("the reply URL") == (
        "the reply URL points at hooks.example.com, which resolves to 127.0.0.1, a loopback address; "
        "Pitchin only posts to public https addresses. An admin can allow it with PITCHIN_WEBHOOK_ALLOW")


# ---------------------------------------------------------------- delivery: the address connected to


@pytest.fixture
async def listener():
    port = await Listener().start()
    yield port
    await port.stop()


async def _channel(resolver: StubResolver, allow: str = "", **kw) -> WebhookChannel:
    return WebhookChannel(SECRET, AllowList.parse(allow), timeout=5, resolver=resolver, **kw)


async def test_a_name_resolving_to_loopback_is_refused_before_connecting(listener):
    dns = StubResolver({"hooks.sneaky.test": ["127.0.0.1"]})
    channel = await _channel(dns)
    try:
        with pytest.raises(DeliveryError) as err:
            await channel.send(make_reply(f"https://hooks.sneaky.test:{listener.port}/x"))
    finally:
        await channel.close()
    assert "points at hooks.sneaky.test, which resolves to 127.0.0.1, a loopback address" in str(err.value)
    assert err.value.permanent is True
    assert dns.asked == ["hooks.sneaky.test"] and listener.connections == 0


async def test_dns_rebinding_is_caught_at_delivery(listener):
    """The name answers a public address when the form hands it in, and this machine when the
    reply goes out: the check that counts is the one on the address connected to."""
    dns = StubResolver({"hooks.rebind.test": [PUBLIC]})
    channel = await _channel(dns)
    url = f"https://hooks.rebind.test:{listener.port}/x"
    try:
        await channel.screen(url)  # accepted at intake
        dns.table["hooks.rebind.test"] = ["127.0.0.1"]
        with pytest.raises(DeliveryError, match="resolves to 127.0.0.1, a loopback address"):
            await channel.send(make_reply(url))
        dns.table["hooks.rebind.test"] = ["::ffff:127.0.0.1"]
        with pytest.raises(DeliveryError, match=r"resolves to ::ffff:7f00:1, a loopback address \(IPv4 127.0.0.1"):
            await channel.send(make_reply(url))
    finally:
        await channel.close()
    assert listener.connections == 0


async def test_the_connection_goes_to_the_checked_address_with_the_names_tls():
    """With 127.0.0.1 allowed, a made-up name the stub maps there is connected to: aiohttp used
    the checked answer (no second lookup), and TLS still asks for and checks the URL's name."""
    tls = await Listener(tls_name="hooks.form.test").start()
    dns = StubResolver({"hooks.form.test": ["127.0.0.1"]})
    channel = await _channel(dns, allow="127.0.0.1")
    try:
        with pytest.raises(DeliveryError) as err:
            await channel.send(make_reply(f"https://hooks.form.test:{tls.port}/x"))
    finally:
        await channel.close()
        await tls.stop()
    assert dns.asked == ["hooks.form.test"]
    assert tls.server_names == ["hooks.form.test"]  # SNI is the URL's host, not the address
    assert "certificate verify failed" in str(err.value)  # a self-signed certificate is not trusted


async def test_a_literal_address_is_never_looked_up_and_never_connected(listener):
    dns = StubResolver()
    channel = await _channel(dns)
    try:
        for url in (f"https://127.0.0.1:{listener.port}/x", f"https://[::ffff:127.0.0.1]:{listener.port}/x"):
            with pytest.raises(DeliveryError, match="a loopback address") as err:
                await channel.send(make_reply(url))
            assert err.value.permanent is True
    finally:
        await channel.close()
    assert dns.asked == [] and listener.connections == 0


# ---------------------------------------------------------------- intake: the screen


async def test_screen_refuses_names_that_resolve_inward_and_lets_unknown_names_through():
    dns = StubResolver({"hooks.sneaky.test": ["::1"], "hooks.example.com": [PUBLIC]})
    channel = await _channel(dns)
    with pytest.raises(Refused, match="resolves to ::1, a loopback address"):
        await channel.screen("https://hooks.sneaky.test/x")
    await channel.screen("https://hooks.example.com/x")
    await channel.screen("https://not-yet.example.com/x")  # does not resolve (yet): delivery checks again
    assert dns.asked == ["hooks.sneaky.test", "hooks.example.com", "not-yet.example.com"]


async def test_screen_does_not_wait_for_a_slow_dns_server():
    channel = await _channel(StubResolver(hang=True), lookup_timeout=0.2)
    await asyncio.wait_for(channel.screen("https://slow.example.com/x"), 5)  # let through after 0.2 s


async def test_screen_skips_the_lookup_for_allowed_hosts_and_refuses_without_a_secret():
    dns = StubResolver()
    channel = await _channel(dns, allow="hooks.internal")
    await channel.screen("http://hooks.internal/x")
    assert dns.asked == []
    unsigned = WebhookChannel("", AllowList(), resolver=dns)
    with pytest.raises(Unsigned, match="no PITCHIN_WEBHOOK_SECRET"):
        await unsigned.screen("https://hooks.example.com/x")


async def test_the_default_resolver_answers_from_its_own_threads():
    """PoolResolver, the resolver used outside tests; a numeric host needs no DNS server."""
    resolver = PoolResolver()
    try:
        found = await resolver.resolve("127.0.0.1", 8080, socket.AF_UNSPEC)
        assert [(r["host"], r["port"], r["family"]) for r in found] == [("127.0.0.1", 8080, socket.AF_INET)]
        assert resolver._pool is not None  # not asyncio's default pool, which database work uses
    finally:
        await resolver.close()
