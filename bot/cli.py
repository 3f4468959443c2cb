"""The `pitchin` command: serve, worker, console, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.config import ConfigError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pitchin", description="Whole-company support in Slack and Teams.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the web server, the delivery worker and the scheduler")
    serve.add_argument("--no-scheduler", action="store_true", help="leave scheduled jobs to another process")
    serve.add_argument("--no-worker", action="store_true", help="leave outbox delivery to `pitchin worker` processes")
    sub.add_parser("worker", help="deliver queued posts and replies (and run the scheduler when it is free)")
    sub.add_parser("console", help="try Pitchin in the terminal: the terminal is the support channel")
    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    db_sub.add_parser("upgrade", help="create or update the tables")
    db_sub.add_parser("current", help="show the schema revision")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        sys.exit(2)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)

    if args.command == "db":
        from storage.db import Database, current_revision

        database = Database(settings.database_url)
        if args.db_command == "upgrade":
            database.upgrade()
            print(f"Database {database.engine.url.render_as_string(hide_password=True)} is at revision "
                  f"{current_revision(database.engine)}.")
        elif args.db_command == "current":
            print(current_revision(database.engine) or "empty (run `pitchin db upgrade`)")
        else:
            parser.parse_args(["db", "--help"])
        return
    if args.command == "console":
        from bot.console import run_console

        asyncio.run(run_console(settings))
        return
    if args.command == "serve":
        asyncio.run(_run(settings, http=True, worker=not args.no_worker, scheduler=not args.no_scheduler))
    elif args.command == "worker":
        asyncio.run(_run(settings, http=False, worker=True, scheduler=True))


async def _run(settings, *, http: bool, worker: bool, scheduler: bool) -> None:
    from bot.app import Pitchin

    pitchin = Pitchin(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await pitchin.start(http=http, worker=worker, scheduler=scheduler)
    try:
        await stop.wait()
    finally:
        await pitchin.stop()
