"""The `pitchin` command: serve, worker, console, doctor, db upgrade, teams-package, brief, stats."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from bot.config import ConfigError, load_settings


SERVE_DESCRIPTION = """\
Run the web server (Slack events, Teams messages, /intake/*, /healthz), the delivery worker
and the scheduler.

Settings come from the environment and from a .env file in the working directory (the
environment wins; see .env.example). The server listens on HOST:PORT, by default
127.0.0.1:3000 (this machine only): set HOST=0.0.0.0 to accept connections from other
machines, as a platform's router or a container needs (the Procfile and the Dockerfile do),
and PORT to the port the platform gives. `pitchin doctor` checks the whole configuration."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pitchin", description="Whole-company support in Slack and Teams.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the web server, the delivery worker and the scheduler",
                           description=SERVE_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--no-scheduler", action="store_true", help="leave scheduled jobs to another process")
    serve.add_argument("--no-worker", action="store_true", help="leave outbox delivery to `pitchin worker` processes")
    worker = sub.add_parser("worker", help="deliver queued posts and replies (and run the scheduler when it is free)")
    # not for everyday use, so not in --help: a job that only gets recorded and logged, every N
    # seconds, to watch which process leads and that each period runs once (the tests use it)
    worker.add_argument("--heartbeat-seconds", type=_period_seconds, default=None, help=argparse.SUPPRESS)
    sub.add_parser("console", help="try Pitchin in the terminal: the terminal is the support channel")
    package = sub.add_parser("teams-package", help="write the Teams app package (zip) to upload in Teams")
    package.add_argument("--out", default="pitchin-teams.zip", help="where to write it (default: %(default)s)")
    brief = sub.add_parser("brief", help="print a week's briefing: the top customer issues (default: the "
                                         "company's, the last 7 days)")
    brief.add_argument("--department", metavar="NAME", help="a department's briefing (its words and moves count)")
    brief.add_argument("--since", metavar="YYYY-MM-DD", type=_day,
                       help="the week's first day (default: the last 7 days up to now)")
    stats = sub.add_parser("stats", help="print how support is doing: satisfaction, NPS, response and close times, "
                                         "who answered (default: the last 30 days)")
    stats.add_argument("window", nargs="?", default="30d", help="7d, 30d or 90d (default: %(default)s)")
    stats.add_argument("--csv", action="store_true",
                       help="print one CSV row per ticket that came in instead (to open in a spreadsheet)")
    stats.add_argument("--chart", metavar="FILE", help="also write the week-by-week chart to FILE (PNG)")
    doctor = sub.add_parser(
        "doctor", help="check the whole configuration: one line per check, with what to do for each ✗",
        description="Check the configuration (.env and the environment) and print one line per check: ✓ right, "
                    "✗ wrong (with what to do), – not configured. It checks the database (connects, migrations "
                    "current), Slack (auth.test with SLACK_BOT_TOKEN, the bot's scopes against manifest.yml, the "
                    "bot is in PITCHIN_SUPPORT_CHANNEL, the Socket Mode token), Teams, SMTP, IMAP, "
                    "PITCHIN_INTAKE_TOKEN, PITCHIN_PUBLIC_URL (https, answers /healthz) and the local model "
                    "(file present, checksum). Exit code 0 when everything needed is ✓, 1 otherwise, "
                    "2 when a setting cannot even be read.")
    doctor.add_argument("--send-to", metavar="ADDRESS",
                        help="also send a test mail to ADDRESS through SMTP_URL (without it no mail is sent)")
    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    db_sub.add_parser("upgrade", help="create or update the tables")
    db_sub.add_parser("current", help="show the schema revision")
    return parser


def _period_seconds(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if seconds < 1:
        raise argparse.ArgumentTypeError(f"“{raw}” is not a number of seconds of at least 1")
    return seconds


def _day(raw: str):
    from datetime import date

    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{raw}” is not a date: write it as 2026-11-23") from None


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # APScheduler logs every job it runs; pitchin.scheduler says what matters
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        # alembic says seven things on every start; bot/app.py logs the one that matters (the revision)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        # matplotlib says "generated new fontManager" into the console on the first chart
        logging.getLogger("matplotlib").setLevel(logging.WARNING)
    if args.command is None:
        parser.print_help()
        sys.exit(2)
    try:
        # only running the bot needs the Teams secret; the package, the console and db commands do not.
        # Placeholders from .env.example stop the bot; `pitchin doctor` shows them as ✗ lines instead.
        running = args.command in ("serve", "worker")
        settings = load_settings(teams_credentials=running, refuse_placeholders=running)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)

    if args.command == "db":
        from bot.start_errors import open_database
        from storage.db import current_revision

        try:
            database = open_database(settings.database_url)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            sys.exit(2)
        if args.db_command == "upgrade":
            database.upgrade()
            print(f"Database {database.engine.url.render_as_string(hide_password=True)} is at revision "
                  f"{current_revision(database.engine)}.")
        elif args.db_command == "current":
            print(current_revision(database.engine) or "empty (run `pitchin db upgrade`)")
        else:
            parser.parse_args(["db", "--help"])
        return
    if args.command == "doctor":
        from bot import doctor

        if not args.verbose:  # alembic's "Context impl …" lines would come between the check lines
            logging.getLogger("alembic").setLevel(logging.WARNING)
        checks = asyncio.run(doctor.run(settings, send_to=args.send_to))
        print(doctor.render(checks))
        sys.exit(doctor.exit_code(checks))
    if args.command == "teams-package":
        _teams_package(settings, Path(args.out))
        return
    try:  # the model folder is read when Pitchin is built: a problem there is refused like a setting
        if args.command == "brief":
            _brief(settings, args.department, args.since)
        elif args.command == "stats":
            _stats(settings, args.window, args.csv, args.chart)
        elif args.command == "console":
            from bot.console import run_console

            asyncio.run(run_console(settings))
        elif args.command == "serve":
            asyncio.run(_run(settings, http=True, worker=not args.no_worker, scheduler=not args.no_scheduler))
        elif args.command == "worker":
            asyncio.run(_run(settings, http=False, worker=True, scheduler=True,
                             heartbeat_seconds=args.heartbeat_seconds))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)


def _brief(settings, department: str | None, since) -> None:
    from bot.app import local_model
    from handlers import briefings
    from handlers.base import Usage
    from handlers.context import Context
    from bot.llm import make_llm_client
    from bot.llm_writer import OpenAIIssueWriter
    from bot.start_errors import open_database

    database = open_database(settings.database_url)  # a StartError is printed by main, exit code 2
    ctx = Context(db=database, local_model=local_model(settings))
    llm = make_llm_client(settings)  # with OPENAI_API_KEY the labels are the model's, marked AI-written
    if llm is not None:
        ctx.writer = OpenAIIssueWriter(llm, settings.openai_model)
    try:
        print(briefings.terminal(ctx, department, since))
    except Usage as exc:
        print(f"pitchin brief: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        database.dispose()


def _stats(settings, window: str, as_csv: bool, chart_file: str | None) -> None:
    from handlers import stats_command, stats_csv
    from handlers.base import Usage
    from handlers.context import Context
    from handlers.stats_text import report_text
    from bot.start_errors import open_database

    try:
        days = stats_command.window_days(window, stats_command.CLI_USAGE)
    except Usage as exc:
        print(f"pitchin stats: {exc}", file=sys.stderr)
        sys.exit(2)
    database = open_database(settings.database_url)  # a StartError is printed by main, exit code 2
    ctx = Context(db=database)
    now = ctx.now()  # one moment for the rows, the words and the chart
    try:
        report = stats_command.report(ctx, days, now) if chart_file or not as_csv else None
        if as_csv:
            sys.stdout.write(stats_csv.export_csv(ctx, days, now))
        else:
            print(report_text(report))
        if chart_file:
            target = Path(chart_file).expanduser()
            try:
                target.write_bytes(stats_command.chart(report))
            except OSError as exc:
                print(f"pitchin stats: could not write the chart to {target}: {exc.strerror or exc}", file=sys.stderr)
                sys.exit(1)
            # on stderr with --csv, so that stdout stays rows only
            print(f"Chart written to {target.resolve()}", file=sys.stderr if as_csv else sys.stdout)
    finally:
        database.dispose()


def _teams_package(settings, out: Path) -> None:
    from bot.teams.package import PLACEHOLDER_SITE, PackageError, build_package

    try:
        written = build_package(settings.microsoft_app_id, out, settings.public_url)
    except PackageError as exc:
        print(f"pitchin teams-package: {exc}", file=sys.stderr)
        sys.exit(2)
    print(f"Wrote {written}: upload it in Teams → Apps → Manage your apps → Upload an app, add it to a team, "
          "then say @Pitchin tickets here in the channel for tickets.")
    if not settings.public_url.startswith("https://"):
        print(f"Note: PITCHIN_PUBLIC_URL is not an https:// address, so the manifest's developer links point at "
              f"{PLACEHOLDER_SITE}; set it to your server's public address and build the package again.")


async def _run(settings, *, http: bool, worker: bool, scheduler: bool, heartbeat_seconds: float | None = None) -> None:
    from bot.app import Pitchin

    if http:  # one descriptor per connection: as many as the system lets this process have
        from bot.http_guard import raise_file_limit

        raise_file_limit()
    pitchin = Pitchin(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:  # a start that fails half-way (a busy port) still closes what it opened
        await pitchin.start(http=http, worker=worker, scheduler=scheduler, heartbeat_seconds=heartbeat_seconds)
        await stop.wait()
    finally:
        await pitchin.stop()
