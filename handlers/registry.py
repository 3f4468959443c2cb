"""Action ids and typed commands → handler functions. One table, read by every platform.

Slack's ``app.action("ticket.claim")``, a Teams card's ``{"action": "ticket.claim"}`` and the
console's ``claim 3`` all end up in the same function through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from handlers import tickets
from handlers.base import Actor, Reply, Usage
from handlers.context import Context

# action id → handler(ctx, actor, id) for buttons; the button's value is the id
ACTIONS: dict[str, Callable[[Context, Actor, int], Reply]] = {
    "ticket.claim": tickets.claim,
    "ticket.unclaim": tickets.unclaim,
    "ticket.close": tickets.close,
    "ticket.reopen": tickets.reopen,
    "reply.undo": tickets.undo_reply,
}


def run_action(ctx: Context, actor: Actor, action_id: str, value: str) -> Reply:
    handler = ACTIONS.get(action_id)
    if handler is None:
        return Reply(f"Pitchin does not know the button “{action_id}”. Is this an old message?", ok=False)
    try:
        target = int(value)
    except (TypeError, ValueError):
        return Reply(f"That button carries “{value}”, which is not a ticket number.", ok=False)
    return handler(ctx, actor, target)


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Callable[[Context, Actor, list[str]], Reply]


def _ticket_number(args: list[str], usage: str) -> int:
    if len(args) != 1:
        raise Usage("Give one ticket number.", usage)
    number = args[0].lstrip("#")
    if not number.isdigit():
        raise Usage(f"“{args[0]}” is not a ticket number.", usage)
    return int(number)


def _on_ticket(name: str, verb: Callable[[Context, Actor, int], Reply], help_text: str) -> Command:
    usage = f"{name} <ticket number>"
    return Command(name, usage, help_text, lambda ctx, actor, args: verb(ctx, actor, _ticket_number(args, usage)))


COMMANDS: dict[str, Command] = {}


def _add(command: Command) -> None:
    COMMANDS[command.name] = command


_add(Command("list", "list", "open tickets, newest last", lambda ctx, actor, args: tickets.list_open(ctx, actor)))
_add(_on_ticket("claim", tickets.claim, "take a ticket: you answer it"))
_add(_on_ticket("unclaim", tickets.unclaim, "let go of a ticket you claimed"))
_add(_on_ticket("close", tickets.close, "close a ticket"))
_add(_on_ticket("reopen", tickets.reopen, "reopen a closed ticket"))
_add(Command("help", "help", "this list", lambda ctx, actor, args: Reply(help_text())))


def help_text(prefix: str = "") -> str:
    lines = ["Pitchin commands:"]
    for c in COMMANDS.values():
        lines.append(f"  {prefix}{c.usage:<28} {c.help}")
    lines.append("Answer a ticket in its thread; start with `note:` to keep a message internal.")
    return "\n".join(lines)


def run_command(ctx: Context, actor: Actor, text: str, prefix: str = "") -> Reply:
    """Run a typed command (`claim 3`); a typo gets the usage line, never a guess."""
    words = text.split()
    if not words:
        return Reply(help_text(prefix))
    command = COMMANDS.get(words[0].lower())
    if command is None:
        return Reply(f"Pitchin does not know “{words[0]}”.\n" + help_text(prefix), ok=False)
    try:
        return command.run(ctx, actor, words[1:])
    except Usage as exc:
        return Reply(f"{exc.message}\nUsage: {prefix}{exc.usage}", ok=False)
