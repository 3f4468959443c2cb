"""Saved replies: the team's best answers, and each person's own, kept by name.

A team reply (scope "team") is everyone's: anyone reads, changes or removes it, and the change is
recorded (``updated_by_id``). A private one (``--mine``, scope "person:<id>") is seen and changed
only by its owner, and wins over a team reply of the same name for them. Names are unique in a
scope whatever their case. A removed reply is kept (``removed_at``) so that Undo brings it back.

Every verb is one short transaction and answers with a Reply; a door that shows forms (Slack's
modal, Teams' dialog, the console's questions) sends what was typed as a ``Form`` to ``submit``,
which says which field is wrong so the door can show it there.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from handlers import reply_text
from handlers.base import Actor, Button, Reply
from handlers.context import Context
from handlers.outbound import name_of
from storage import repos
from storage.models import SavedReply

TEAM = "team"
NAME_LIMIT = 60
TEXT_LIMIT = 4000
RESTORE = "saved.restore"  # the Undo button of `saved remove`: its value is the reply's id
PREVIEW = 80  # characters of a reply's first line in a list
LISTED = 40  # replies in one list: more would not fit one chat message (Slack cuts a section at 3000 characters)


def own_scope(person_id: int) -> str:
    return f"person:{person_id}"


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def clean_name(name: str) -> str:
    return " ".join((name or "").split())


def whose(row: SavedReply, person_id: int | None = None) -> str:
    return "team" if row.scope == TEAM else ("yours" if row.owner_id == person_id else "private")


# ---------------------------------------------------------------- what other modules read


def available(session: Session, person_id: int) -> list[SavedReply]:
    """The replies a person can use: the team's and their own, their own winning over a team reply
    of the same name; by name."""
    rows = session.exec(select(SavedReply).where(
        SavedReply.scope.in_((TEAM, own_scope(person_id))), SavedReply.removed_at.is_(None))).all()
    own = {r.name_key for r in rows if r.scope != TEAM}
    return sorted((r for r in rows if r.scope != TEAM or r.name_key not in own), key=lambda r: (r.name_key, r.id))


def _live(session: Session, scope: str, key: str) -> SavedReply | None:
    return session.exec(select(SavedReply).where(SavedReply.scope == scope, SavedReply.name_key == key,
                                                 SavedReply.removed_at.is_(None))).first()


def get(session: Session, person_id: int, name: str, scope: str | None = None) -> SavedReply | None:
    """The reply ``name`` means for this person: their own, else the team's. ``scope`` "team" or
    "mine" asks for one of the two."""
    key = name_key(name)
    scopes = {None: (own_scope(person_id), TEAM), TEAM: (TEAM,), "mine": (own_scope(person_id),)}[scope]
    for one in scopes:
        row = _live(session, one, key)
        if row is not None:
            return row
    return None


# ---------------------------------------------------------------- checks


def variables_help() -> str:
    lines = [f"  {{{name}}}  {meaning}" for name, meaning in reply_text.VARIABLES.items()]
    return ("Variables Pitchin fills in when the reply is used:\n" + "\n".join(lines) +
            "\n  A fallback after | is used when the value is unknown: {customer.first_name|there}.\n"
            "  [[words in double brackets]] are placeholders the sender must fill in: a reply that still holds "
            "one is not sent.")


def field_problems(name: str, text: str) -> dict[str, str]:
    """What is wrong with a name and a text on their own, by field ("name", "text")."""
    problems = {}
    name = clean_name(name)
    if not name:
        problems["name"] = "Give the reply a short name people can find it by, e.g. Refund."
    elif len(name) > NAME_LIMIT:
        problems["name"] = f"A name is at most {NAME_LIMIT} characters; this one has {len(name)}. Make it shorter."
    elif name.startswith("--"):
        problems["name"] = f"“{name}” is not a name: the options are --mine and --team."
    text = (text or "").strip()
    unknown = reply_text.unknown_variables(text)
    if not text:
        problems["text"] = "Write the reply's text: what the customer should read."
    elif len(text) > TEXT_LIMIT:
        problems["text"] = (f"A saved reply is at most {TEXT_LIMIT} characters; this one has {len(text)}. "
                            "Shorten it, or make two replies.")
    elif unknown:
        listed = ", ".join(f"{{{u}}}" for u in dict.fromkeys(unknown))
        known = ", ".join(f"{{{v}}}" for v in reply_text.VARIABLES)
        problems["text"] = (f"Pitchin does not know {listed}. The variables are {known}; a fallback goes after |, "
                            "as in {customer.first_name|there}.")
    return problems


def _taken(row_scope: str, name: str, prefix: str) -> str:
    if row_scope == TEAM:
        return f"There is already a team reply called “{name}”: `{prefix}saved edit {name}` changes it."
    return f"You already have a reply of your own called “{name}”: `{prefix}saved edit {name}` changes it."


# ---------------------------------------------------------------- the form


@dataclass(frozen=True)
class Form:
    """A saved reply being written or changed, as a door's form shows and sends it back."""

    name: str = ""
    text: str = ""
    mine: bool = False
    reply_id: int | None = None  # the saved reply being changed; None: a new one
    source_message_id: int | None = None  # "Save as reply": the employee's reply (TicketMessage) it comes from
    note: str = ""  # shown above the fields: where the text came from, what to check


def submit(ctx: Context, actor: Actor, form: Form, prefix: str = "") -> tuple[Reply, dict[str, str]]:
    """Save what the form holds: (what to tell the person, problems by field). When there are
    problems nothing changed, and the door shows them beside the fields."""
    problems = field_problems(form.name, form.text)
    if problems:
        return Reply(" ".join(problems.values()), ok=False), problems
    name, text = clean_name(form.name), form.text.strip()
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        if form.reply_id is None:
            scope = own_scope(person.id) if form.mine else TEAM
            existing = _live(session, scope, name_key(name))
            if existing is not None:
                message = _taken(scope, existing.name, prefix)
                return Reply(message, ok=False), {"name": message}
            _free_name(session, scope, name_key(name))
            row = SavedReply(scope=scope, owner_id=person.id if form.mine else None, name=name, name_key=name_key(name),
                             text=text, created_by_id=person.id, updated_by_id=person.id,
                             source_message_id=form.source_message_id, created_at=ctx.now(), updated_at=ctx.now())
            session.add(row)
            what = "your own reply" if form.mine else "a team reply"
            return Reply(f"Saved “{name}” as {what}. {_use_hint(text)}"), {}
        row = session.get(SavedReply, form.reply_id)
        if row is None or row.removed_at is not None or not _may_change(row, person.id):
            return Reply("That saved reply is gone (removed, or not yours). `saved list` shows the ones there are.",
                         ok=False), {}
        if name_key(name) != row.name_key:
            clash = _live(session, row.scope, name_key(name))
            if clash is not None:
                message = _taken(row.scope, clash.name, prefix)
                return Reply(message, ok=False), {"name": message}
            _free_name(session, row.scope, name_key(name))
        renamed = f" (renamed from “{row.name}”)" if name != row.name else ""
        if name == row.name and text == row.text:
            return Reply(f"“{name}” is unchanged."), {}
        row.name, row.name_key, row.text = name, name_key(name), text
        row.updated_by_id, row.updated_at = person.id, ctx.now()
        session.add(row)
        return Reply(f"Changed “{name}”{renamed}, {whose(row, person.id)}."), {}


def _use_hint(text: str) -> str:
    held = reply_text.placeholders(text)
    if held:
        return f"Whoever uses it fills in {', '.join(f'[[{p}]]' for p in held)} before it can be sent."
    return "It is offered in ticket threads from now on."


def _may_change(row: SavedReply, person_id: int) -> bool:
    return row.scope == TEAM or row.owner_id == person_id


def _free_name(session: Session, scope: str, key: str) -> None:
    """A removed reply keeps its name until a new one takes it: then it goes for good (its Undo says so)."""
    for row in session.exec(select(SavedReply).where(SavedReply.scope == scope, SavedReply.name_key == key,
                                                     SavedReply.removed_at.is_not(None))).all():
        session.delete(row)
    session.flush()


# ---------------------------------------------------------------- the verbs


def add(ctx: Context, actor: Actor, name: str, text: str, mine: bool = False, source_message_id: int | None = None,
        prefix: str = "") -> Reply:
    return submit(ctx, actor, Form(name=name, text=text, mine=mine, source_message_id=source_message_id), prefix)[0]


def _missing(name: str, prefix: str) -> Reply:
    return Reply(f"There is no saved reply called “{clean_name(name)}”. `{prefix}saved list` shows them; "
                 f"`{prefix}saved list <words>` searches their text.", ok=False)


def form_for(ctx: Context, actor: Actor, name: str, scope: str | None = None, prefix: str = "") -> Form | Reply:
    """The form to change a reply, filled in with what it says now."""
    with ctx.db.transaction(read_only=True) as session:
        person = repos.person_for(session, actor)
        row = get(session, person.id, name, scope)
        if row is None:
            return _missing(name, prefix)
        return Form(name=row.name, text=row.text, mine=row.scope != TEAM, reply_id=row.id,
                    note=f"Changing the {'team reply' if row.scope == TEAM else 'reply of your own'} “{row.name}”.")


def edit(ctx: Context, actor: Actor, name: str, text: str | None = None, new_name: str | None = None,
         scope: str | None = None, prefix: str = "") -> Reply:
    """Change a reply's text, or its name (``new_name``), found by name as the person sees it."""
    found = form_for(ctx, actor, name, scope, prefix)
    if isinstance(found, Reply):
        return found
    form = Form(name=new_name if new_name is not None else found.name, text=text if text is not None else found.text,
                mine=found.mine, reply_id=found.reply_id)
    return submit(ctx, actor, form, prefix)[0]


def remove(ctx: Context, actor: Actor, name: str, scope: str | None = None, prefix: str = "") -> Reply:
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        row = get(session, person.id, name, scope)
        if row is None:
            return _missing(name, prefix)
        row.removed_at, row.updated_by_id = ctx.now(), person.id
        session.add(row)
        shadowed = row.scope != TEAM and _live(session, TEAM, row.name_key) is not None
        what = "team reply" if row.scope == TEAM else "reply of your own"
        after = f" The team reply “{row.name}” is yours to use again." if shadowed else ""
        return Reply(f"Removed the {what} “{row.name}”.{after}",
                     actions=(Button("Undo", RESTORE, str(row.id)),))


def restore(ctx: Context, actor: Actor, reply_id: int) -> Reply:
    """The Undo of ``remove``: the reply comes back as it was, unless a new one took its name since."""
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        row = session.get(SavedReply, reply_id)
        if row is None:
            return Reply("That reply cannot come back: a new reply took its name since it was removed.", ok=False,
                         replace_original=True)
        if not _may_change(row, person.id):
            return Reply("Only its owner can bring back a reply of their own.", ok=False)
        if row.removed_at is None:
            return Reply(f"“{row.name}” is back already.", replace_original=True)
        row.removed_at, row.updated_by_id, row.updated_at = None, person.id, ctx.now()
        session.add(row)
        return Reply(f"“{row.name}” is back, as it was.", replace_original=True)


def show(ctx: Context, actor: Actor, name: str, scope: str | None = None, prefix: str = "") -> Reply:
    with ctx.db.transaction(read_only=True) as session:
        person = repos.person_for(session, actor)
        row = get(session, person.id, name, scope)
        if row is None:
            return _missing(name, prefix)
        changed_by = repos.person_refs(session, [row.updated_by_id]).get(row.updated_by_id)
        team_too = row.scope != TEAM and _live(session, TEAM, row.name_key) is not None
    label = "team reply" if row.scope == TEAM else "your own reply"
    note = f"\n(A team reply has this name too: `{prefix}saved show {row.name} --team`.)" if team_too else ""
    return Reply(f"“{row.name}”, {label}, last changed by {name_of(changed_by)} on {row.updated_at:%Y-%m-%d}:\n"
                 f"{row.text}{note}\n`{prefix}saved edit {row.name}` changes it.")


def search(ctx: Context, actor: Actor, words: str = "", prefix: str = "") -> Reply:
    """The person's replies (the team's and their own) that hold every one of ``words``, in their
    name or their text, whatever the case: those named so first, then by name."""
    wanted = [w.casefold() for w in words.split()]
    with ctx.db.transaction(read_only=True) as session:
        person = repos.person_for(session, actor)
        rows = available(session, person.id)
    if not rows:
        return Reply(f"No saved replies yet. `{prefix}saved add <name>` writes the first.")
    found = [r for r in rows if all(w in r.name.casefold() or w in r.text.casefold() for w in wanted)]
    found.sort(key=lambda r: (not all(w in r.name.casefold() for w in wanted), r.name_key))
    if not found:
        return Reply(f"No saved reply has “{words.strip()}” in its name or text. `{prefix}saved list` shows all "
                     f"{len(rows)}.", ok=False)
    head = (f"Saved replies with “{words.strip()}” ({len(found)}):" if wanted else f"Saved replies ({len(found)}):")
    lines = [f"• {r.name} · {whose(r, person.id)} · {_first_line(r.text)}" for r in found[:LISTED]]
    if len(found) > LISTED:
        lines.append(f"… and {len(found) - LISTED} more: `{prefix}saved list <words>` finds the one you want.")
    return Reply("\n".join([head, *lines, f"`{prefix}saved show <name>` shows one in full."]))


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= PREVIEW else line[: PREVIEW - 1].rstrip() + "…"
