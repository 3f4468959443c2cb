"""Nothing reaches a customer but a person's reply: the only code that queues a "customer.reply" job
(handlers.outbound.CUSTOMER_REPLY) is handlers.tickets.answer, the verb every reply goes through
(typed in a thread, sent from an AI draft, or from a saved reply). Read from the source itself, so a
new path cannot slip in unnoticed."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIND = "customer.reply"
NAME = "CUSTOMER_REPLY"  # handlers.outbound's name for the kind


def _functions(tree: ast.AST):
    """(qualified function name, node) for every function, nested ones included."""
    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    yield name, child
                yield from walk(child, name + ".")
            else:
                yield from walk(child, prefix)
    yield from walk(tree, "")


def _mentions_kind(node: ast.AST) -> bool:
    """The kind written out, or by its name (``CUSTOMER_REPLY``, ``outbound.CUSTOMER_REPLY``)."""
    return any((isinstance(n, ast.Constant) and n.value == KIND) or (isinstance(n, ast.Name) and n.id == NAME)
               or (isinstance(n, ast.Attribute) and n.attr == NAME) for n in ast.walk(node))


def queue_sites(source: str, filename: str) -> set[tuple[str, str]]:
    """(file, function) of every call in ``source`` that queues a job (``enqueue``, or an ``OutboxJob``
    made by hand) with the kind "customer.reply" anywhere in its arguments."""
    tree = ast.parse(source, filename)
    owner = {}
    for name, fn in _functions(tree):  # outer functions first: a nested one overwrites its own nodes
        for n in ast.walk(fn):
            owner[id(n)] = name
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called in ("enqueue", "OutboxJob") and _mentions_kind(node):
            found.add((filename, owner.get(id(node), "<module>")))
    return found


def places_that_queue_customer_replies() -> set[tuple[str, str]]:
    found = set()
    for folder in ("handlers", "bot", "storage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            found |= queue_sites(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_every_way_of_queueing_one():
    source = (
        "def a(session):\n    repos.enqueue(session, 'customer.reply', {})\n"
        "class B:\n    def c(self, session):\n        def inner():\n"
        "            session.add(OutboxJob(kind='customer.reply'))\n        inner()\n"
        "def d(session):\n    enqueue(session, kind='customer.reply')\n"
        "def e(session):\n    repos.enqueue(session, 'chat.notice', {})\n"
        "def f(session):\n    repos.enqueue(session, CUSTOMER_REPLY, {})\n"
        "def g(session):\n    session.add(OutboxJob(kind=outbound.CUSTOMER_REPLY))\n"
    )
    assert queue_sites(source, "x.py") == {("x.py", "a"), ("x.py", "B.c.inner"), ("x.py", "d"), ("x.py", "f"),
                                           ("x.py", "g")}


def test_the_kinds_name_is_the_kind():
    from handlers import outbound

    assert getattr(outbound, NAME) == KIND


def test_only_the_reply_verb_queues_a_customer_reply():
    assert places_that_queue_customer_replies() == {("handlers/tickets.py", "answer")}


def test_the_kind_is_written_nowhere_else_but_where_it_is_delivered():
    """The string is written once, as handlers.outbound's CUSTOMER_REPLY; the name is used by the
    reply verb (which queues) and the delivery worker's table of job kinds (which reads jobs, never
    queues them), nowhere else: another variable holding the kind would hide a new path from the
    test above, and it would have to mention the name."""
    written, named = set(), set()
    for folder in ("handlers", "bot", "storage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and node.value == KIND:
                    written.add(str(path.relative_to(ROOT)))
                if (isinstance(node, ast.Name) and node.id == NAME) or (isinstance(node, ast.Attribute)
                                                                          and node.attr == NAME):
                    named.add(str(path.relative_to(ROOT)))
    assert written == {"handlers/outbound.py"}
    assert named == {"handlers/outbound.py", "handlers/tickets.py", "bot/delivery.py"}


def test_the_ai_modules_reach_customers_only_through_the_reply_verb():
    """The AI door code and core call tickets.answer, and nothing that sends on its own."""
    for path in ("handlers/ai_drafts.py", "bot/llm_drafter.py", "bot/slack/ai.py", "bot/teams/ai.py", "bot/console/ai.py"):
        source = (ROOT / path).read_text(encoding="utf-8")
        for forbidden in ("enqueue(", "CustomerChannel", "OutgoingReply", "customer_key", "send_mail", "smtplib"):
            assert forbidden not in source, f"{path} uses {forbidden}"
    assert "tickets.answer(" in (ROOT / "handlers/ai_drafts.py").read_text(encoding="utf-8")
