"""Customers as employees type them: one list parser for every door, and one meaning of "the same
customer" for counting, deduplicating and telling them."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def split_customers(raw: str) -> tuple[str, ...]:
    """"carol@example.com, Dan Doe; "Smith, John" <john@example.com>" → one entry per customer.
    Commas, semicolons and new lines separate; a comma inside double quotes does not."""
    parts, current, quoted = [], [], False
    for ch in raw:
        if ch == '"':
            quoted = not quoted
        elif ch in ",;\n" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    out = []
    for part in parts:
        part = part.strip()
        if "@" not in part:
            part = part.strip('"').strip()
        if part:
            out.append(part)
    return tuple(out)


def customers_field(customers: tuple[str, ...]) -> str:
    """The inverse of split_customers, to prefill a field: a name with a comma in it is quoted."""
    out = []
    for c in customers:
        name, bracket, rest = c.partition("<")
        if any(sep in name for sep in ",;") and '"' not in name:
            c = f'"{name.strip()}" <{rest}' if bracket else f'"{c}"'
        out.append(c)
    return ", ".join(out)


def parse_customer(raw: str) -> tuple[str | None, str]:
    """One entry of the list → (email, lowercased; or None, name)."""
    raw = raw.strip()
    match = _EMAIL.search(raw)
    if match:
        name = raw.replace(match.group(0), "").strip(" <>,\"'") or match.group(0).split("@")[0]
        return match.group(0).lower(), name
    return None, raw


def customer_key(email: str | None, name: str | None) -> str | None:
    """The same customer is the same email address in any case, else (no email known) the same name
    in any case; None when neither is known. Notices already sent are stored under
    ``customer:<this key>``, so its form stays."""
    if email:
        return email.lower()
    name = (name or "").strip().lower()
    return f"name:{name}" if name else None
