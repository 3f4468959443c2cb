"""A start that fails on the machine says so in one line, exit code 2, no traceback: a busy port, a
database that cannot be reached (refused, or a server that never answers), an SQLite file that cannot
be written. The real `pitchin serve` in a subprocess, as an admin runs it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from bot.config import ENV_NAMES

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This environment without any Pitchin setting of the caller's, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES.values()}
    env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'pitchin.db'}", **settings})
    return env


def serve(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=serve_env(tmp_path, **settings),
                          capture_output=True, text=True, timeout=60)


def one_line_refusal(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Pitchin cannot start: ")
    return lines[0]


async def test_a_second_serve_on_the_same_port_says_the_port_is_in_use(tmp_path):
    port = str(free_port())
    log = tmp_path / "first.log"
    first = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=serve_env(tmp_path, PORT=port),
                             stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            while True:
                assert first.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the first pitchin serve did not come up:\n" + log.read_text()
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)

        line = one_line_refusal(await asyncio.to_thread(serve, tmp_path, PORT=port))
        assert line == (f"Pitchin cannot start: port {port} on 127.0.0.1 is in use (another pitchin serve?): "
                        f"stop it or set PORT to a free port")
        assert first.poll() is None  # the first one goes on serving
    finally:
        first.terminate()
        first.wait(20)


def test_postgresql_on_a_closed_port_is_one_line(tmp_path):
    port = free_port()  # nothing listens there
    line = one_line_refusal(serve(tmp_path, PORT="0", DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"))
    assert line == (f"Pitchin cannot start: cannot connect to the database at 127.0.0.1:{port} (connection refused): "
                    f"start it or correct the host and port in DATABASE_URL; `pitchin doctor` checks it")


def test_a_database_server_that_never_answers_is_given_up_after_the_connect_timeout(tmp_path):
    # the kernel accepts the connection, nobody answers: without a connect timeout libpq waits for ever
    # (the subprocess's own 60-second timeout would fail this test)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        line = one_line_refusal(serve(tmp_path, PORT="0",
                                      DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"))
    assert line.startswith(f"Pitchin cannot start: cannot connect to the database at 127.0.0.1:{port} (")
    assert "timeout" in line and line.endswith("start it or correct the host and port in DATABASE_URL; "
                                               "`pitchin doctor` checks it")


def test_an_sqlite_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    path = tmp_path / "a-file" / "data" / "pitchin.db"
    line = one_line_refusal(serve(tmp_path, PORT="0", DATABASE_URL=f"sqlite:///{path}"))
    assert line == (f"Pitchin cannot start: cannot write the SQLite database {path} (Not a directory): its folder "
                    f"{path.parent} must exist or be creatable, and be writable by this user; choose another path "
                    f"in DATABASE_URL, e.g. sqlite:///pitchin.db")


def test_an_sqlite_file_in_a_read_only_folder_is_one_line(tmp_path):
    if os.geteuid() == 0:  # root writes through file modes; /proc refuses new files to everyone
        folder = Path("/proc")
    else:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
    path = folder / "pitchin.db"
    line = one_line_refusal(serve(tmp_path, PORT="0", DATABASE_URL=f"sqlite:///{path}"))
    assert line == (f"Pitchin cannot start: cannot write the SQLite database {path} (unable to open database "
                    f"file): its folder {folder} must exist or be creatable, and be writable by this user; choose "
                    f"another path in DATABASE_URL, e.g. sqlite:///pitchin.db")
    assert not path.exists()
