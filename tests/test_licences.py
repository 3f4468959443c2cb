"""No copyleft dependency: Pitchin is MIT, and so must be what `pip install pitchin` brings.

Walks the installed distributions from pitchin's own requirements (runtime only: the `dev` extra is
left out; a requirement's extras are followed, e.g. psycopg[binary]) and reads each one's licence
metadata: License-Expression, the License field and the "License ::" classifiers. A GPL, AGPL or
LGPL licence fails unless the package also offers a non-copyleft one ("MIT OR GPL-2.0"). The
standard library's importlib.metadata reads the same fields pip-licenses does, without a dependency.
"""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

COPYLEFT = re.compile(r"\b(A|L)?GPL|General Public License", re.IGNORECASE)

# Accepted although copyleft, each a decision with its reason (a new one needs the same).
ACCEPTED = {
    # The PostgreSQL driver (DESIGN: "SQLite default + PostgreSQL"), LGPL-3.0-only. Pitchin imports it
    # unmodified through its public API and does not ship it; the LGPL asks nothing of a program
    # that only uses the library, so Pitchin stays MIT. Replacing it with psycopg2 changes nothing
    # (also LGPL); asyncpg (Apache-2.0) would mean a second SQLAlchemy dialect to test.
    "psycopg": "LGPL-3.0-only, used as a library",
    "psycopg-binary": "LGPL-3.0-only: psycopg's compiled build (libpq inside is PostgreSQL-licensed)",
}
# Packages whose metadata says nothing readable about their licence, with what it is.
UNDECLARED: dict[str, str] = {}


def runtime_distributions() -> dict[str, metadata.Distribution]:
    """Every installed distribution `pip install pitchin` needs, by canonical name."""
    found: dict[str, metadata.Distribution] = {}
    extras_seen: dict[str, set[str]] = {}
    todo: list[tuple[str, frozenset[str]]] = [("pitchin", frozenset())]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        if key in found and extras <= extras_seen[key]:
            continue
        found[key] = metadata.distribution(name)
        extras_seen.setdefault(key, set()).update(extras)
        for line in found[key].requires or ():
            requirement = Requirement(line)
            # runtime only: a requirement of an extra counts when that extra is wanted (never "dev" of pitchin)
            if requirement.marker is not None and not any(
                requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            ):
                continue
            todo.append((requirement.name, frozenset(requirement.extras)))
    return found


def licences(dist: metadata.Distribution) -> tuple[list[str], bool]:
    """(the alternatives a user may take the package under, whether anything was declared)."""
    meta = dist.metadata
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return [alt.strip(" ()") for alt in re.split(r"\s+OR\s+", expression)], True
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or () if c.startswith("License ::")]
    # a classifier list of several licences is an offer of each; the License field is one text
    field = (meta.get("License") or "").strip()
    offered = [c for c in classifiers if c != "OSI Approved"] or ([field] if field else [])
    return offered, bool(offered)


def test_no_runtime_dependency_is_copyleft_only():
    dists = runtime_distributions()
    assert {"slack-bolt", "onnxruntime", "botbuilder-core", "psycopg-binary"} <= set(dists)  # the walk works
    assert "pytest" not in dists  # dev tools are not what users install

    copyleft, silent = [], []
    for name, dist in sorted(dists.items()):
        offered, declared = licences(dist)
        if name in ACCEPTED or name in UNDECLARED or name == "pitchin":
            continue
        if not declared:
            silent.append(name)
        elif all(COPYLEFT.search(alternative) for alternative in offered):
            copyleft.append(f"{name} {dist.version}: {' OR '.join(offered)}")
    assert not copyleft, ("Pitchin is MIT: these dependencies are (A/L)GPL only. Replace them, or accept one in "
                          f"ACCEPTED with the reason: {copyleft}")
    assert not silent, ("these dependencies declare no licence in their metadata: look it up and add it to "
                        f"UNDECLARED with what it is: {silent}")


def test_the_check_reads_each_kind_of_licence_metadata():
    """A package declaring GPL through any one field is caught; a dual licence is not."""

    class Fake(metadata.Distribution):
        def __init__(self, text: str):
            self.text = text

        def read_text(self, filename):
            return self.text if filename == "METADATA" else None

        def locate_file(self, path):
            raise NotImplementedError

    def copyleft_only(text: str) -> bool:
        offered, declared = licences(Fake("Metadata-Version: 2.4\nName: x\nVersion: 1\n" + text))
        return declared and all(COPYLEFT.search(alternative) for alternative in offered)

    assert copyleft_only("License-Expression: GPL-3.0-or-later\n")  # html2text, which Pitchin used to need
    assert copyleft_only("Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)\n")
    assert copyleft_only("License: LGPL\n")
    assert copyleft_only("License-Expression: AGPL-3.0-only\n")
    assert not copyleft_only("License-Expression: MIT OR GPL-2.0-only\n")
    assert not copyleft_only("Classifier: License :: OSI Approved :: MIT License\n"
                             "Classifier: License :: OSI Approved :: GNU General Public License (GPL)\n")
    assert not copyleft_only("License-Expression: Apache-2.0 AND MIT\n")
    assert not licences(Fake("Metadata-Version: 2.4\nName: x\nVersion: 1\n"))[1]  # nothing declared
