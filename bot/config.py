"""One frozen Settings object, read from the environment (and a .env file), checked at start."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable and what it is for."""


# variable → what it is for (used in error messages and `pitchin config`)
PURPOSE = {
    "DATABASE_URL": "where Pitchin keeps tickets (SQLAlchemy URL, e.g. sqlite:///pitchin.db or postgresql+psycopg://user@host/db)",
    "HOST": "the address the HTTP server listens on",
    "PORT": "the port the HTTP server listens on",
    "SLACK_BOT_TOKEN": "the Slack bot token (xoxb-…) from OAuth & Permissions",
    "SLACK_SIGNING_SECRET": "the Slack signing secret from Basic Information, used to check that requests come from Slack",
    "SLACK_APP_TOKEN": "a Slack app-level token (xapp-…) with connections:write, to use Socket Mode",
    "SLACK_API_URL": "the Slack Web API base URL",
    "PITCHIN_SUPPORT_CHANNEL": "the Slack channel id (C…) where new tickets are posted",
    "MICROSOFT_APP_ID": "the Teams bot's Microsoft app id (Azure Bot → Configuration); it switches Teams on",
    "MICROSOFT_APP_PASSWORD": "the Teams bot's client secret",
    "MICROSOFT_APP_TENANT_ID": "the Teams bot's tenant (single-tenant bots)",
    "MICROSOFT_APP_TYPE": "MultiTenant, SingleTenant or UserAssignedMSI",
    "MICROSOFT_LOGIN_URL": "the Microsoft login (Entra ID) that `pitchin doctor` asks for a Bot Framework token with "
                           "MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD; change it only for tests",
    "PITCHIN_TEAMS": "switches Teams on without MICROSOFT_APP_ID (1/true), for local use: /api/messages is then unauthenticated",
    "SMTP_URL": "the mail server replies to customers go through (smtp://user:pass@host:587?starttls=true)",
    "PITCHIN_FROM_EMAIL": "the From address of replies to customers",
    "PITCHIN_MAILDIR": "where replies are written as .eml files when SMTP_URL is not set",
    "IMAP_URL": "a mailbox to poll for customer email (imaps://user:pass@host/INBOX)",
    "PITCHIN_INTAKE_TOKEN": "the bearer token your mail gateway or web form sends to /intake/*",
    "PITCHIN_WEBHOOK_SECRET": "the key that signs replies POSTed to a web-form ticket's reply_url",
    "PITCHIN_WEBHOOK_ALLOW": "the hosts, IP addresses and CIDR networks a reply_url may reach although they are "
                             "not public, comma-separated (e.g. hooks.internal,10.0.0.0/8,::1); listed hosts may "
                             "also use plain http",
    "PITCHIN_UNDO_SECONDS": "how long an employee can take back a reply before it goes to the customer",
    "PITCHIN_PUBLIC_URL": "this server's public base URL (https://support.example.com): the links in satisfaction "
                          "surveys and the stats chart in Teams point there",
    "PITCHIN_SURVEYS": "whether customers get a satisfaction survey after a ticket they were answered on closes "
                       "(on/off)",
    "PITCHIN_SURVEY_DELAY_HOURS": "how many hours a ticket must stay closed before its survey goes out",
    "PITCHIN_SURVEY_DAYS": "the fewest days between two surveys to the same customer",
    "PITCHIN_ESCALATE_MINUTES": "how many working minutes (inside the rotations' shifts) a ticket may stay unclaimed "
                                "before the person on duty is sent it; twice that and the support channel is told",
    "PITCHIN_MODEL_DIR": "a folder with your own copy of the local similarity model, used instead of the bundled "
                         "one: model.onnx (an ONNX export of sentence-transformers/all-MiniLM-L6-v2) and its "
                         "tokenizer.json",
    "PITCHIN_MODEL_SHA256": "the sha256 of PITCHIN_MODEL_DIR's model.onnx: any other file is refused",
    "OPENAI_API_KEY": "an OpenAI key for optional AI features",
    "OPENAI_BASE_URL": "an OpenAI-compatible API base URL",
    "PITCHIN_OPENAI_MODEL": "the OpenAI chat model that writes reply drafts, thread summaries and the label and "
                            "two-sentence summary of each briefing issue when OPENAI_API_KEY is set",
    "PITCHIN_OPENAI_EMBEDDING_MODEL": "the OpenAI embeddings model that finds similar suggestions when OPENAI_API_KEY is set",
}


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///pitchin.db"
    host: str = "127.0.0.1"
    port: int = 3000
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    support_channel: str = ""
    microsoft_app_id: str = ""
    microsoft_app_password: str = ""
    microsoft_app_tenant_id: str = ""
    microsoft_app_type: str = "MultiTenant"
    microsoft_login_url: str = "https://login.microsoftonline.com"
    teams: bool = False  # PITCHIN_TEAMS: Teams without an app id (local, unauthenticated)
    smtp_url: str = ""
    from_email: str = ""
    maildir: str = "maildir"
    imap_url: str = ""
    intake_token: str = ""
    webhook_secret: str = ""
    webhook_allow: str = ""  # PITCHIN_WEBHOOK_ALLOW as written; bot.inbox.addresses.AllowList reads it
    undo_seconds: float = 10.0
    public_url: str = ""
    surveys: bool = True  # PITCHIN_SURVEYS
    survey_delay_hours: float = 24.0
    survey_days: int = 30
    escalate_minutes: int = 30
    model_dir: str = ""  # PITCHIN_MODEL_DIR: empty for the bundled local model
    model_sha256: str = ""
    openai_api_key: str = ""
    openai_base_url: str = ""
    openai_model: str = "gpt-4o-mini"  # PITCHIN_OPENAI_MODEL: the chat model (briefing labels)
    openai_embedding_model: str = "text-embedding-3-small"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id) or self.teams

    @property
    def teams_authenticated(self) -> bool:
        return bool(self.microsoft_app_id)

    @property
    def slack_socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def mail_domain(self) -> str:
        return self.from_email.rpartition("@")[2] or "pitchin.invalid"


ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "host": "HOST",
    "port": "PORT",
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_api_url": "SLACK_API_URL",
    "support_channel": "PITCHIN_SUPPORT_CHANNEL",
    "microsoft_app_id": "MICROSOFT_APP_ID",
    "microsoft_app_password": "MICROSOFT_APP_PASSWORD",
    "microsoft_app_tenant_id": "MICROSOFT_APP_TENANT_ID",
    "microsoft_app_type": "MICROSOFT_APP_TYPE",
    "microsoft_login_url": "MICROSOFT_LOGIN_URL",
    "teams": "PITCHIN_TEAMS",
    "smtp_url": "SMTP_URL",
    "from_email": "PITCHIN_FROM_EMAIL",
    "maildir": "PITCHIN_MAILDIR",
    "imap_url": "IMAP_URL",
    "intake_token": "PITCHIN_INTAKE_TOKEN",
    "webhook_secret": "PITCHIN_WEBHOOK_SECRET",
    "webhook_allow": "PITCHIN_WEBHOOK_ALLOW",
    "undo_seconds": "PITCHIN_UNDO_SECONDS",
    "public_url": "PITCHIN_PUBLIC_URL",
    "surveys": "PITCHIN_SURVEYS",
    "survey_delay_hours": "PITCHIN_SURVEY_DELAY_HOURS",
    "survey_days": "PITCHIN_SURVEY_DAYS",
    "escalate_minutes": "PITCHIN_ESCALATE_MINUTES",
    "model_dir": "PITCHIN_MODEL_DIR",
    "model_sha256": "PITCHIN_MODEL_SHA256",
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "openai_model": "PITCHIN_OPENAI_MODEL",
    "openai_embedding_model": "PITCHIN_OPENAI_EMBEDDING_MODEL",
}


def _problem(var: str, what: str) -> str:
    return f"{var} {what}. {var} is {PURPOSE[var]}."


TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}
MAX_ESCALATE_MINUTES = 24 * 60  # a day of working time: later than that is no escalation
MAX_SURVEY_DELAY_HOURS = 24 * 14  # a survey two weeks after the answer asks about something forgotten
MAX_SURVEY_DAYS = 3650
# a chat model's name: gpt-4o-mini, ft:gpt-4o-mini:acme::id, meta-llama/Llama-3.1-8B, llama3.1:8b
MODEL_NAME = re.compile(r"[\w.:/-]{1,100}")
APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI"}


def load_settings(environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env"), *,
                  need_slack: bool = False, teams_credentials: bool = True,
                  refuse_placeholders: bool = False) -> Settings:
    """Read and check every setting. Raises ConfigError listing every problem at once.
    ``teams_credentials=False`` skips the Teams secret checks (building the app package needs only the id).
    ``refuse_placeholders`` refuses the example values of .env.example (`pitchin serve` and `worker`: a copied
    .env.example would otherwise retry against slack.com with "xoxb-..." forever)."""
    env = dict(environ if environ is not None else os.environ)
    if dotenv is not None and dotenv.is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(dotenv).items():
            env.setdefault(key, value or "")

    values: dict = {}
    problems: list[str] = []
    defaults = Settings()
    for f in fields(Settings):
        var = ENV_NAMES[f.name]
        raw = env.get(var)
        if raw is None or raw.strip() == "":
            continue
        raw = raw.strip()
        if f.name == "port":
            if not raw.isdigit() or not 0 <= int(raw) < 65536:
                problems.append(_problem(var, f"is “{raw}”, not a port number (0–65535; 0 picks a free one)"))
                continue
            values[f.name] = int(raw)
        elif f.name == "teams":
            if raw.lower() not in TRUE | FALSE:
                problems.append(_problem(var, f"is “{raw}”; use 1 or true to switch Teams on, 0 or false for off"))
                continue
            values[f.name] = raw.lower() in TRUE
        elif f.name == "surveys":
            if raw.lower() not in TRUE | FALSE:
                problems.append(_problem(var, f"is “{raw}”; use on or off"))
                continue
            values[f.name] = raw.lower() in TRUE
        elif f.name == "survey_delay_hours":
            try:
                values[f.name] = float(raw)
                if not 0 <= values[f.name] <= MAX_SURVEY_DELAY_HOURS:
                    raise ValueError
            except ValueError:
                problems.append(_problem(var, f"is “{raw}”, not a number of hours from 0 to {MAX_SURVEY_DELAY_HOURS}"))
                values.pop(f.name, None)
        elif f.name == "survey_days":
            if not raw.isdigit() or not 0 <= int(raw) <= MAX_SURVEY_DAYS:
                problems.append(_problem(var, f"is “{raw}”, not a whole number of days from 0 to {MAX_SURVEY_DAYS}"))
                continue
            values[f.name] = int(raw)
        elif f.name == "microsoft_app_type":
            if raw.lower() not in APP_TYPES:
                problems.append(_problem(var, f"is “{raw}”; use MultiTenant, SingleTenant or UserAssignedMSI"))
                continue
            values[f.name] = APP_TYPES[raw.lower()]
        elif f.name == "undo_seconds":
            try:
                values[f.name] = float(raw)
                if values[f.name] < 0 or values[f.name] > 600:
                    raise ValueError
            except ValueError:
                problems.append(_problem(var, f"is “{raw}”, not a number of seconds from 0 to 600"))
                values.pop(f.name, None)
        elif f.name == "escalate_minutes":
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_ESCALATE_MINUTES:
                problems.append(_problem(var, f"is “{raw}”, not a whole number of minutes from 1 to "
                                              f"{MAX_ESCALATE_MINUTES}"))
                continue
            values[f.name] = int(raw)
        elif f.name == "database_url":
            values[f.name] = _with_driver(raw)
        else:
            values[f.name] = raw
    settings = Settings(**{**{f.name: getattr(defaults, f.name) for f in fields(Settings)}, **values})

    if settings.slack_enabled or need_slack:
        if not settings.slack_bot_token:
            problems.append(_problem("SLACK_BOT_TOKEN", "is not set"))
        if not settings.slack_socket_mode and not settings.slack_signing_secret:
            problems.append(_problem("SLACK_SIGNING_SECRET", "is not set (needed unless SLACK_APP_TOKEN selects Socket Mode)"))
        if not settings.support_channel:
            problems.append(_problem("PITCHIN_SUPPORT_CHANNEL", "is not set"))
        if settings.slack_app_token and not settings.slack_app_token.startswith("xapp-"):
            problems.append(_problem("SLACK_APP_TOKEN", "does not start with xapp-"))
    if settings.microsoft_app_id and teams_credentials:
        if settings.microsoft_app_type != "UserAssignedMSI" and not settings.microsoft_app_password:
            problems.append(_problem("MICROSOFT_APP_PASSWORD", "is not set, but MICROSOFT_APP_ID is"))
        if settings.microsoft_app_type != "MultiTenant" and not settings.microsoft_app_tenant_id:
            problems.append(_problem("MICROSOFT_APP_TENANT_ID",
                                     f"is not set, but MICROSOFT_APP_TYPE is {settings.microsoft_app_type}"))
    if settings.smtp_url:
        scheme = urlparse(settings.smtp_url).scheme
        if scheme not in ("smtp", "smtps"):
            problems.append(_problem("SMTP_URL", f"starts with “{scheme}://”; use smtp:// or smtps://"))
        if not settings.from_email:
            problems.append(_problem("PITCHIN_FROM_EMAIL", "is not set, but SMTP_URL is"))
    if settings.from_email and "@" not in settings.from_email:
        problems.append(_problem("PITCHIN_FROM_EMAIL", f"is “{settings.from_email}”, not an email address"))
    if settings.imap_url:
        from bot.inbox.imap import parse_imap_url

        if urlparse(settings.imap_url).scheme not in ("imap", "imaps"):
            problems.append(_problem("IMAP_URL", "must start with imap:// or imaps://"))
        else:
            try:
                parse_imap_url(settings.imap_url)
            except ValueError as exc:
                problems.append(f"{exc} IMAP_URL is {PURPOSE['IMAP_URL']}.")
    if urlparse(settings.microsoft_login_url).scheme not in ("http", "https"):
        problems.append(_problem("MICROSOFT_LOGIN_URL", f"is “{settings.microsoft_login_url}”, not an http:// or "
                                                        f"https:// URL"))
    if settings.public_url:
        public = urlparse(settings.public_url)
        if public.scheme not in ("http", "https") or not public.netloc or public.query or public.fragment:
            problems.append(_problem("PITCHIN_PUBLIC_URL", f"is “{settings.public_url}”, not a base URL like "
                                                           "https://support.example.com"))
    if settings.openai_base_url and urlparse(settings.openai_base_url).scheme not in ("http", "https"):
        problems.append(_problem("OPENAI_BASE_URL", f"is “{settings.openai_base_url}”, not an http:// or https:// URL"))
    if not MODEL_NAME.fullmatch(settings.openai_model):
        problems.append(_problem("PITCHIN_OPENAI_MODEL", f"is “{settings.openai_model}”, not a model name (letters, "
                                                         f"digits and . _ - : / only, e.g. gpt-4o-mini)"))
    if settings.webhook_allow:
        from bot.inbox.addresses import AllowList

        try:
            AllowList.parse(settings.webhook_allow)
        except ValueError as exc:
            problems.append(_problem("PITCHIN_WEBHOOK_ALLOW", f"lists {exc}"))
    problems.extend(_model_problems(settings))
    if refuse_placeholders:
        problems.extend(p.problem for p in placeholders(settings))
    if "://" not in settings.database_url:
        problems.append(_problem("DATABASE_URL", f"is “{settings.database_url}”, not a URL"))
    if problems:
        raise ConfigError("Pitchin cannot start:\n  - " + "\n  - ".join(problems))
    return settings


def _with_driver(url: str) -> str:
    """postgres://… (as Heroku and most hosts give it) and postgresql://… name no driver, and
    SQLAlchemy would look for psycopg2; Pitchin ships psycopg 3, so the URL names it."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def _model_problems(settings: Settings) -> list[str]:
    """The model folder must hold both files; its digest is checked when the model is read (bot/app.py)."""
    from handlers.local_model import MODEL_FILE, TOKENIZER_FILE

    problems = []
    if settings.model_sha256 and not re.fullmatch(r"[0-9a-fA-F]{64}", settings.model_sha256):
        problems.append(_problem("PITCHIN_MODEL_SHA256", f"is “{settings.model_sha256}”, not a sha256 (64 hex "
                                                         f"digits, as `sha256sum {MODEL_FILE}` prints)"))
    if settings.model_sha256 and not settings.model_dir:
        problems.append(_problem("PITCHIN_MODEL_SHA256", "is set, but PITCHIN_MODEL_DIR is not (the bundled model "
                                                         "is pinned already)"))
    if settings.model_dir:
        folder = Path(settings.model_dir).expanduser()
        if not folder.is_dir():
            problems.append(_problem("PITCHIN_MODEL_DIR", f"is “{settings.model_dir}”, which is not a folder"))
        else:
            missing = [name for name in (MODEL_FILE, TOKENIZER_FILE) if not (folder / name).is_file()]
            if missing:
                problems.append(_problem("PITCHIN_MODEL_DIR", f"is “{settings.model_dir}”, which has no "
                                                              f"{' and no '.join(missing)}"))
    return problems


# The example values of .env.example (commented ones too): left in a .env, they switch a feature on
# that can never work. Variable → (its example value, what to put there instead).
EXAMPLE_VALUES = {
    "SLACK_BOT_TOKEN": ("xoxb-...", "set it to the Bot User OAuth Token (xoxb-…) from your Slack app's "
                                    "OAuth & Permissions page, or remove it to run without Slack"),
    "SLACK_SIGNING_SECRET": ("...", "set it to the Signing Secret from your Slack app's Basic Information page"),
    "SLACK_APP_TOKEN": ("xapp-...", "set it to an app-level token (xapp-…) with connections:write from your Slack "
                                    "app's Basic Information page, or remove it to receive events over HTTP"),
    "PITCHIN_SUPPORT_CHANNEL": ("C0123456789", "set it to your support channel's id: in Slack, open the channel's "
                                               "details; the id (C…) is at the bottom"),
    "MICROSOFT_APP_ID": ("00000000-0000-0000-0000-000000000000",
                         "set it to the Microsoft App ID from your Azure Bot's Configuration page"),
    "MICROSOFT_APP_PASSWORD": ("...", "set it to a client secret of the bot's app registration "
                                      "(Certificates & secrets)"),
    "MICROSOFT_APP_TENANT_ID": ("...", "set it to your Microsoft Entra tenant id (Azure Bot → Configuration)"),
    "PITCHIN_INTAKE_TOKEN": ("change-me-to-a-long-random-string",
                             "set it to a long random string, e.g. what "
                             "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'` prints"),
    "SMTP_URL": ("smtp://user:password@smtp.example.com:587?starttls=true",
                 "set it to your mail server's address and login, or remove it to write replies to PITCHIN_MAILDIR"),
    "IMAP_URL": ("imaps://user:password@imap.example.com/INBOX",
                 "set it to your support mailbox's address and login, or remove it"),
}


@dataclass(frozen=True)
class Placeholder:
    """A setting still holding an example value: `pitchin serve` refuses it and `pitchin doctor` shows it,
    in the same words."""

    var: str
    value: str
    advice: str

    @property
    def detail(self) -> str:
        return f"is “{self.value}”, the placeholder from .env.example"

    @property
    def problem(self) -> str:
        return f"{self.var} {self.detail}: {self.advice}."


def placeholders(settings: Settings) -> list[Placeholder]:
    """Every setting that holds .env.example's value, or another obvious stand-in ("xoxb-…", "change-me…")."""
    by_var = {var: name for name, var in ENV_NAMES.items()}
    found = []
    for var, (example, advice) in EXAMPLE_VALUES.items():
        switch = ONLY_WITH.get(var)
        if switch is not None and not getattr(settings, by_var[switch]):
            continue  # e.g. the channel's example left behind after SLACK_BOT_TOKEN was removed: unused
        value = str(getattr(settings, by_var[var]))
        if value and (value == example or _looks_like_placeholder(value)):
            found.append(Placeholder(var, value, advice))
    return found


# settings that only matter when another one switches their feature on
ONLY_WITH = {"SLACK_SIGNING_SECRET": "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN": "SLACK_BOT_TOKEN",
             "PITCHIN_SUPPORT_CHANNEL": "SLACK_BOT_TOKEN", "MICROSOFT_APP_PASSWORD": "MICROSOFT_APP_ID",
             "MICROSOFT_APP_TENANT_ID": "MICROSOFT_APP_ID"}


def _looks_like_placeholder(value: str) -> bool:
    # "xoxb-...", "xoxb-…", "…", "change-me", "change-me-please": written to be replaced
    return value.endswith(("...", "…")) or value.lower().startswith("change-me") or value.lower() == "changeme"
