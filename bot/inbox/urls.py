"""What SMTP_URL and IMAP_URL share: the ?starttls= option."""

from __future__ import annotations

from typing import Callable
from urllib.parse import parse_qs


def starttls_option(query_string: str, bad: Callable[[str], Exception]) -> bool:
    """``?starttls=true|false`` (the only option these URLs take); ``bad(reason)`` builds the error."""
    query = {k.lower(): v for k, v in parse_qs(query_string, keep_blank_values=True).items()}
    unknown = set(query) - {"starttls"}
    if unknown:
        raise bad(f"unknown option {sorted(unknown)[0]!r} (only starttls=true|false is understood)")
    if "starttls" not in query:
        return False
    flag = query["starttls"][-1].strip().lower()
    if flag in ("true", "1", "yes", "on", ""):
        return True
    if flag in ("false", "0", "no", "off"):
        return False
    raise bad(f"starttls must be true or false, not {flag!r}")
