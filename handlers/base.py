"""Neutral types shared by every platform: who acts, where, what is shown, what goes out.

Nothing here knows Slack, Teams, SMTP or HTTP. Adapters under ``bot/`` turn platform payloads
into these types and render the ``Card``s and ``Reply``s that handlers return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Union

# shared with storage, so they live below both layers; re-exported here for the code above
from storage.types import Actor, PersonRef, ThreadRef, utcnow  # noqa: F401


# ---------------------------------------------------------------- people and places


@dataclass(frozen=True)
class MessageRef:
    """One chat message (a Slack ts, a Teams activity id)."""

    platform: str
    tenant: str
    channel: str
    message_id: str
    thread_id: str | None = None


@dataclass(frozen=True)
class Named:
    """Who and where a typed command names, as its door resolved them. In the command's text each
    is a token indexing these tuples: ``<person:0>``, ``<channel:0>``, ``<group:0>``, so the core
    reads one form whatever the platform sent (Slack's ``<@U123|ann>``, a Teams ``<at>`` mention)."""

    people: tuple[Actor, ...] = ()
    channels: tuple[str, ...] = ()  # channel ids on the actor's platform
    groups: tuple[str, ...] = ()  # user group ids (Slack's subteams)
    here: str | None = None  # the channel the command was typed in, when it was typed in one


# ---------------------------------------------------------------- what is shown


@dataclass(frozen=True)
class When:
    """A moment, shown in the reader's own time zone where the platform can."""

    at: datetime  # aware, UTC


Part = Union[str, PersonRef, When]
Rich = tuple[Part, ...]


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str  # a key of handlers.registry.ACTIONS
    value: str
    style: str | None = None  # "primary", "danger" or None
    confirm: str | None = None  # a question to confirm before acting


@dataclass(frozen=True)
class Card:
    """A platform-neutral message: Slack draws Block Kit, Teams an Adaptive Card, the console text."""

    title: str
    body: str = ""
    fields: tuple[tuple[str, Rich], ...] = ()
    status: Rich = ()
    actions: tuple[Button, ...] = ()
    accent: str = "neutral"  # "open", "claimed", "closed", "neutral"
    body_truncated: bool = False  # the full body is posted in the thread


@dataclass(frozen=True)
class Reply:
    """What the acting person is told, privately where the platform can (Slack ephemeral)."""

    text: str
    actions: tuple[Button, ...] = ()
    ok: bool = True
    rich: "Rich" = ()  # the same words with mentions, for platforms that can draw them
    replace_original: bool = False  # when answering a click on a private note, replace that note
    # the employee reply (TicketMessage id) this note is about: a platform that can edit its note
    # later (Teams) hands the posted note to outbound.keep_receipt, and it then shows the delivery
    delivery_of: int | None = None
    file: tuple[str, str] | None = None  # (file name, text content) to hand over, e.g. a CSV export
    image: tuple[str, bytes] | None = None  # (file name, PNG bytes) to show with the text, e.g. the stats chart


# how far an employee's reply to a customer has got
DELIVERY_STATES = ("sent", "failed", "recovered", "gave_up")


@dataclass(frozen=True)
class DeliveryMark:
    """An employee's reply reached the customer (or not yet), shown where they wrote it: Slack
    reacts on their message, Teams redraws Pitchin's note about it, the console prints a line."""

    message: MessageRef  # the employee's message in the ticket's thread
    state: str  # one of DELIVERY_STATES; "recovered" = sent after an earlier failure was shown
    text: str = ""  # the same in words: "✅ Sent to carol@example.com by email."
    receipt: MessageRef | None = None  # Pitchin's own note about the reply (with Undo), where it can be edited


# ---------------------------------------------------------------- the customer side


@dataclass(frozen=True)
class Attachment:
    filename: str
    size: int
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message, from email or a web form, before it is stored."""

    source: str  # "email" or "web"
    external_key: str  # "email:<Message-ID>" or "web:<external_id>": intake is idempotent on it
    sender_email: str
    sender_name: str
    subject: str
    text: str
    received_at: datetime  # aware, UTC
    email_message_id: str | None = None  # "<id@host>" for email
    in_reply_to: tuple[str, ...] = ()  # Message-IDs from In-Reply-To and References
    attachments: tuple[Attachment, ...] = ()
    reply_url: str | None = None
    # why the mail is an automatic one (RFC 3834), e.g. "Auto-Submitted: auto-replied": it never
    # opens or reopens a ticket
    auto_reply: str | None = None
    dmarc_failed: bool = False  # an Authentication-Results header said dmarc=fail


@dataclass(frozen=True)
class OutgoingReply:
    """An employee's answer on its way to a customer (or a mail of Pitchin's own: a suggestion's
    outcome, a satisfaction survey)."""

    ticket_id: int
    reply_id: int
    to_email: str
    to_name: str
    subject: str  # already "Re: …"
    text: str
    author_name: str
    message_id: str  # our Message-ID, fixed at acceptance so a resend is recognisably the same mail
    in_reply_to: str | None
    references: tuple[str, ...]
    reply_url: str | None = None  # set for web-form tickets: POST JSON there instead of email
    external_id: str | None = None
    html: str | None = None  # an HTML alternative of ``text`` (the satisfaction survey's links); email only
    # sent by Pitchin itself, not written by a person (RFC 3834 "Auto-Submitted: auto-generated"): the
    # customer's out-of-office reply does not answer it
    auto_submitted: bool = False


@dataclass(frozen=True)
class IntakeResult:
    ticket_id: int | None  # None when the message was ignored
    message_id: int | None
    new_ticket: bool
    duplicate: bool = False
    ignored: str | None = None  # "auto-reply": an automatic mail that belongs to no ticket, dropped
    reason: str | None = None  # why it was ignored or folded, in words
    folded: bool = False  # the sender opened too many tickets lately: this joined their latest one


# ---------------------------------------------------------------- ports (implemented under bot/)


class ChatPort(Protocol):
    """One chat platform's support channel, as the delivery worker uses it."""

    platform: str

    async def post_ticket(self, card: Card) -> ThreadRef:
        """Post a new ticket's root message; its thread is where the conversation continues."""

    async def update_ticket(self, thread: ThreadRef, card: Card) -> None:
        """Redraw a ticket's root message in place."""

    async def post_in_thread(self, thread: ThreadRef, text: str, card: Card | None = None) -> MessageRef:
        """Post a message into a ticket's thread."""

    async def mark_delivery(self, mark: DeliveryMark) -> None:
        """Show how far an employee's reply to the customer has got (sent, failed, recovered …)."""

    async def post_to_channel(self, channel: str, text: str, card: Card | None = None) -> MessageRef:
        """Post a new message in any channel Pitchin can reach (a reminder, a briefing, a digest)."""

    async def direct(self, tenant: str, user_id: str, text: str, card: Card | None = None) -> None:
        """A private message to one person, in their chat with Pitchin."""


class CustomerChannel(Protocol):
    """A way to reach a customer (SMTP, a Maildir, a webhook)."""

    async def send(self, reply: OutgoingReply) -> str:
        """Deliver or raise DeliveryError; returns a short description of where it went."""


class DeliveryError(Exception):
    """Delivery failed for now; ``retry_after`` (seconds) is set when the other side said when.
    ``permanent``: trying again cannot help (the message or channel is gone, the text is refused),
    so the job ends at once and says so."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


@dataclass
class Usage(Exception):
    """A command typed wrong: the message says what is wrong and shows the usage line."""

    message: str
    usage: str = ""

    def __str__(self) -> str:
        return f"{self.message}\nUsage: {self.usage}" if self.usage else self.message
