"""Where a web form's ``reply_url`` may point: public internet addresses over https, or what
``PITCHIN_WEBHOOK_ALLOW`` lists.

Whoever calls ``/intake/messages`` chooses the reply URL, and Pitchin POSTs every answer there:
without this policy that caller could make Pitchin reach its own loopback, the office network or
the cloud metadata service (server-side request forgery). The same rules run at intake, on the URL
as written, and at delivery, on every address the host resolves to right before connecting.

``PITCHIN_WEBHOOK_ALLOW`` is a comma-separated list of host names (``hooks.internal``), IP
addresses (``10.0.0.5``, ``::1``) and CIDR networks (``10.0.0.0/8``, ``fd00::/8``). A listed host
name may resolve to any address; a listed address or network may be reached by any name that
resolves into it. Plain http is allowed only when the URL's host itself is listed (by name, or as
an IP address inside a listed network): a private service reached through a public name still
needs https.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Iterable, Union
from urllib.parse import SplitResult, urlsplit

__all__ = ["ADVICE", "AllowList", "Refused", "check_addresses", "check_url", "literal_address", "special_use"]

Address = Union[IPv4Address, IPv6Address]
Network = Union[IPv4Network, IPv6Network]

ADVICE = "Pitchin only posts to public https addresses. An admin can allow it with PITCHIN_WEBHOOK_ALLOW"

_RFC1918 = tuple(ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_CGNAT = ip_network("100.64.0.0/10")
_ULA = ip_network("fc00::/7")
_NAT64 = ip_network("64:ff9b::/96")
_HOST_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*")
# a last label of digits or hex (2130706433, 127.1, 0x7f.1) is an IPv4 address in a legacy form
# that the system resolver turns into an address without asking anyone
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


class Refused(ValueError):
    """Pitchin may not post to this reply URL. ``what`` completes a sentence about the URL."""

    def __init__(self, what: str, advice: bool = True):
        super().__init__(what)
        self.what = what
        self.advice = advice

    def explain(self, subject: str) -> str:
        """The whole refusal, e.g. explain("'reply_url'") (without a full stop: callers go on)."""
        return f"{subject} {self.what}" + (f"; {ADVICE}" if self.advice else "")


def _embedded_ipv4(addr: Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, 6to4, NAT64), where the
    connection really goes: ``::ffff:127.0.0.1`` is this machine's loopback."""
    if addr.version != 6:
        return None
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64:
        return IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def special_use(addr: Address) -> str | None:
    """Why ``addr`` is not a public internet address, in words (None for a public one).

    ``is_global`` is the test, not ``is_private``: Python 3.11's ``is_private`` leaves out
    100.64.0.0/10, and ``is_global`` is true for multicast and for IPv4-mapped, 6to4 and NAT64
    forms of private addresses, so those are unwrapped and checked first."""
    inner = _embedded_ipv4(addr)
    if inner is not None:
        why = special_use(inner)
        return f"{why} (IPv4 {inner} written as IPv6)" if why else None
    if addr.is_unspecified:
        return "an unspecified address (it reaches this machine)"
    if addr.is_loopback:
        return "a loopback address"
    if addr.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if addr.is_multicast:
        return "a multicast address"
    if any(addr in net for net in _RFC1918):
        return "a private address (RFC 1918)"
    if addr in _CGNAT:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if addr in _ULA:
        return "an IPv6 unique local address (fc00::/7)"
    if addr.version == 6 and addr.is_site_local:
        return "an IPv6 site-local address"
    if addr.is_reserved or not addr.is_global:
        return "a reserved or special-purpose address"
    return None


def _host_key(name: str) -> str:
    """A host name as compared: lower case, no trailing dot, international names in IDNA form."""
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def literal_address(host: str) -> Address | None:
    try:
        return ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class AllowList:
    """What ``PITCHIN_WEBHOOK_ALLOW`` lets a reply URL reach although it is not public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> "AllowList":
        """Read the comma-separated list; ValueError names the first entry that is none of
        a host name, an IP address or a CIDR network."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in (e.strip() for e in spec.split(",")):
            if not entry:
                continue
            literal = entry[1:-1] if entry.startswith("[") and entry.endswith("]") else entry
            try:
                networks.append(ip_network(literal))  # a lone address is a /32 or /128
                continue
            except ValueError as exc:
                if "/" in literal and literal_address(literal.split("/", 1)[0]) is not None:
                    raise ValueError(f"“{entry}”, which is not a CIDR network ({exc})") from None
            name = _host_key(literal)
            if not _HOST_NAME.fullmatch(name) or _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
                raise ValueError(f"“{entry}”, which is not a host name, an IP address or a CIDR network "
                                 "(write e.g. hooks.internal, 10.0.0.5 or 10.0.0.0/8: no scheme, port or path)")
            hosts.add(name)
        return cls(frozenset(hosts), tuple(networks))

    def allows_address(self, addr: Address) -> bool:
        inner = _embedded_ipv4(addr)
        return any(a in net for net in self.networks for a in (addr, inner) if a is not None)

    def allows_host(self, host: str) -> bool:
        """Whether the URL's host itself is listed: by name, or as an address in a listed network."""
        literal = literal_address(host)
        return self.allows_address(literal) if literal is not None else _host_key(host) in self.hosts


def check_url(url: str, allow: AllowList) -> SplitResult:
    """The parts of ``url`` when Pitchin may post to it as written; Refused says why not.
    A host name passes here and is checked again once resolved (``check_addresses``)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise Refused(f"“{url}” is not a valid URL", advice=False) from None
    if parts.scheme not in ("http", "https") or not host:
        raise Refused(f"“{url}” is not an http(s) address", advice=False)
    literal = literal_address(host)
    if literal is not None:
        why = None if allow.allows_address(literal) else special_use(literal)
        if why:
            raise Refused(f"points at {host}, {why}")
    elif _NUMERIC_LABEL.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]):
        raise Refused(f"points at {host}, an IP address in a legacy numeric form; write it as a.b.c.d", advice=False)
    if parts.scheme == "http" and not allow.allows_host(host):
        raise Refused(f"uses plain http (http://{host})")
    return parts


def check_addresses(host: str, addresses: Iterable[str], allow: AllowList) -> None:
    """Refused unless every address ``host`` resolved to may be reached: one forbidden answer
    refuses the host (a public site has no reason to resolve to a private address too)."""
    if allow.allows_host(host):
        return
    for text in addresses:
        addr = literal_address(text)
        if addr is None:
            raise Refused(f"points at {host}, which resolves to “{text}”, not an IP address", advice=False)
        why = None if allow.allows_address(addr) else special_use(addr)
        if why:
            raise Refused(f"points at {host}, which resolves to {addr}, {why}")
