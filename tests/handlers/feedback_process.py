"""Another Pitchin process on the same database, for tests: `python -m tests.handlers.feedback_process URL`.

It holds a Context of its own (engine, connections, suggestion index) and answers one JSON line on
stdout for each JSON line on stdin, each in a thread of its own so that a request that waits (for a
lock, say) does not hold up the next: {"id", "verb": "log"|"search", "user", "text"} →
{"id", "text", "offered": [card ids offered as heard before]}.
"""

from __future__ import annotations

import json
import sys
import threading

from handlers import feedback
from handlers.base import Actor
from handlers.context import Context
from storage.db import Database


def offered_cards(reply) -> list[int]:
    """The cards a `/feedback` reply offers as "heard before" (none: it filed a new card)."""
    return [int(b.value.split(":")[1]) for b in reply.actions if b.action_id == "feedback.add"]


def main(url: str) -> None:
    ctx = Context(db=Database(url))
    out = threading.Lock()

    def answer(request: dict) -> None:
        if request["verb"] == "log":
            reply = feedback.log(ctx, Actor("test", request["user"], request["user"]), feedback.Draft(request["text"]))
        else:
            reply = feedback.search(ctx, request["text"])
        with out:
            print(json.dumps({"id": request["id"], "text": reply.text, "offered": offered_cards(reply)}), flush=True)

    threads = []
    for line in sys.stdin:
        threads.append(threading.Thread(target=answer, args=(json.loads(line),)))
        threads[-1].start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(sys.argv[1])
