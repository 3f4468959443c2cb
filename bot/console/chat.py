"""The terminal as a support channel: ``ConsoleChat`` draws tickets as text (implements ChatPort).

A ticket's root message is a framed block; its "thread" is every later line tagged ``#N │``;
its buttons become the commands to type (``claim 3 · close 3``).
"""

from __future__ import annotations

import re
import sys
import uuid
from typing import TextIO

from handlers.base import Button, Card, DeliveryMark, MessageRef, PersonRef, ThreadRef
from handlers.cards import FEEDBACK_FROM_TICKET, USE_SAVED_REPLY, plain

PLATFORM = "console"
CHANNEL = "console"

_TITLE = re.compile(r"^#(\d+)\b")
_MESSAGE = re.compile(r"^ticket-(\d+)(?:\.|$)")

# delivery state → what the console shows under the reply
DELIVERY = {
    "sent": "✅ delivered",
    "recovered": "✅ delivered",
    "failed": "⚠️ not delivered yet",
    "gave_up": "⚠️ not delivered: Pitchin gave up",
}


def thread_for(ticket: int) -> ThreadRef:
    return ThreadRef(PLATFORM, "", CHANNEL, f"ticket-{ticket}")


def message_for(ticket: int, kind: str = "msg") -> MessageRef:
    """A fresh, unique console message on a ticket; the id carries the ticket number."""
    return MessageRef(PLATFORM, "", CHANNEL, f"ticket-{ticket}.{kind}-{uuid.uuid4().hex[:12]}", f"ticket-{ticket}")


def ticket_of(ref_id: str) -> int | None:
    """The ticket number in a console thread or message id ("ticket-3", "ticket-3.reply-…")."""
    m = _MESSAGE.match(ref_id or "")
    return int(m.group(1)) if m else None


# buttons whose command is not the last word of their action id
COMMANDS = {FEEDBACK_FROM_TICKET: "feedback from", "saved.restore": "saved restore", USE_SAVED_REPLY: "use"}


def command_for(button: Button) -> str:
    """What to type instead of clicking: ``ticket.claim``/3 → ``claim 3``, ``reply.undo``/7 → ``undo 7``,
    ``feedback.from_ticket``/3 → ``feedback from 3``."""
    return f"{COMMANDS.get(button.action_id) or button.action_id.rpartition('.')[2]} {button.value}"


def commands_line(actions: tuple[Button, ...]) -> str:
    return " · ".join(command_for(b) for b in actions)


def _person(card: Card) -> str | None:
    return next((p.name for p in card.status if isinstance(p, PersonRef)), None)


def state_line(number: str, card: Card, before: str | None = None) -> str:
    """One line saying what a ticket is now: "#3 is now claimed by Ann". ``before`` is the state
    it was last shown in, when known."""
    who = _person(card)
    if before == "closed" and card.accent in ("open", "claimed"):
        said = f"#{number} is open again" + (f", claimed by {who or 'someone'}" if card.accent == "claimed"
                                              else ": nobody has claimed it")
    elif card.accent == "claimed":
        said = f"#{number} is now claimed by {who or 'someone'}"
    elif card.accent == "closed":
        said = f"#{number} is now closed" + (f" (by {who})" if who else "")
    elif card.accent == "open":
        said = f"#{number} is now open: nobody has claimed it"
    else:
        said = f"#{number} · {plain(card.status)}"
    actions = commands_line(card.actions)
    return f"{said}." + (f"  → {actions}" if actions else "")


def card_text(card: Card) -> str:
    """A ticket's root message as a framed block of text."""
    lines = [f"┌─ {card.title}"]
    for label, value in card.fields:
        lines.append(f"│ {label}: {plain(value)}")
    if card.body:
        lines.append("│")
        lines.extend(f"│   {line}" if line else "│" for line in card.body.splitlines())
        if card.body_truncated:
            lines.append("│   (the whole message follows below)")
    if card.status:
        lines.append("│")
        lines.append(f"│ {plain(card.status)}")
    actions = commands_line(card.actions)
    lines.append(f"└─ {actions}" if actions else "└─")
    return "\n".join(lines)


def thread_text(number: str, text: str) -> str:
    """Lines posted in a ticket's thread, each tagged with the ticket number."""
    prefix = f"  #{number} │ "
    return "\n".join(prefix + line for line in (text.splitlines() or [""]))


class ConsoleChat:
    """ChatPort on a text stream (default: sys.stdout, looked up at each write)."""

    platform = PLATFORM

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream
        self._counter = 0
        self._posts = 0
        self._shown: dict[str, str] = {}  # ticket number → the state it was last drawn in
        self.prompt = ""  # set by an interactive REPL: redrawn after every asynchronous line
        self.interactive = False

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def write(self, text: str) -> None:
        """Print a block of text (a line break is added), keeping the prompt last on screen."""
        out = self.stream
        if self.prompt and self.interactive:
            out.write("\r\x1b[K" + text + "\n" + self.prompt)
        else:
            out.write(text + "\n")
        out.flush()

    # ---------------------------------------------------------------- ChatPort

    async def post_ticket(self, card: Card) -> ThreadRef:
        m = _TITLE.match(card.title)
        if m:
            number = int(m.group(1))
        else:  # a title without its number: count instead
            self._counter += 1
            number = self._counter
        self._shown[str(number)] = card.accent
        self.write(card_text(card))
        return thread_for(number)

    async def update_ticket(self, thread: ThreadRef, card: Card) -> None:
        number = self._number(thread.thread_id)
        before, self._shown[number] = self._shown.get(number), card.accent
        self.write(state_line(number, card, before))

    async def post_in_thread(self, thread: ThreadRef, text: str, card: Card | None = None) -> MessageRef:
        number = self._number(thread.thread_id)
        self.write(thread_text(number, _words(text, card)))
        self._posts += 1
        return MessageRef(PLATFORM, "", CHANNEL, f"{thread.thread_id}.post-{self._posts}", thread.thread_id)

    async def post_to_channel(self, channel: str, text: str, card: Card | None = None) -> MessageRef:
        self._posts += 1
        self.write(f"📣 #{channel}: {_words(text, card)}")
        return MessageRef(PLATFORM, "", channel, f"{channel}.post-{self._posts}")

    async def direct(self, tenant: str, user_id: str, text: str, card: Card | None = None) -> None:
        self.write(f"✉️  to {user_id}: {_words(text, card)}")

    async def mark_delivery(self, mark: DeliveryMark) -> None:
        shown = DELIVERY.get(mark.state, mark.text or mark.state)
        self.write(thread_text(self._number(mark.message.message_id), shown))

    @staticmethod
    def _number(ref_id: str) -> str:
        n = ticket_of(ref_id)
        return str(n) if n is not None else "?"


def _words(text: str, card: Card | None) -> str:
    """A post as text: its words, then its card drawn as a framed block."""
    return text if card is None else f"{text}\n{card_text(card)}" if text else card_text(card)
