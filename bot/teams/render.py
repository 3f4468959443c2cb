"""Neutral Cards and Replies → Adaptive Cards (and plain messages). Nothing else in the bot builds cards.

A button becomes an Action.Submit whose data names the action and its target,
``{"action": "ticket.claim", "ticket_id": 7}``; inbound.card_action reads it back. A button with a
confirmation question becomes an Action.ShowCard holding the question and the real button. A
button that opens a form (``feedback.from_ticket``) is an Action.Submit marked ``task/fetch``:
Teams then asks the bot for a dialog (a task module) instead of posting a message.
"""

from __future__ import annotations

from botbuilder.core import serializer_helper
from botbuilder.schema import Activity, ActivityTypes, Attachment
from botbuilder.schema.teams import (MessagingExtensionActionResponse, TaskModuleContinueResponse, TaskModuleResponse,
                                     TaskModuleTaskInfo)

from handlers import registry
from handlers.base import Button, Card, DeliveryMark, PersonRef, Reply, Rich, When
from handlers.cards import FEEDBACK_FROM_TICKET, USE_SAVED_REPLY, plain
from handlers.customers import customers_field
from handlers.feedback import IMPORTANCE, Draft

PLATFORM = "teams"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.4"  # what Teams renders on every client
TEXT_LIMIT = 20000  # a Teams message is at most ~28 KB; leave room for the card around it
STYLE = {"primary": "positive", "danger": "destructive"}
ACCENT = {"open": "Good", "claimed": "Accent", "closed": "Default", "neutral": "Default"}
# a Teams-only button: open the feedback form (value: the ticket it is about, or "")
OPEN_FEEDBACK_FORM = "feedback.form"
# buttons that open a dialog (task module) rather than post a click: action id → the key of their value
DIALOG_BUTTONS = {FEEDBACK_FROM_TICKET: "ticket_id", OPEN_FEEDBACK_FORM: "ticket_id", USE_SAVED_REPLY: "ticket_id"}


class Drawn:
    """Text for a card with the mentions it needs (Teams notifies a mentioned person)."""

    def __init__(self) -> None:
        self.mentions: dict[str, str] = {}  # user id → name

    def rich(self, parts: Rich) -> str:
        out = []
        for part in parts:
            if isinstance(part, PersonRef):
                uid = part.id_on(PLATFORM)
                if uid:
                    self.mentions[uid] = part.name
                    out.append(f"<at>{part.name}</at>")
                else:
                    out.append(f"**{part.name}**")
            elif isinstance(part, When):
                # Adaptive Cards localise these in the reader's own time zone
                stamp = part.at.strftime("%Y-%m-%dT%H:%M:%SZ")
                out.append(f"{{{{DATE({stamp},SHORT)}}}} {{{{TIME({stamp})}}}}")
            else:
                out.append(str(part))
        return "".join(out)

    def entities(self) -> list[dict]:
        return [{"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": uid, "name": name}}
                for uid, name in self.mentions.items()]


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(text: str, **style) -> dict:
    """Markdown: only for Pitchin's own words and mentions (<at>…</at> works only in a TextBlock)."""
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


# TextRun properties; the rest (spacing, separator) belong to the RichTextBlock around the runs
_RUN_STYLE = {"color", "fontType", "isSubtle", "italic", "size", "weight"}


def _verbatim(*runs: tuple[str, dict], **style) -> dict:
    """Text shown exactly as written: a TextBlock reads markdown ("[Pay here](https://…)" would become a
    link with a hidden address), a RichTextBlock's TextRuns do not. For what a customer wrote."""
    run_style = {k: v for k, v in style.items() if k in _RUN_STYLE}
    block_style = {k: v for k, v in style.items() if k not in _RUN_STYLE}
    inlines = [{"type": "TextRun", "text": text, **run_style, **extra} for text, extra in runs]
    return {"type": "RichTextBlock", "inlines": inlines, **block_style}


def _words(text: str, **style) -> dict:
    """A neutral text (a Reply, a delivery note, a refusal) shown literally: it may quote a customer,
    a subject or a mail server's answer, so it is never read as markdown."""
    return _verbatim((_clip(text), {}), **style)


def _field(label: str, value: Rich, drawn: Drawn) -> dict:
    if all(isinstance(part, str) for part in value):  # the customer's own words (sender, file names)
        return _verbatim((f"{label}: ", {"weight": "Bolder"}), ("".join(value), {}), spacing="None")
    # a person (mentioned) or a time (localised by the client): markup of ours, in a TextBlock
    return _text(f"**{label}:** {drawn.rich(value)}", spacing="None")


def button_data(b: Button) -> dict:
    if b.action_id in DIALOG_BUTTONS:
        data = {"msteams": {"type": "task/fetch"}, "action": b.action_id}
        if b.value.isdigit():
            data[DIALOG_BUTTONS[b.action_id]] = int(b.value)
        return data
    kind = b.action_id.partition(".")[0]
    # a text action's value goes back exactly as given ("3:1", "007"); a ticket or reply id is a number
    exact = b.action_id in registry.TEXT_ACTIONS or not b.value.isdigit()
    return {"action": b.action_id, f"{kind}_id": b.value if exact else int(b.value)}


def action(b: Button) -> dict:
    submit = {"type": "Action.Submit", "title": b.label, "data": button_data(b)}
    if b.style in STYLE:
        submit["style"] = STYLE[b.style]
    if not b.confirm:
        return submit
    return {"type": "Action.ShowCard", "title": b.label,
            "card": {"type": "AdaptiveCard", "body": [_words(b.confirm)], "actions": [submit]}}


def _card(body: list[dict], actions: list[dict], drawn: Drawn) -> dict:
    card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body,
            "msteams": {"width": "Full"}}
    if actions:
        card["actions"] = actions
    if drawn.mentions:
        card["msteams"]["entities"] = drawn.entities()
    return card


def ticket_card(card: Card) -> dict:
    drawn = Drawn()
    # the subject, the sender and the message are the customer's: shown verbatim, never as markdown
    body = [_verbatim((card.title, {}), weight="Bolder", size="Medium")]
    body += [_field(label, value, drawn) for label, value in card.fields]
    if card.body:
        body.append(_verbatim((_clip(card.body), {}), separator=True))
    if card.body_truncated:
        body.append(_text("The full message is in the replies.", isSubtle=True, size="Small"))
    if card.status:
        body.append(_text(drawn.rich(card.status), color=ACCENT.get(card.accent, "Default"), weight="Bolder",
                          separator=True))
    return _card(body, [action(b) for b in card.actions], drawn)


def reply_card(reply: Reply, to: tuple[str, str] | None = None, image_url: str | None = None) -> dict:
    """What a person is told (their reply's Undo note, a refusal, a list …), addressed to them by mention.
    A Rich reply (the core's words around people) is a TextBlock, for its mentions; a text reply may
    hold anything a customer wrote, so it is a TextRun under the mention. ``image_url``: a picture
    under the words (the stats chart), which Teams fetches from there."""
    drawn = Drawn()
    to_them = ""
    if to is not None:
        drawn.mentions[to[0]] = to[1]
        to_them = f"<at>{to[1]}</at>"
    if reply.rich:
        body = [_text(_clip(f"{to_them} {drawn.rich(reply.rich)}".strip()))]
    else:
        body = ([_text(to_them)] if to_them else []) + [_words(reply.text, spacing="None")]
    if image_url:
        alt = reply.text.splitlines()[0] if reply.text else "Chart"
        body.append({"type": "Image", "url": image_url, "altText": _clip(alt, 250), "size": "Stretch",
                     "spacing": "Medium"})
    return _card(body, [action(b) for b in reply.actions], drawn)


def delivery_card(mark: DeliveryMark) -> dict:
    """A reply's Undo note, redrawn once the reply went out (or could not): no more Undo. The words
    may quote the customer's mail server, so they are shown literally."""
    return _card([_words(mark.text or DEFAULT_MARKS[mark.state])], [], Drawn())


DEFAULT_MARKS = {
    "sent": "✅ Sent to the customer.",
    "recovered": "✅ Sent to the customer after all.",
    "failed": "⚠️ Not delivered to the customer yet. Pitchin keeps trying.",
    "gave_up": "⚠️ Not delivered to the customer. Pitchin gave up.",
}


def card_activity(content: dict, summary: str) -> Activity:
    return Activity(type=ActivityTypes.message, summary=_clip(summary, 250),
                    attachments=[Attachment(content_type=CARD_TYPE, content=content)])


def ticket_activity(card: Card) -> Activity:
    who = next((plain(v) for label, v in card.fields if label == "From"), "")
    return card_activity(ticket_card(card), f"{card.title} — from {who}" if who else card.title)


def text_activity(text: str) -> Activity:
    """A plain message in a thread: customer text is shown as written, no markup or mentions."""
    return Activity(type=ActivityTypes.message, text=_clip(text), text_format="plain")


# ---------------------------------------------------------------- feedback: the form and its dialog

FORM_TITLE = "Log customer feedback"
FORM = "feedback"  # the form's own submit data: {"form": "feedback", "ticket_id": 7} plus its inputs
CLOSE = "close"  # {"form": "close"}: the Done button of a dialog, which closes it
IMPORTANCE_TITLES = {"nice to have": "Nice to have", "important": "Important", "blocker": "Blocker"}


def _input(kind: str, id_: str, label: str, value: str = "", **extra) -> dict:
    return {"type": kind, "id": id_, "label": label, "value": value, **extra}


def feedback_form(draft: Draft, error: str = "") -> dict:
    """The feedback form: what the customer wants (required), customers, department, importance, quote."""
    body: list[dict] = []
    if error:
        body.append(_words(error, color="Attention", weight="Bolder"))
    if draft.ticket_id:
        body.append(_text(f"From ticket #{draft.ticket_id}: its customer is filled in.", isSubtle=True, size="Small"))
    body += [
        _input("Input.Text", "text", "What does the customer want?", draft.text, isRequired=True,
               errorMessage="Say what the customer wants.", placeholder="e.g. Export invoices to CSV"),
        _input("Input.Text", "customers", "Customers (emails or names, comma separated)",
               customers_field(draft.customers), placeholder="carol@example.com, Dan Smith"),
        _input("Input.Text", "department", "Department", draft.department, placeholder="e.g. Billing"),
        _input("Input.ChoiceSet", "importance", "Importance", draft.importance, style="compact",
               placeholder="How much does it matter to them?",
               choices=[{"title": IMPORTANCE_TITLES.get(i, i), "value": i} for i in IMPORTANCE]),
        _input("Input.Text", "quote", "Quote (the customer's own words)", draft.quote, isMultiline=True),
    ]
    data: dict = {"form": FORM}
    if draft.ticket_id:
        data["ticket_id"] = draft.ticket_id
    submit = {"type": "Action.Submit", "title": "Log feedback", "style": "positive", "data": data}
    return _card(body, [submit], Drawn())


def dialog_card(reply: Reply) -> dict:
    """What a dialog shows after a submit: the words, the reply's buttons (Add to #3, Create new), Done."""
    done = {"type": "Action.Submit", "title": "Done" if reply.ok and not reply.actions else "Cancel",
            "data": {"form": CLOSE}}
    color = {} if reply.ok else {"color": "Attention"}
    return _card([_words(reply.text, **color)], [action(b) for b in reply.actions] + [done], Drawn())


def dialog(card: dict, title: str = FORM_TITLE, height: str = "large") -> TaskModuleContinueResponse:
    """A dialog (task module) showing ``card``: the answer to task/fetch, task/submit and a message action."""
    return TaskModuleContinueResponse(value=TaskModuleTaskInfo(
        title=title, height=height, width="medium", card=Attachment(content_type=CARD_TYPE, content=card)))


def task_response(task: TaskModuleContinueResponse | None) -> dict | None:
    """An invoke response body for task/fetch and task/submit (None closes the dialog)."""
    return None if task is None else serializer_helper(TaskModuleResponse(task=task))


def action_response(task: TaskModuleContinueResponse | None) -> dict | None:
    """The same for a message action's composeExtension/fetchTask and composeExtension/submitAction."""
    return None if task is None else serializer_helper(MessagingExtensionActionResponse(task=task))


# ---------------------------------------------------------------- feedback: the CSV export

FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"


def csv_activity(intro: str, content: str, limit: int = TEXT_LIMIT // 2) -> Activity:
    """The CSV as plain text (exactly as written, no markdown) in a channel, where a bot cannot hand over
    a file; cut at a line when it is long."""
    if len(content) > limit:
        cut = content[:limit].rpartition("\n")[0]
        rest = content[len(cut):].strip("\n").count("\n") + 1
        content = f"{cut}\n… {rest} more row{'s' if rest != 1 else ''}: get the whole file in a personal chat."
    return Activity(type=ActivityTypes.message, text=f"{intro}\n\n{content}", text_format="plain")


def file_consent_activity(name: str, size: int, description: str, context: dict) -> Activity:
    """In a personal chat: ask to put the file in the person's OneDrive (Teams' file consent card)."""
    content = {"description": description, "sizeInBytes": size, "acceptContext": context, "declineContext": context}
    return Activity(type=ActivityTypes.message, summary=description,
                    attachments=[Attachment(content_type=FILE_CONSENT, name=name, content=content)])


def file_info_activity(upload: dict) -> Activity:
    """The uploaded file, as a card that opens it (after the person allowed the upload)."""
    attachment = Attachment(content_type=FILE_INFO, name=upload.get("name"), content_url=upload.get("contentUrl"),
                            content={"uniqueId": upload.get("uniqueId"), "fileType": upload.get("fileType")})
    return Activity(type=ActivityTypes.message, attachments=[attachment])
