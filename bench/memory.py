"""Idle memory of a real `pitchin serve`, with the local model loaded and, in the same run, without.

Each variant starts its own server (``python -m bot serve``: web, delivery worker, scheduler) on a
free port with SQLite in a temp directory, PITCHIN_INTAKE_TOKEN set and no Slack, Teams, SMTP or
OpenAI. The benchmark waits (polling, with a deadline) until /healthz answers and the suggestion
index's warm-up has logged "Suggestion index ready" (the model is loaded then), posts one customer
email to /intake/email (read by the mail reader's worker processes) and waits until the
message-vectors round has stored that message's vector (the model has run once: onnxruntime has
allocated what a call needs). Then the server is left idle for ``--idle`` seconds and its memory is
read ``--samples`` times, a second apart, from /proc:

* ``main_*``: the server process alone: ``rss`` (VmRSS), ``pss`` and ``uss`` (private pages) from
  /proc/PID/smaps_rollup, ``hwm`` (the peak RSS so far, VmHWM) and ``threads``;
* ``total_*``: the server and every process under it (the mail reader's fork server and its
  workers, multiprocessing's resource tracker): ``total_rss`` counts shared pages once per process,
  ``total_pss`` shares them out, so it is what the instance really uses;
* ``children``: each of those processes' command line and rss/pss/uss.

The baseline (``variant`` "no-model") is the same server through ``bench/_serve_without_model.py``,
which never loads the model and stores zero vectors; ``model_share_mb`` is the difference of the main
processes' RSS. Figures are MB (2^20 bytes), the last sample's; ``main_rss_max_mb`` is the highest of
the samples. ``--env NAME=VALUE`` (repeatable) adds to the server's environment, to try a setting.

    python bench/memory.py                         # both variants, 5 s idle, 3 samples
    python bench/memory.py --variants model --env MALLOC_ARENA_MAX=2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

from _common import INTAKE_TOKEN, AppProcess, bench_mail, clean_env, free_port, workdir

import aiohttp

HERE = Path(__file__).resolve().parent
MB = 1024 * 1024
VARIANTS = {
    "model": [sys.executable, "-m", "bot", "serve"],
    "no-model": [sys.executable, str(HERE / "_serve_without_model.py"), "serve"],
}


# ---------------------------------------------------------------- /proc

def _status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (bytes) and Threads of a process, from /proc/PID/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
        elif name == "Threads":
            values[name] = int(rest)
    return values


def _rollup(pid: int) -> dict[str, int]:
    """Rss, Pss and Uss (private clean + dirty) in bytes from /proc/PID/smaps_rollup (Linux 4.14+)."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[-1] == "kB":
                fields[name] = int(parts[0]) * 1024
    except OSError:
        return {}
    return {"rss": fields.get("Rss", 0), "pss": fields.get("Pss", 0),
            "uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)}


def _descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (children, their children, …), from each process's parent id."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])  # after "pid (comm) state"
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(parents.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(parents.get(child, []))
    return sorted(found)


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    text = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return text if len(text) <= 120 else text[:117] + "..."


def memory_of(pid: int) -> dict:
    main = {**_rollup(pid), **_status(pid)}
    children = []
    for child in _descendants(pid):
        figures = _rollup(child)
        if figures:
            children.append({"pid": child, "cmd": _cmdline(child), **{k: round(v / MB, 1) for k, v in figures.items()}})
    return {
        "main_rss_mb": round(main["VmRSS"] / MB, 1),
        "main_pss_mb": round(main.get("pss", 0) / MB, 1),
        "main_uss_mb": round(main.get("uss", 0) / MB, 1),
        "main_hwm_mb": round(main["VmHWM"] / MB, 1),
        "threads": main["Threads"],
        "processes": 1 + len(children),
        "total_rss_mb": round(main["VmRSS"] / MB + sum(c["rss"] for c in children), 1),
        "total_pss_mb": round(main.get("pss", 0) / MB + sum(c["pss"] for c in children), 1),
        "children": children,
    }


# ---------------------------------------------------------------- one server

async def _poll(what: str, check, app: AppProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.proc.poll() is not None:
            raise RuntimeError(f"the server exited with {app.proc.returncode}:\n{app.log_tail()}")
        if await check():
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{what}: not within {timeout:g} s:\n{app.log_tail()}")


def _vectors(db_path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM message_vector WHERE kind = 'message'").fetchone()[0]
    except sqlite3.Error:  # not created yet, or busy: asked again
        return 0


async def measure(variant: str, idle: float, samples: int, extra_env: dict[str, str], timeout: float) -> dict:
    with workdir("pitchin-memory-") as tmp:
        tmp = Path(tmp)
        db_path = tmp / "pitchin.db"
        port = free_port()
        env = clean_env(DATABASE_URL=f"sqlite:///{db_path}", HOST="127.0.0.1", PORT=str(port),
                        PITCHIN_INTAKE_TOKEN=INTAKE_TOKEN, PYTHONPATH=str(HERE.parent))
        env.update(extra_env)
        app = AppProcess(f"pitchin-{variant}", VARIANTS[variant], env, port, tmp)
        started = time.monotonic()
        await app.start(timeout=timeout)
        try:
            async with aiohttp.ClientSession() as http:
                async def healthy() -> bool:
                    try:
                        async with http.get(f"{app.base}/healthz") as response:
                            return response.status == 200
                    except aiohttp.ClientError:
                        return False

                async def warm() -> bool:
                    return "Suggestion index ready" in app.log_path.read_text(errors="replace")

                await _poll("/healthz answering", healthy, app, timeout)
                await _poll("the suggestion index's warm-up", warm, app, timeout)
                before_mail = memory_of(app.proc.pid)["main_rss_mb"]
                async with http.post(f"{app.base}/intake/email", data=bench_mail(1, f"memory-{variant}"),
                                     headers={"Authorization": f"Bearer {INTAKE_TOKEN}",
                                              "Content-Type": "message/rfc822"}) as response:
                    if response.status != 202:
                        raise RuntimeError(f"intake answered {response.status}: {await response.text()}")

                async def embedded() -> bool:
                    return _vectors(db_path) >= 1

                await _poll("the message's vector stored", embedded, app, timeout)
                ready_seconds = time.monotonic() - started
                await asyncio.sleep(idle)
                readings = []
                for i in range(samples):
                    if i:
                        await asyncio.sleep(1)
                    readings.append(memory_of(app.proc.pid))
            last = readings[-1]
            return {"variant": variant, "env": extra_env, "ready_seconds": round(ready_seconds, 1),
                    "main_rss_before_mail_mb": before_mail,
                    "main_rss_max_mb": max(r["main_rss_mb"] for r in readings), **last}
        finally:
            await app.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="model,no-model", help="comma-separated: model, no-model")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before reading (default %(default)s)")
    parser.add_argument("--samples", type=int, default=3, help="readings, a second apart (default %(default)s)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="added to the server's environment (repeatable)")
    parser.add_argument("--timeout", type=float, default=120.0, help="deadline of each wait (default %(default)s)")
    parser.add_argument("--children", action="store_true", help="print each child process's figures too")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    results = {}
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        if variant not in VARIANTS:
            parser.error(f"unknown variant “{variant}”: use {', '.join(VARIANTS)}")
        result = await measure(variant, args.idle, args.samples, extra, args.timeout)
        results[variant] = result
        shown = result if args.children else {k: v for k, v in result.items() if k != "children"}
        print(json.dumps(shown), flush=True)
    if "model" in results and "no-model" in results:
        print(json.dumps({"model_share_mb": round(results["model"]["main_rss_mb"] - results["no-model"]["main_rss_mb"], 1),
                          "model_share_total_pss_mb": round(results["model"]["total_pss_mb"]
                                                            - results["no-model"]["total_pss_mb"], 1),
                          "load_1m": os.getloadavg()[0]}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
