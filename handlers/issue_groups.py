"""A week's top customer issues: groups of similar messages, ranked by how many customers wrote.

``top_issues(vectors, customer_keys, k=3)`` takes one vector per customer message of the week (the
local model's, stored when the message arrived: nothing here calls a model) and the customer of each
message, and returns the ``k`` issues that the most distinct customers wrote about, each with its
member indexes, its number of distinct customers and its most central message (the briefing's
label when no language model writes one). ``group_messages`` groups a whole history at once.

The grouping (chosen on banking77 with tuning seeds 1–3, reported on seed 0; bench/briefing.py,
bench/BRIEFING.md):

1. Centre on the week's own mean, then normalise: what every message of the week shares (the
   product, the tone of a support request) stops counting as similarity.
2. Densest neighbourhood first: every message's neighbourhood is the messages within cosine
   ``radius`` of it; the message whose neighbourhood holds the most customers (a customer's
   messages together weigh one) seeds an issue. The issue is recentred once: its members are the
   remaining messages within ``radius`` of the seed neighbourhood's normalised mean. They leave
   the pool and the next issue is sought among the rest, so one loud topic cannot fill the top
   three. Issues are returned by distinct customers, most first.

This beat average-linkage clustering at its best threshold (bench/BRIEFING.md: what was tried
and what did not work). Weeks larger than ``sample`` messages choose their seeds from an evenly
spread, fixed sample of that size (the neighbourhood counts of 10,000 messages would need a
10,000² matrix); members and customers are still counted over every message.

``group_messages`` (every message of a history, not a week's three loudest) is average linkage at
the same radius: over all of banking77 it agrees with the intents far better than the greedy
groups do (NMI 0.83 / ARI 0.51 against 0.70 / 0.25), while on weeks the greedy finds the top
three more often (bench/BRIEFING.md).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

RADIUS = 0.45  # cosine after centring; bench/BRIEFING.md has the sweep
SAMPLE = 4000  # seeds are chosen among at most this many messages: a 4000² matrix is 64 MB
MAX_GROUPED = 10_000  # group_messages' n × n float32 matrix: 400 MB at most
PLAIN_RADIUS = 0.6  # plain cosine, with no history to centre on (bench/BRIEFING.md's sweep)
WEEK = "week"  # top_issues' centre: the week's own mean
MIN_HISTORY = 200  # earlier messages needed before their mean is the centre (else the week's own)


@dataclass(frozen=True)
class Issue:
    """One group of similar messages of the week."""

    members: tuple[int, ...]  # indexes into the week's messages, most central first
    customers: int  # distinct customers among the members
    central: int  # index of the member nearest the group's mean: the label without a model


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def _centred(vectors: np.ndarray, centre: np.ndarray | None = None) -> np.ndarray:
    """Rows less ``centre`` (default: their own mean), normalised."""
    x = np.asarray(vectors, np.float32)
    if x.ndim != 2:
        raise ValueError(f"vectors must be a 2-d array, one row per message (got shape {x.shape})")
    if not len(x):
        return x
    if centre is None:
        return _unit(x - x.mean(axis=0))
    centre = np.asarray(centre, np.float32)
    if centre.shape != x.shape[1:]:
        raise ValueError(f"the centre has shape {centre.shape}, the vectors {x.shape[1:]}: give one of the same model")
    return _unit(x - centre)


def _customer_ids(customer_keys: Sequence[Hashable], n: int) -> np.ndarray:
    if len(customer_keys) != n:
        raise ValueError(f"{n} vectors but {len(customer_keys)} customer keys: give one customer per message")
    ids: dict[Hashable, int] = {}
    return np.fromiter((ids.setdefault(key, len(ids)) for key in customer_keys), np.int64, count=n)


def _groups(x: np.ndarray, customers: np.ndarray, radius: float, limit: int | None,
            sample: int) -> list[np.ndarray]:
    """Greedy densest-neighbourhood groups of the rows of ``x`` (unit rows), at most ``limit``."""
    n = len(x)
    # a customer's messages weigh one in all: five near-identical mails are one customer's voice
    weight = 1.0 / np.bincount(customers)[customers]
    seeds = np.arange(n) if n <= sample else np.linspace(0, n - 1, sample).round().astype(np.int64)
    near = (x[seeds] @ x[seeds].T >= radius).astype(np.float32)  # neighbourhoods among the seeds
    alive = np.ones(n, bool)
    count = near @ weight[seeds].astype(np.float32)
    groups: list[np.ndarray] = []
    while alive.any() and (limit is None or len(groups) < limit):
        open_seeds = alive[seeds]
        if open_seeds.any():
            best = int(np.argmax(np.where(open_seeds, count, -np.inf)))  # first of ties: deterministic
            start = seeds[best]
            around = seeds[(near[best] > 0) & open_seeds]
        else:  # every sampled seed is taken; the rest are seeded in order
            start = int(np.flatnonzero(alive)[0])
            around = np.array([start])
        centre = _unit(x[around].mean(axis=0))
        members = np.flatnonzero(alive & (x @ centre >= radius))
        if start not in members:
            members = np.union1d(members, [start])
        groups.append(members)
        alive[members] = False
        gone = np.flatnonzero(~alive[seeds] & open_seeds)
        if len(gone):
            count -= near[:, gone] @ weight[seeds[gone]].astype(np.float32)
    return groups


def _issue(x: np.ndarray, members: np.ndarray, customers: np.ndarray) -> Issue:
    closeness = x[members] @ _unit(x[members].sum(axis=0))
    order = members[np.lexsort((members, -closeness))]  # most central first; ties by index
    return Issue(tuple(int(i) for i in order), int(len(np.unique(customers[members]))), int(order[0]))


def top_issues(vectors: np.ndarray, customer_keys: Sequence[Hashable], k: int = 3, *,
               radius: float | None = None, sample: int = SAMPLE,
               centre: np.ndarray | None | str = WEEK) -> list[Issue]:
    """The ``k`` issues of the week with the most distinct customers, most first (fewer if the week
    has fewer messages). ``vectors``: one row per message; ``customer_keys``: who sent each one
    (anything hashable: an address, a customer id). ``centre``: what every message shares, taken
    away before comparing: the mean of earlier customer messages (``history_centre``; the product's
    choice), ``WEEK`` for the week's own mean, or None for plain cosine (at ``PLAIN_RADIUS`` unless
    ``radius`` is given). Deterministic: same input, same issues."""
    if centre is None:
        x = _centred(vectors, np.zeros(np.shape(vectors)[1:], np.float32))
        radius = PLAIN_RADIUS if radius is None else radius
    else:
        x = _centred(vectors, None if isinstance(centre, str) else centre)
        radius = RADIUS if radius is None else radius
    customers = _customer_ids(customer_keys, len(x))
    if k <= 0 or not len(x):
        return []
    issues = [_issue(x, members, customers) for members in _groups(x, customers, radius, k, sample)]
    return sorted(issues, key=lambda issue: (-issue.customers, issue.members[0]))


def history_centre(vectors: np.ndarray) -> np.ndarray | None:
    """The centre for ``top_issues`` from earlier customer messages' vectors (not the week's own):
    their mean, or None when there are fewer than ``MIN_HISTORY`` (too few to stand for what every
    message shares; the week then centres on itself)."""
    x = np.asarray(vectors, np.float32)
    return x.mean(axis=0) if x.ndim == 2 and len(x) >= MIN_HISTORY else None


def group_messages(vectors: np.ndarray, *, radius: float = RADIUS) -> np.ndarray:
    """Every message's group number (0, 1, …), for a whole history rather than one week's top three:
    average linkage on the centred vectors, merging while two groups' mean cosine is at least
    ``radius`` (the weekly radius, not tuned again). It needs an n × n matrix: at most
    ``MAX_GROUPED`` messages."""
    x = _centred(vectors)
    if len(x) > MAX_GROUPED:
        raise ValueError(f"{len(x)} messages: group_messages takes at most {MAX_GROUPED} (an n × n matrix); "
                         "group a sample, or use top_issues, which samples its seeds")
    labels = _average_linkage(x @ x.T, radius)
    return np.unique(labels, return_inverse=True)[1]


def _average_linkage(similarity: np.ndarray, threshold: float) -> np.ndarray:
    """Each row's cluster (a representative row), merging the two clusters of highest mean
    similarity while it is at least ``threshold``. Each cluster keeps its best partner, so a merge
    costs O(n) plus a rescan of the rows that pointed at the merged pair."""
    s = np.array(similarity, np.float32)
    np.fill_diagonal(s, -np.inf)
    n = len(s)
    size = np.ones(n)
    alive = np.ones(n, bool)
    label = np.arange(n)
    best, partner = s.max(axis=1), s.argmax(axis=1)
    while n > 1:
        i = int(np.argmax(best))
        if best[i] < threshold:
            break
        j = int(partner[i])
        merged = (size[i] * s[i] + size[j] * s[j]) / (size[i] + size[j])  # Lance–Williams, average
        s[i], s[:, i] = merged, merged
        s[i, i] = -np.inf
        s[j], s[:, j] = -np.inf, -np.inf
        size[i] += size[j]
        alive[j], best[j] = False, -np.inf
        label[label == j] = i
        stale = np.flatnonzero(((partner == i) | (partner == j) | (np.arange(n) == i)) & alive)
        best[stale], partner[stale] = s[stale].max(axis=1), s[stale].argmax(axis=1)
        closer = alive & (s[:, i] > best)
        best[closer], partner[closer] = s[closer, i], i
    return label
