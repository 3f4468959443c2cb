"""The words of a saved reply: variables Pitchin fills in, placeholders the sender must.

- ``{customer.first_name|there}``: a variable with a fallback; without one (``{ticket.number}``) a
  variable Pitchin cannot fill becomes a placeholder, so nothing goes out with a hole in it.
- ``[[the refund amount]]``: a placeholder. A reply that still holds one is refused before it goes
  to the customer (handlers.tickets.answer), with a message that names what is left to fill in.

The variables, in ``VARIABLES``: the customer's and the sender's names, the ticket's number and subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VARIABLES = {
    "customer.first_name": "the customer's first name",
    "customer.name": "the customer's full name",
    "customer.email": "the customer's address",
    "me.first_name": "your first name",
    "me.name": "your full name",
    "ticket.number": "the ticket's number",
    "ticket.subject": "the ticket's subject",
}
# {name} or {name|fallback}: a name of letters, digits, dots and underscores; the fallback any words
# without braces or a line break
VARIABLE = re.compile(r"\{\s*([A-Za-z_][\w.]*)\s*(?:\|([^{}\n]*))?\}")
PLACEHOLDER = re.compile(r"\[\[([^\[\]\n]{1,100})\]\]")


@dataclass(frozen=True)
class Filled:
    text: str
    placeholders: tuple[str, ...]  # what is left for the sender to fill in, in order, without brackets


def unknown_variables(text: str) -> list[str]:
    """The ``{names}`` in ``text`` that are not variables (a typo would otherwise reach a customer)."""
    return [m.group(1) for m in VARIABLE.finditer(text) if m.group(1) not in VARIABLES]


def placeholders(text: str) -> tuple[str, ...]:
    return tuple(m.group(1).strip() for m in PLACEHOLDER.finditer(text))


def first_name(name: str | None) -> str:
    words = (name or "").split()
    return words[0] if words and "@" not in words[0] else ""


def values_for(customer_name: str = "", customer_email: str = "", my_name: str = "", ticket_number: int | None = None,
               ticket_subject: str = "") -> dict[str, str]:
    """The variables' values for one ticket and one sender ('' where unknown)."""
    name = " ".join((customer_name or "").split())
    return {
        "customer.first_name": first_name(name),
        "customer.name": "" if "@" in name else name,
        "customer.email": customer_email or "",
        "me.first_name": first_name(my_name),
        "me.name": " ".join((my_name or "").split()),
        "ticket.number": str(ticket_number) if ticket_number is not None else "",
        "ticket.subject": " ".join((ticket_subject or "").split()),
    }


def fill(text: str, values: dict[str, str]) -> Filled:
    """``text`` with its variables filled from ``values``; a variable without a value takes its
    fallback, or becomes ``[[name]]`` for the sender to fill in. Unknown names are left as written."""

    def one(match: re.Match) -> str:
        name, fallback = match.group(1), match.group(2)
        if name not in VARIABLES:
            return match.group(0)
        value = values.get(name, "")
        if value:
            return value
        if fallback is not None and fallback.strip():
            return fallback.strip()
        return f"[[{VARIABLES[name]}]]"

    filled = VARIABLE.sub(one, text)
    return Filled(filled, placeholders(filled))


def unfilled_message(names: tuple[str, ...]) -> str:
    """What the sender is told when a reply still holds placeholders."""
    listed = ", ".join(f"[[{name}]]" for name in names)
    what = "this placeholder" if len(names) == 1 else "these placeholders"
    return (f"Not sent: fill in {what} first: {listed}. Write the reply again with your words in place of the "
            "brackets.")
