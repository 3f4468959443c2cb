"""Who sent a mail, read strictly: the one address Pitchin answers, and a name safe to show.

The standard library's address parser is lenient: for ``From: victim@third.example
<attacker@evil.example>`` it returns ``victim@third.example`` (the text before the brackets) and
notes a defect, so the answer went to a third party the sender named. Here:

- the address in angle brackets is the one answered, whatever text stands before it;
- a From header naming several addresses (a list, two angle addresses, two bare addresses,
  several From headers) is refused: there is no telling whom to answer;
- a display name that contains an address other than the one answered is not shown (it reads as
  the sender to a person skimming the card); the name becomes the address's local part.
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address

from bot.one_line import one_line

__all__ = ["AmbiguousSender", "MalformedEmail", "read_sender"]

_ADDRESS_LIKE = re.compile(r"[^\s@<>,;:\"()\[\]]+@[^\s@<>,;:\"()\[\]]+")


class MalformedEmail(ValueError):
    """The bytes given are not a mail Pitchin can turn into a ticket; the message says why."""


class AmbiguousSender(MalformedEmail):
    """The From header does not name one sender beyond doubt, so nobody can be answered."""


def read_sender(values: list[str], parsed_addresses) -> tuple[str, str]:
    """(address, name) from the raw From header values and the standard library's reading of
    them; ("", "") when there is no usable address; AmbiguousSender when there are several."""
    if not values:
        return "", ""
    if len(values) > 1:
        raise _ambiguous(f"the email has {len(values)} From headers ({'; '.join(one_line(v, 120) for v in values)})")
    value = " ".join(values[0].split())
    angles, outside = _angle_addrs(value)
    addresses = [a for a in parsed_addresses if a.username and a.domain]
    bare = _ADDRESS_LIKE.findall(outside)
    listed = "," in outside and len(angles) + len(bare) > 1  # "a@x, <b@y>"; not "Smith, John <j@x>"
    if len(angles) > 1 or len(addresses) > 1 or (not angles and len(bare) > 1) or listed:
        raise _ambiguous(f"{one_line(value, 120)!r} names more than one address")
    if angles:
        addr = _addr_spec(angles[0])
        same = [a for a in addresses if a.addr_spec.lower() == addr]
        # when the parser read something else as the address, the text before <…> is no safe name
        name = same[0].display_name if same else ""
    elif addresses:
        addr, name = _addr_spec(addresses[0].addr_spec), addresses[0].display_name
    else:
        return "", ""
    if not addr:
        return "", ""
    name = " ".join((name or "").split()).strip('"').strip()
    if any(found.lower() != addr for found in _ADDRESS_LIKE.findall(name)):
        name = ""  # "victim@third.example" <attacker@evil.example>: shown as "attacker"
    if not name or name.lower() == addr:
        name = addr.split("@", 1)[0]
    return addr, name


def _ambiguous(why: str) -> AmbiguousSender:
    return AmbiguousSender(
        f"The From header is ambiguous: {why}. Pitchin answers exactly one sender, so it cannot tell "
        "whom to answer; the sender's mail program must name one address (Name <address>)."
    )


def _addr_spec(text: str) -> str:
    try:
        a = Address(addr_spec=text.strip())
    except (ValueError, IndexError, TypeError, HeaderParseError):  # the standard library's strict check
        return ""
    if not a.username or not a.domain or any(c.isspace() for c in a.addr_spec):
        return ""
    return a.addr_spec.lower()


def _angle_addrs(value: str) -> tuple[list[str], str]:
    """The <…> parts of an address header, and the text outside them, quoted strings and
    (comments) left out of both: ``Ann "x <y>" <a@b> (c <d>)`` gives (["a@b"], "Ann  ")."""
    angles: list[str] = []
    outside: list[str] = []
    quoted, depth, start, i = False, 0, None, 0
    while i < len(value):
        c = value[i]
        if c == "\\" and (quoted or depth):
            i += 2
            continue
        if quoted:
            quoted = c != '"'
        elif depth:
            depth += {"(": 1, ")": -1}.get(c, 0)
        elif start is not None:
            if c == ">":
                angles.append(value[start:i])
                start = None
        elif c == '"':
            quoted = True
        elif c == "(":
            depth = 1
        elif c == "<":
            start = i + 1
        else:
            outside.append(c)
        i += 1
    return angles, "".join(outside)


