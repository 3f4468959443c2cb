"""The typed `saved …` command: words → the verbs of handlers/saved_replies.py.

A name is one word, or several in quotes (`saved add "Late delivery" …`); what follows it on the line
is the reply's text, kept as typed. `--mine` makes a reply your own; `--team` picks the team's
reply of a name when you have one of your own too. A door that shows forms asks ``form_request``
first: `saved add <name>` and `saved edit <name>` without text open the form there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers import saved_from_message, saved_replies
from handlers.base import Actor, Reply
from handlers.context import Context
from handlers.saved_replies import Form

USAGE = "saved add|list|edit|remove [name]"
LINES = {
    "add": "saved add <name> [--mine] [text]",
    "from": "saved add <name> from #<ticket>",
    "list": "saved list [words]",
    "show": "saved show <name>",
    "edit": "saved edit <name> [new text]",
    "rename": "saved rename <name> to <new name>",
    "remove": "saved remove <name>",
}
FLAGS = {"--mine": "mine", "--team": "team"}
_QUOTED = re.compile(r'^\s*["“]([^"”]*)["”]')
_LAST_FLAG = re.compile(r"(?:^|\s)(--mine|--team)\s*$", re.IGNORECASE)
# `saved add Late delivery from #3`: the name is every word before "from", quoted or not
_FROM_TICKET = re.compile(r"^(.+?)\s+from\s+#?(\d+)\s*$", re.IGNORECASE)


def usage(prefix: str = "") -> str:
    return "\n".join(f"  {prefix}{line}" for line in LINES.values())


def help_text(prefix: str = "") -> str:
    return ("Saved replies: the team's best answers (and your own with --mine), ready in any ticket thread.\n"
            + usage(prefix) + "\n" + saved_replies.variables_help())


@dataclass(frozen=True)
class Typed:
    verb: str
    name: str = ""
    text: str = ""  # as typed, after the name
    whole: str = ""  # everything after the verb and the options (a name of several words without quotes)
    scope: str | None = None  # "mine" or "team" when an option said so


class Problem(Exception):
    def __init__(self, message: str, line: str):
        super().__init__(message)
        self.message, self.line = message, line


def _flags(text: str, typed_scope: str | None) -> tuple[str, str | None]:
    while True:
        m = re.match(r"^\s*(--\w+)(?=\s|$)", text)
        if m is None:
            return text, typed_scope
        if m.group(1).lower() not in FLAGS:
            raise Problem(f"“{m.group(1)}” is not an option: use --mine or --team.", "add")
        typed_scope = FLAGS[m.group(1).lower()]
        text = text[m.end():]


def parse(text: str) -> Typed:
    verb, _, rest = text.strip().partition(" ")
    verb = verb.lower() or "list"
    rest, scope = _flags(rest, None)
    last = _LAST_FLAG.search(rest)
    if last:  # `saved add Refund Hi there --mine`
        scope, rest = FLAGS[last.group(1).lower()], rest[:last.start()]
    whole = " ".join(rest.split())
    quoted = _QUOTED.match(rest)
    if quoted:
        name, after = quoted.group(1), rest[quoted.end():]
    else:
        m = re.match(r"^\s*(\S+)", rest)
        name, after = (m.group(1), rest[m.end():]) if m else ("", "")
    after, scope = _flags(after, scope)
    return Typed(verb, saved_replies.clean_name(name), after.strip(), whole, scope)


def _need_name(typed: Typed, line: str) -> None:
    if not typed.name:
        raise Problem("Give the reply's name.", line)


def form_request(ctx: Context, actor: Actor, text: str, prefix: str = "") -> Form | Reply | None:
    """For a door with forms: the form a typed `saved …` opens (`add` or `edit` with a name and no
    text), a Reply when it cannot (no such reply), or None: run the command as typed."""
    try:
        typed = parse(text)
    except Problem:
        return None
    if typed.verb == "add" and typed.name and not typed.text:
        return Form(name=typed.name, mine=typed.scope == "mine")
    if typed.verb == "edit" and typed.name and (not typed.text or _names_one(ctx, actor, typed)):
        return saved_replies.form_for(ctx, actor, _edited_name(ctx, actor, typed), _scope(typed), prefix)
    return None


def _scope(typed: Typed) -> str | None:
    return saved_replies.TEAM if typed.scope == "team" else typed.scope


def _names_one(ctx: Context, actor: Actor, typed: Typed) -> bool:
    """Whether all the words after the verb are one reply's name (`saved edit Late delivery`)."""
    return typed.text != "" and not isinstance(saved_replies.form_for(ctx, actor, typed.whole, _scope(typed)), Reply)


def _edited_name(ctx: Context, actor: Actor, typed: Typed) -> str:
    return typed.whole if typed.text and _names_one(ctx, actor, typed) else typed.name


def run(ctx: Context, actor: Actor, text: str, prefix: str = "") -> Reply:
    """`saved …` as typed (``text`` is what follows the word `saved`)."""
    try:
        return _run(ctx, actor, parse(text), prefix)
    except Problem as exc:
        return Reply(f"{exc.message}\nUsage: {prefix}{LINES.get(exc.line, USAGE)}", ok=False)


def _run(ctx: Context, actor: Actor, typed: Typed, prefix: str) -> Reply:
    scope = _scope(typed)
    if typed.verb == "list" or typed.verb == "search":
        listed = saved_replies.search(ctx, actor, typed.whole, prefix)
        if not typed.whole:
            return Reply(f"{listed.text}\n{usage(prefix)}", ok=listed.ok)
        return listed
    if typed.verb == "help":
        return Reply(help_text(prefix))
    if typed.verb == "add":
        _need_name(typed, "add")
        from_ticket = _FROM_TICKET.match(typed.whole)
        if from_ticket:
            name = from_ticket.group(1).strip().strip('"“”')
            return saved_from_message.add_from_ticket(ctx, actor, name, int(from_ticket.group(2)),
                                                      typed.scope == "mine", prefix)
        if not typed.text:
            raise Problem(f"Write the reply after its name, as in `{prefix}saved add {typed.name} Hi "
                          "{customer.first_name|there}, …`.", "add")
        return saved_replies.add(ctx, actor, typed.name, typed.text, typed.scope == "mine", prefix=prefix)
    if typed.verb == "edit":
        _need_name(typed, "edit")
        if not typed.text or _names_one(ctx, actor, typed):
            found = saved_replies.form_for(ctx, actor, _edited_name(ctx, actor, typed), scope, prefix)
            if isinstance(found, Reply):
                return found
            raise Problem(f"Write the new text after the name. It says now:\n{found.text}", "edit")
        return saved_replies.edit(ctx, actor, typed.name, text=typed.text, scope=scope, prefix=prefix)
    if typed.verb == "rename":
        old, _, new = typed.whole.partition(" to ")
        if typed.name and typed.text.lower().startswith("to "):
            old, new = typed.name, typed.text[3:]
        if not old.strip() or not new.strip():
            raise Problem("Say which reply and its new name.", "rename")
        return saved_replies.edit(ctx, actor, old.strip().strip('"“”'), new_name=new.strip().strip('"“”'),
                                  scope=scope, prefix=prefix)
    if typed.verb in ("remove", "show"):
        _need_name(typed, typed.verb)
        verb = saved_replies.remove if typed.verb == "remove" else saved_replies.show
        name = typed.name if _QUOTED.match(typed.whole) else typed.whole
        return verb(ctx, actor, name, scope, prefix)
    if typed.verb == "restore" and typed.name.isdigit():  # the console's Undo, typed
        return saved_replies.restore(ctx, actor, int(typed.name))
    return Reply(f"`saved` does not know “{typed.verb}”.\n{help_text(prefix)}", ok=False)
