"""SQLModel tables. Every change here comes with an Alembic migration in storage/migrations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from storage.types import utcnow


class Person(SQLModel, table=True):
    """An employee, whatever platforms they use."""

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = ""
    email: Optional[str] = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Identity(SQLModel, table=True):
    """A person's account on one platform."""

    __table_args__ = (UniqueConstraint("platform", "tenant", "user_id", name="uq_identity_account"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    platform: str
    tenant: str = ""
    user_id: str
    person_id: int = Field(foreign_key="person.id", index=True)


class Ticket(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    subject: str
    customer_email: str = Field(index=True)
    customer_name: str = ""
    source: str = "email"  # "email" or "web"
    reply_url: Optional[str] = None
    external_id: Optional[str] = None
    status: str = Field(default="open", index=True)  # "open" or "closed"
    claimed_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    closed_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    last_customer_at: datetime = Field(default_factory=utcnow)
    # when it was last closed (None while open): the survey waits PITCHIN_SURVEY_DELAY_HOURS from here,
    # and `stats` measures time to close up to here
    closed_at: Optional[datetime] = Field(default=None, index=True)


class TicketMessage(SQLModel, table=True):
    """One message of a ticket's conversation: the customer's, an employee's reply, or a note."""

    __tablename__ = "ticket_message"
    id: Optional[int] = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    # "customer", "reply" (to the customer), "note" (internal), "auto" (an automatic mail from the
    # customer's side, RFC 3834: kept in the thread, never answered)
    kind: str
    author_person_id: Optional[int] = Field(default=None, foreign_key="person.id")
    text: str = ""
    # Idempotency: "email:<Message-ID>", "web:<external_id>", "slack:<channel>:<ts>"
    external_key: Optional[str] = Field(default=None, unique=True)
    email_message_id: Optional[str] = Field(default=None, index=True)  # for mail threading
    attachments: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    # an Authentication-Results header of the customer's mail said dmarc=fail: shown on the card
    dmarc_failed: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False,
                                                               server_default=false()))
    # the chat message this came from (employee replies and notes): platform/tenant/channel/message_id/thread_id
    chat_ref: Optional[dict] = Field(default=None, sa_column=Column(JSON, nullable=True))
    # replies only: Pitchin's own note about the reply (the Undo card on Teams), redrawn as it is delivered
    receipt_ref: Optional[dict] = Field(default=None, sa_column=Column(JSON, nullable=True))
    # replies only: "pending" → "sent" | "cancelled" | "failed"
    delivery_state: Optional[str] = None
    delivery_error: Optional[str] = None
    delivery_job_id: Optional[int] = None  # the outbox job carrying it, so Undo can cancel it
    delivered_at: Optional[datetime] = None
    created_at: datetime = Field(default_factory=utcnow)


class ThreadAnchor(SQLModel, table=True):
    """Where a ticket lives on a platform: its root message and thread."""

    __tablename__ = "thread_anchor"
    __table_args__ = (
        UniqueConstraint("platform", "tenant", "channel", "thread_id", name="uq_anchor_thread"),
        UniqueConstraint("ticket_id", "platform", name="uq_anchor_ticket_platform"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    platform: str
    tenant: str = ""
    channel: str
    thread_id: str
    created_at: datetime = Field(default_factory=utcnow)


class OutboxJob(SQLModel, table=True):
    """A durable piece of outside work: a chat post, a reaction, a reply to a customer.

    Jobs with the same ordering_key run one at a time, in id order.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_ready", "state", "run_after"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    ordering_key: Optional[str] = Field(default=None, index=True)
    state: str = "pending"  # "pending", "done", "cancelled", "failed"
    run_after: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    leased_until: Optional[datetime] = None
    lease_owner: Optional[str] = None
    last_error: Optional[str] = None
    created_at: datetime = Field(default_factory=utcnow)
    done_at: Optional[datetime] = None


class Setting(SQLModel, table=True):
    """Small pieces of state that must survive a restart (a Teams channel reference, …)."""

    key: str = Field(primary_key=True)
    value: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class SuggestionCard(SQLModel, table=True):
    """One product suggestion; every customer who asked for it is on it (through its requests)."""

    __tablename__ = "suggestion_card"
    id: Optional[int] = Field(default=None, primary_key=True)
    title: str
    status: str = Field(default="new", index=True)  # new, planned, in_progress, shipped, declined
    department: str = ""
    created_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    merged_into_id: Optional[int] = Field(default=None, foreign_key="suggestion_card.id")
    announcement: Optional[str] = None  # the message customers got when it shipped or was declined
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SuggestionRequest(SQLModel, table=True):
    """One time someone asked for a card's suggestion: who, in their words, logged by whom."""

    __tablename__ = "suggestion_request"
    id: Optional[int] = Field(default=None, primary_key=True)
    card_id: int = Field(foreign_key="suggestion_card.id", index=True)
    text: str
    quote: str = ""
    customer_email: Optional[str] = Field(default=None, index=True)
    customer_name: str = ""
    importance: str = ""
    department: str = ""
    ticket_id: Optional[int] = Field(default=None, foreign_key="ticket.id")
    logged_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)


class SuggestionVector(SQLModel, table=True):
    """A request's embedding by one model, kept so that a restart does not embed every request again.

    ``vector`` is the embedding as little-endian float16 (half the size; cosines move by < 1e-3).
    Vectors of two models are never compared: the index reads only its own model's."""

    __tablename__ = "suggestion_vector"
    request_id: int = Field(foreign_key="suggestion_request.id", primary_key=True)
    model: str = Field(primary_key=True, max_length=200)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SuggestionVersion(SQLModel, table=True):
    """One row (id 1): the version of the suggestion data, raised by every transaction that changes a
    card or its requests (``repos.suggestions_changed``).

    On PostgreSQL the raise (``UPDATE … SET version = version + 1``) locks this row until the
    transaction ends, so writers take versions one after another in commit order: whoever reads
    version v also sees every change numbered v or lower, whatever order the changes' ids came in."""

    __tablename__ = "suggestion_version"
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = Field(sa_column=Column(BigInteger, nullable=False))


class SuggestionChange(SQLModel, table=True):
    """The version at which a card (its title, status, merge or requests) last changed: an index that
    has seen version v re-reads exactly the cards changed after v. No foreign key, so that a removed
    card's row can still say it is gone."""

    __tablename__ = "suggestion_change"
    card_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class SuggestionNotice(SQLModel, table=True):
    """A customer (or an employee who logged a request) told of a card's outcome, at most once."""

    __tablename__ = "suggestion_notice"
    __table_args__ = (UniqueConstraint("card_id", "recipient", "outcome", name="uq_notice_once"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    card_id: int = Field(foreign_key="suggestion_card.id", index=True)
    recipient: str  # "customer:<email>", "webhook:<url>", "person:<id>"
    outcome: str  # "shipped" or "declined"
    created_at: datetime = Field(default_factory=utcnow)


class FeedbackDraft(SQLModel, table=True):
    """Feedback being logged, kept while the person picks a similar card or "Create new"."""

    __tablename__ = "feedback_draft"
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    used: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class ScheduledRun(SQLModel, table=True):
    """One run of a scheduled job for one period (``period_key``, e.g. "2026-11-30T09:00:00Z").

    The row is written in the same transaction as the job's own writes, and the pair is unique: a
    period runs once, whichever process leads and however briefly two believe they do."""

    __tablename__ = "scheduled_run"
    __table_args__ = (UniqueConstraint("job", "period_key", name="uq_scheduled_run_period"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    job: str
    period_key: str
    owner: str = ""  # the process that ran it (host:pid:nonce)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: Optional[datetime] = None


class SchedulerLease(SQLModel, table=True):
    """Which process runs the scheduler, and until when (database time): its holder renews it every
    few seconds; when it stops renewing, the lease runs out and a stand-by takes it."""

    __tablename__ = "scheduler_lease"
    name: str = Field(primary_key=True)
    owner: str
    expires_at: datetime
    acquired_at: datetime


# ---------------------------------------------------------------- support rotations
#
# Times are local wall-clock ("09:00") + an IANA zone, never a UTC start + duration: a shift across a
# DST change still starts at 09:00 local. Dates are local dates in the rotation's zone. Who is on
# duty on a day is computed from these rows (handlers/rotation_schedule.py), never stored per day,
# so an edit takes effect at once.


class Rotation(SQLModel, table=True):
    """One rotation: one person on duty per working day, in a fixed order."""

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    days: str = "mon,tue,wed,thu,fri"  # the working days, comma-separated
    at_time: str = "09:00"  # shift start, local wall-clock
    until_time: str = "17:00"  # shift end, local wall-clock (earlier than at_time: the next day)
    tz: str = "UTC"  # IANA zone
    start_day: date  # the first shift day (local date): the order counts from here
    channel_platform: Optional[str] = None
    channel_id: Optional[str] = None
    usergroup: Optional[str] = None  # a Slack user group id that follows whoever is on duty
    created_by_id: Optional[int] = Field(default=None, foreign_key="person.id")  # the rotation's admin
    created_at: datetime = Field(default_factory=utcnow)


class RotationMember(SQLModel, table=True):
    """A person in a rotation's order, from ``joined_on`` (inserted after ``after_person_id`` in the
    queue of turns, or at its end) until the day before ``left_on``."""

    __tablename__ = "rotation_member"
    id: Optional[int] = Field(default=None, primary_key=True)
    rotation_id: int = Field(foreign_key="rotation.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    joined_on: date
    after_person_id: Optional[int] = Field(default=None, foreign_key="person.id")
    left_on: Optional[date] = None


class RotationOverride(SQLModel, table=True):
    """One day of one rotation that differs from the order: "skip" (nobody, the order waits),
    "cover" (``person_id`` took it from ``replaces_id``; asked, and nobody took it yet, while the two
    are the same person),
    "swap" (``person_id`` and ``replaces_id`` traded shifts; one row per traded day)."""

    __tablename__ = "rotation_override"
    __table_args__ = (UniqueConstraint("rotation_id", "day", name="uq_rotation_override_day"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    rotation_id: int = Field(foreign_key="rotation.id", index=True)
    day: date
    kind: str
    person_id: Optional[int] = Field(default=None, foreign_key="person.id")
    replaces_id: Optional[int] = Field(default=None, foreign_key="person.id")
    created_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)


class RotationAway(SQLModel, table=True):
    """A person on leave from ``first_day`` to ``last_day`` (local dates), in every rotation."""

    __tablename__ = "rotation_away"
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    first_day: date
    last_day: date
    created_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)


class RotationOnboarding(SQLModel, table=True):
    """A new hire on duty alongside the regular person for ``days`` shifts from ``first_day``, then
    in the order at its end."""

    __tablename__ = "rotation_onboarding"
    id: Optional[int] = Field(default=None, primary_key=True)
    rotation_id: int = Field(foreign_key="rotation.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    buddy_id: Optional[int] = Field(default=None, foreign_key="person.id")
    first_day: date
    days: int = 10
    created_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- briefings
#
# A customer message's vector is computed once, when it arrives (the local model, offline), and
# stored here beside the suggestion vectors, so a briefing reads vectors and never waits for a model.


class MessageVector(SQLModel, table=True):
    """The local model's vector of one customer text: a ticket's customer message (``kind``
    "message", ``ref_id`` a TicketMessage id) or a feedback request ("request", a SuggestionRequest
    id). ``model`` names the model (handlers.local_model.ModelFiles.name): vectors of two models are
    never compared."""

    __tablename__ = "message_vector"
    kind: str = Field(primary_key=True, max_length=20)
    ref_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    model: str = Field(primary_key=True, max_length=200)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)  # when the text arrived


class Department(SQLModel, table=True):
    """A department that hears a weekly briefing in its channel (and its managers by DM).
    ``about``: words that steer which issues it hears (empty: the company's top three), with their
    vector; the briefing is due every week on ``weekday`` (0 = Monday) at ``at_time`` in ``tz``."""

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    platform: str
    tenant: str = ""
    channel_id: str
    managers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))  # person ids
    about: str = ""
    about_vector: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    about_model: Optional[str] = None
    weekday: int = 0
    at_time: str = "09:00"
    tz: str = "UTC"
    created_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)


class BriefingIssue(SQLModel, table=True):
    """One issue as a briefing showed it: the week (local Monday of the week it covers), the
    department it was shown to (None: a terminal's or the company's), its centre and figures. The
    "Not ours → …" button carries its id; the next week's issues are matched to these."""

    __tablename__ = "briefing_issue"
    id: Optional[int] = Field(default=None, primary_key=True)
    department_id: Optional[int] = Field(default=None, foreign_key="department.id", index=True)
    week_start: date = Field(index=True)
    label: str = ""
    customers: int = 0
    model: str = Field(max_length=200)
    centroid: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    previous_id: Optional[int] = Field(default=None, foreign_key="briefing_issue.id")  # last week's same issue
    created_at: datetime = Field(default_factory=utcnow)


class IssueRoute(SQLModel, table=True):
    """"Not ours → Billing": issues near ``centroid`` go to ``department_id`` from now on."""

    __tablename__ = "issue_route"
    id: Optional[int] = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    from_department_id: Optional[int] = Field(default=None, foreign_key="department.id")
    issue_id: Optional[int] = Field(default=None, foreign_key="briefing_issue.id")
    label: str = ""
    model: str = Field(max_length=200)
    centroid: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    moved_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- surveys and stats


class Survey(SQLModel, table=True):
    """The satisfaction survey of one ticket (at most one per ticket: ``ticket_id`` is unique).

    The link's token is never stored, only its sha256 (``token_hash``): the outbox job that mails it
    carries the token itself. ``rating`` is "great", "okay" or "not_good"; a second click changes it.
    ``nps_offered``: this survey's page asks the Net Promoter question and "How did you hear about
    us?" (at most once per customer every 90 days); ``nps`` is 0–10."""

    __tablename__ = "survey"
    id: Optional[int] = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", unique=True)
    customer_email: str = Field(index=True)
    customer_name: str = ""
    token_hash: str = Field(unique=True, max_length=64)
    answered_by_id: Optional[int] = Field(default=None, foreign_key="person.id")  # who answered the customer
    email_message_id: Optional[str] = None  # the survey mail's Message-ID, fixed when it is queued
    created_at: datetime = Field(default_factory=utcnow, index=True)  # queued
    sent_at: Optional[datetime] = None
    expires_at: datetime
    rating: Optional[str] = None
    rated_at: Optional[datetime] = Field(default=None, index=True)
    # the mail's rating links were opened one after another within seconds: a mail scanner checking
    # them, not the customer (handlers/survey_answers.py): no rating counts from that burst
    scanned_at: Optional[datetime] = None
    comment: Optional[str] = None
    commented_at: Optional[datetime] = None
    nps_offered: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False,
                                                              server_default=false()))
    nps: Optional[int] = None
    nps_at: Optional[datetime] = Field(default=None, index=True)
    referral: Optional[str] = None  # one of handlers.surveys' REFERRALS, or "other"
    referral_other: Optional[str] = None  # the customer's own words when "other"


class ChartImage(SQLModel, table=True):
    """A stats chart (PNG) served at /charts/<token>.png for platforms that show images by URL
    (Teams cards); deleted after a while. ``token`` is unguessable."""

    __tablename__ = "chart_image"
    token: str = Field(primary_key=True, max_length=64)
    png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)


# ---------------------------------------------------------------- saved replies and AI drafts


class SavedReply(SQLModel, table=True):
    """A saved reply: the team's (``scope`` "team") or one person's own (``scope`` "person:<id>",
    ``owner_id`` that person). Names are unique within a scope, whatever their case (``name_key``).
    ``text`` may hold variables (``{customer.first_name|there}``) and ``[[placeholders]]`` the
    sender fills in (handlers/saved_replies.py). ``removed_at``: removed, kept so that Undo brings it
    back; a new reply that takes its name in its scope deletes it for good."""

    __tablename__ = "saved_reply"
    __table_args__ = (UniqueConstraint("scope", "name_key", name="uq_saved_reply_name"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    scope: str = Field(default="team", max_length=40, index=True)
    owner_id: Optional[int] = Field(default=None, foreign_key="person.id")
    name: str
    name_key: str = Field(max_length=200)
    text: str
    created_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    updated_by_id: Optional[int] = Field(default=None, foreign_key="person.id")
    source_message_id: Optional[int] = Field(default=None, foreign_key="ticket_message.id")  # "Save as reply"
    uses: int = 0  # how often it was offered and sent
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    removed_at: Optional[datetime] = None  # `saved remove`; updated_by_id says who


class SavedReplyExample(SQLModel, table=True):
    """A customer message a saved reply was chosen and sent for ("Use a saved reply"): the reply is
    matched by these as well as by its own words, so it is offered more readily for the next
    customer who asks the same thing in other words (handlers/saved_match.py)."""

    __tablename__ = "saved_reply_example"
    # removing a saved reply removes its examples (saved remove must not be blocked by them)
    saved_reply_id: int = Field(sa_column=Column(Integer, ForeignKey("saved_reply.id", ondelete="CASCADE"),
                                                 primary_key=True))
    ticket_message_id: int = Field(foreign_key="ticket_message.id", primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class SavedReplyUse(SQLModel, table=True):
    """One reply sent with "Use a saved reply": which saved reply it was and which customer message
    became that reply's example, so that taking the reply back (Undo) takes back its use and its
    example too (handlers/saved_match.py ``learn``, storage/repos.py ``withdraw_saved_use``)."""

    __tablename__ = "saved_reply_use"
    reply_id: int = Field(sa_column=Column(Integer, ForeignKey("ticket_message.id"), primary_key=True))
    saved_reply_id: int = Field(sa_column=Column(Integer, ForeignKey("saved_reply.id", ondelete="CASCADE"),
                                                 nullable=False, index=True))
    example_message_id: Optional[int] = Field(default=None, foreign_key="ticket_message.id")
    created_at: datetime = Field(default_factory=utcnow)


class ReplyDraft(SQLModel, table=True):
    """An AI-written draft of a reply, shown only to the person who asked for it, and what became of
    it: ``state`` "shown" → "sent" (as drafted), "edited" (sent after a change), "discarded" (by the
    person) or "stale" (the customer wrote again first). ``after_message_id``: the newest customer
    message the draft answers. ``sources``: the saved replies it drew on ([{id, name}]). ``caution``:
    what it asks the person to check (money, refunds, prices, dates or policy no saved reply covers)."""

    __tablename__ = "reply_draft"
    id: Optional[int] = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    requested_by_id: int = Field(foreign_key="person.id")
    after_message_id: Optional[int] = Field(default=None, foreign_key="ticket_message.id")
    text: str
    sources: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    caution: Optional[str] = None
    model: str = Field(default="", max_length=200)
    state: str = Field(default="shown", max_length=20, index=True)
    sent_text: Optional[str] = None
    reply_id: Optional[int] = Field(default=None, foreign_key="ticket_message.id")  # the reply it became
    created_at: datetime = Field(default_factory=utcnow, index=True)
    decided_at: Optional[datetime] = None
