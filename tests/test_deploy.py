"""The README's deployment, followed: the Procfile's web line run as a Heroku-style platform runs it
(its shell, PORT given, nothing else), reached on every interface; the Dockerfile's and
docker-compose.yml's promises read from the files themselves (`docker compose config` too, where
docker has the compose plugin)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import yaml
from sqlalchemy.engine import make_url

from bot.config import load_settings
from tests.test_start_errors import free_port, serve_env

ROOT = Path(__file__).resolve().parents[1]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def listening_on_every_interface(port: int) -> bool:
    """/proc/net/tcp lists the listening sockets: 0.0.0.0:port in LISTEN (0A), not 127.0.0.1 only."""
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = row.split()[1], row.split()[3]
        if state == "0A" and local == f"00000000:{port:04X}":
            return True
    return False


async def started(proc: subprocess.Popen, port: int, log: Path) -> None:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "pitchin serve did not come up:\n" + log.read_text()
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)


def test_the_procfile_runs_pitchin():
    assert procfile() == {"web": "HOST=0.0.0.0 pitchin serve --no-scheduler", "worker": "pitchin worker"}


async def test_the_procfiles_web_line_listens_on_the_platforms_port_on_every_interface(tmp_path):
    # as Heroku runs a process type: the line through a shell, PORT set by the platform. A .env
    # saying HOST=127.0.0.1 (as older copies of .env.example do) loses to the Procfile's HOST: the
    # environment beats .env
    (tmp_path / ".env").write_text("HOST=127.0.0.1\nPORT=3000\n")
    port = free_port()
    env = serve_env(tmp_path, PORT=str(port))
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"  # where pip put `pitchin`
    log = tmp_path / "web.log"
    web = subprocess.Popen(["sh", "-c", procfile()["web"]], cwd=tmp_path, env=env, stdout=log.open("wb"),
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        await started(web, port, log)
        assert listening_on_every_interface(port), Path("/proc/net/tcp").read_text()
        assert f"listening on http://0.0.0.0:{port} " in log.read_text()
        assert "alembic" not in log.read_text()  # the seven INFO lines are for -v
        assert re.search(r"Database sqlite:///\S+ at revision \w+", log.read_text())
    finally:  # as the platform stops a dyno: SIGTERM to every process of the line's group
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(20)
    assert "Traceback" not in log.read_text()


async def test_serve_with_host_and_port_set_as_a_platform_does_passes_the_dockerfiles_healthcheck(tmp_path):
    port = free_port()
    env = serve_env(tmp_path, PORT=str(port), HOST="0.0.0.0")
    log = tmp_path / "serve.log"
    server = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--no-scheduler"], cwd=tmp_path, env=env,
                              stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        await started(server, port, log)
        assert listening_on_every_interface(port)
        # the Dockerfile's HEALTHCHECK, run as the container runs it (same PORT)
        check = json.loads(dockerfile()["HEALTHCHECK"].split("CMD", 1)[1])
        assert check[0] == "python"
        done = subprocess.run([sys.executable, *check[1:]], env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
    finally:
        server.terminate()
        server.wait(20)
    # and once the server is gone, the same check fails: it tests something
    done = subprocess.run([sys.executable, *check[1:]], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0


def dockerfile() -> dict[str, str]:
    """Each instruction's last occurrence, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found[word.upper()] = (found.get(word.upper(), "") + " " + rest.strip()).strip() \
                if word.upper() in ("ENV", "RUN") else rest.strip()
    return found


def test_the_dockerfile_installs_pitchin_and_serves_on_every_interface_as_a_non_root_user():
    docker = dockerfile()
    assert re.fullmatch(r"python:3\.1[1-9]-slim", docker["FROM"])
    assert "pip install ." in docker["RUN"] and "useradd" in docker["RUN"]
    assert docker["USER"] not in ("root", "0")
    assert json.loads(docker["CMD"]) == ["pitchin", "serve"]
    assert docker["EXPOSE"] == "3000"
    env = dict(pair.split("=", 1) for pair in shlex.split(docker["ENV"]))
    assert env["HOST"] == "0.0.0.0" and env["PORT"] == "3000"
    assert make_url(env["DATABASE_URL"]).database.startswith(docker["WORKDIR"] + "/")  # the data stays in the volume
    assert "/healthz" in docker["HEALTHCHECK"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "*.db"} <= set(ignored)  # no secrets or local data in the image


def compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0


def test_docker_compose_runs_postgresql_a_web_and_a_worker_process():
    if compose_available():  # compose's own validation, where it is installed
        done = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    # and, docker or not, what the README promises of the file
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "web", "worker"}
    assert services["web"]["command"] == ["pitchin", "serve", "--no-scheduler"]
    assert services["worker"]["command"] == ["pitchin", "worker"]
    postgres = services["postgres"]["environment"]
    for name in ("web", "worker"):
        service = services[name]
        assert service["build"] == "." and service["env_file"] == [{"path": ".env", "required": False}]
        assert service["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        assert service["healthcheck"]["test"][0] == "CMD"
        # as compose fills ${POSTGRES_PASSWORD:-pitchin} when the variable is not set
        url = make_url(re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", service["environment"]["DATABASE_URL"]))
        assert url.drivername == "postgresql+psycopg" and url.host == "postgres" and url.port == 5432
        assert url.username == postgres["POSTGRES_USER"] and url.database == postgres["POSTGRES_DB"]
        assert service["environment"]["HOST"] == "0.0.0.0"  # beats a HOST=127.0.0.1 in .env
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "pitchin", "db", "current"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["web"]["ports"] == ["127.0.0.1:3000:3000"]


def test_a_platforms_postgres_url_uses_the_driver_pitchin_ships():
    # Heroku Postgres and most hosts set DATABASE_URL=postgres://…; SQLAlchemy alone would want psycopg2
    for given in ("postgres://u:p@db.example.com:5432/d", "postgresql://u:p@db.example.com:5432/d"):
        assert load_settings({"DATABASE_URL": given}, dotenv=None).database_url == \
            "postgresql+psycopg://u:p@db.example.com:5432/d"
    kept = "postgresql+psycopg://u@h/d"
    assert load_settings({"DATABASE_URL": kept}, dotenv=None).database_url == kept


def test_a_platforms_postgres_url_reaches_the_database(tmp_path, pg_url):
    """A postgres:// URL as a platform gives it, through the real start: no missing driver on the way."""
    given = "postgres://" + pg_url.split("://", 1)[1]
    done = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=tmp_path,
                          env=serve_env(tmp_path, DATABASE_URL=given), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Database postgresql+psycopg://") and "is at revision" in done.stdout


def test_the_readme_quotes_the_procfile_and_runs_pitchin_in_a_virtual_environment():
    readme = (ROOT / "README.md").read_text()
    deploy = readme.split("\n## Deploy\n", 1)[1].split("\n## ", 1)[0]
    quoted = re.search(r"```\n(web: .*?)```", deploy, re.S).group(1)
    assert quoted == (ROOT / "Procfile").read_text()
    run_it = readme.split("\n## Run it", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert run_it.splitlines()[0] == "python3 -m venv .venv && . .venv/bin/activate && pip install -e ."
