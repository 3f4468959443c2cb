"""Action ids and typed commands → handler functions. One table, read by every platform.

Slack's ``app.action("ticket.claim")``, a Teams card's ``{"action": "ticket.claim"}`` and the
console's ``claim 3`` all end up in the same function through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from handlers import (ai_drafts, briefings, departments, digest, feedback, rotations, saved_command, saved_replies,
                      stats_command, tickets)
from handlers.base import Actor, Named, Reply, Usage
from handlers.context import Context

# action id → handler(ctx, actor, id) for buttons; the button's value is the id
ACTIONS: dict[str, Callable[[Context, Actor, int], Reply]] = {
    "ticket.claim": tickets.claim,
    "ticket.unclaim": tickets.unclaim,
    "ticket.close": tickets.close,
    "ticket.reopen": tickets.reopen,
    "reply.undo": tickets.undo_reply,
    rotations.TAKE: rotations.take,
    saved_replies.RESTORE: saved_replies.restore,
}


# action id → handler(ctx, actor, value) for buttons whose value is not a single number
TEXT_ACTIONS: dict[str, Callable[[Context, Actor, str], Reply]] = {
    "feedback.add": feedback.add_to_card,
    "feedback.new": feedback.create_new,
    "feedback.announce": feedback.announce,
    "feedback.unmerge": feedback.unmerge,
    briefings.MOVE: briefings.move,
    briefings.UNMOVE: briefings.unmove,
    briefings.POST: briefings.post,
}


def run_action(ctx: Context, actor: Actor, action_id: str, value: str) -> Reply:
    if action_id in TEXT_ACTIONS:
        return TEXT_ACTIONS[action_id](ctx, actor, str(value))
    handler = ACTIONS.get(action_id)
    if handler is None:
        return Reply(f"Pitchin does not know the button “{action_id}”. Is this an old message?", ok=False)
    try:
        target = int(value)
    except (TypeError, ValueError):
        return Reply(f"That button carries “{value}”, which is not a ticket number.", ok=False)
    return handler(ctx, actor, target)


SLOW_ACTIONS = {briefings.POST}  # buttons that may wait for OpenAI (a briefing's labels)
run_action.may_embed = lambda ctx, actor, action_id, *args, **kwargs: action_id in SLOW_ACTIONS


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Callable[..., Reply]  # (ctx, actor, words), and the Named when ``names`` is set
    names: bool = False  # it names people or channels: run gets what the door resolved them to
    slow: bool = False  # it may run the local model or wait for OpenAI: run off the event loop (Context.run)
    # run gets (ctx, actor, the text after the command's word as typed, the door's prefix): words of a
    # person's own that must stay as written (a saved reply's text)
    raw: bool = False


def _ticket_number(args: list[str], usage: str) -> int:
    if len(args) != 1:
        raise Usage("Give one ticket number.", usage)
    number = args[0].lstrip("#")
    if not number.isdigit():
        raise Usage(f"“{args[0]}” is not a ticket number.", usage)
    return int(number)


def _on_ticket(name: str, verb: Callable[[Context, Actor, int], Reply], help_text: str, slow: bool = False) -> Command:
    usage = f"{name} <ticket number>"
    return Command(name, usage, help_text, lambda ctx, actor, args: verb(ctx, actor, _ticket_number(args, usage)),
                   slow=slow)


COMMANDS: dict[str, Command] = {}


def _add(command: Command) -> None:
    COMMANDS[command.name] = command


_add(Command("list", "list", "open tickets, newest last", lambda ctx, actor, args: tickets.list_open(ctx, actor)))
_add(_on_ticket("claim", tickets.claim, "take a ticket: you answer it"))
_add(_on_ticket("unclaim", tickets.unclaim, "let go of a ticket you claimed"))
_add(_on_ticket("close", tickets.close, "close a ticket"))
_add(_on_ticket("reopen", tickets.reopen, "reopen a closed ticket"))
_add(Command("rotation", rotations.ROTATION_USAGE, "support rotations: who is on duty when (alone: the schedules)",
             rotations.run, names=True))
_add(Command("who", "who", "who is on support today, and the next shifts", rotations.who, names=True))
_add(Command("department", departments.DEPARTMENT_USAGE, "departments that hear a weekly briefing (alone: the list)",
             departments.run, names=True, slow=True))  # `about` words are embedded
_add(Command("brief", briefings.BRIEF_USAGE, "this week's top customer issues, now, only to you", briefings.brief,
             names=True, slow=True))  # labels may be written by OpenAI
_add(Command("digest", digest.USAGE, "every day, five customer conversations answered the day before, in a channel",
             digest.run, names=True))
_add(Command("stats", stats_command.USAGE, "how support is doing: satisfaction, NPS, response times, a chart",
             stats_command.run, slow=True))  # drawing the chart takes a moment: off the event loop
_add(Command("saved", saved_command.USAGE, "saved replies, the team's and your own (`saved help`: variables)",
             saved_command.run, raw=True))
# both wait for OpenAI: off the event loop
_add(_on_ticket("draft", ai_drafts.draft_reply, "an AI draft of your reply, shown only to you (OPENAI_API_KEY)",
                slow=True))
_add(_on_ticket("summarise", ai_drafts.summarise, "an AI-written internal summary in a long ticket's thread",
                slow=True))
_add(Command("help", "help", "this list", lambda ctx, actor, args: Reply(help_text())))


def help_text(prefix: str = "") -> str:
    lines = ["Pitchin commands:"]
    for c in COMMANDS.values():
        lines.append(f"  {prefix}{c.usage:<28} {c.help}")
    lines.append("Answer a ticket in its thread; start with `note:` to keep a message internal.")
    return "\n".join(lines)


def _slow_command(ctx: Context, actor: Actor, text: str, *args, **kwargs) -> bool:
    words = text.split()
    command = COMMANDS.get(words[0].lower()) if words else None
    return command is not None and command.slow


def run_command(ctx: Context, actor: Actor, text: str, prefix: str = "", named: Named | None = None) -> Reply:
    """Run a typed command (`claim 3`); a typo gets the usage line, never a guess. ``named``: the
    people and channels the door found in ``text``, each there as a token (see ``Named``)."""
    words = text.split()
    if not words:
        return Reply(help_text(prefix))
    command = COMMANDS.get(words[0].lower())
    if command is None:
        return Reply(f"Pitchin does not know “{words[0]}”.\n" + help_text(prefix), ok=False)
    try:
        if command.raw:
            return command.run(ctx, actor, text.strip()[len(words[0]):], prefix)
        if command.names:
            return command.run(ctx, actor, words[1:], named or Named())
        return command.run(ctx, actor, words[1:])
    except Usage as exc:
        return Reply(f"{exc.message}\nUsage: {prefix}{exc.usage}", ok=False)


run_command.may_embed = _slow_command


# ---------------------------------------------------------------- /feedback


def _card_number(word: str, kind: str, command: str) -> int:
    if not word.lstrip("#").isdigit():
        raise Usage(f"“{word}” is not a card number.", feedback.usage(kind, command))
    return int(word.lstrip("#"))


def feedback_help(command: str = feedback.COMMAND) -> str:
    return "Feedback commands:\n" + "\n".join(f"  {feedback.usage(kind, command)}" for kind in feedback.USAGE)


@feedback.may_embed
def run_feedback(ctx: Context, actor: Actor, text: str, ticket_id: int | None = None,
                 command: str = feedback.COMMAND) -> Reply:
    """`/feedback …`: a subcommand, or else one line of feedback. (Empty text opens the form; the
    adapter does that before calling here.) ``ticket_id``: the ticket whose thread it was typed in,
    so one line of feedback there is linked to that ticket and its customer. ``command``: how the door
    spells the feedback command (Slack's `/feedback`), for usage lines."""
    words = text.split()
    if not words:
        return Reply(feedback_help(command))
    verb, args = words[0].lower(), words[1:]
    try:
        if verb == "log":  # feedback that starts with a command word: `/feedback log search is slow`
            return feedback.log(ctx, actor, feedback.Draft(text=" ".join(args), ticket_id=ticket_id), command)
        if verb == "help" and not args:
            return Reply(feedback_help(command))
        if verb == "merge":
            if len(args) != 3 or args[1].lower() != "into":
                raise Usage("Say which card goes into which.", feedback.usage("merge", command))
            return feedback.merge(ctx, actor, _card_number(args[0], "merge", command),
                                  _card_number(args[2], "merge", command), command)
        if verb == "status":
            if len(args) < 2:
                raise Usage("Give a card number and a status.", feedback.usage("status", command))
            word, rest = args[1], args[2:]
            if word.lower() == "in" and rest and rest[0].lower() == "progress":  # `status 7 in progress`
                word, rest = "in progress", rest[1:]
            return feedback.set_status(ctx, actor, _card_number(args[0], "status", command), word, " ".join(rest),
                                       command)
        if verb == "show":
            if len(args) != 1:
                raise Usage("Give one card number.", feedback.usage("show", command))
            return feedback.show(ctx, _card_number(args[0], "show", command), command)
        if verb == "top":  # a department may be more than one word: `/feedback top customer success`
            return feedback.top(ctx, " ".join(args), command=command)
        if verb == "search":
            return feedback.search(ctx, " ".join(args), command)
        if verb == "export" and not args:
            return Reply("All feedback, one row per request.", file=("pitchin-feedback.csv", feedback.export_csv(ctx)))
    except Usage as exc:
        return Reply(str(exc), ok=False)
    return feedback.log(ctx, actor, feedback.Draft(text=text.strip(), ticket_id=ticket_id), command)
