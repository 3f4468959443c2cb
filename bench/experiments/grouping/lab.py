"""Experiment harness: weeks of bench/briefing.py's protocol, many grouping methods, many seeds."""
import sys, time, itertools
from collections import Counter
from types import SimpleNamespace
import numpy as np
import os
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from briefing import read_rows, weeks_of, week_is_right, vectors_for, DEFAULT_CSV  # noqa
from handlers import issue_groups as ig  # noqa

ROWS = read_rows(DEFAULT_CSV)
VEC = {"minilm": vectors_for(DEFAULT_CSV, [t for t, _ in ROWS]).astype(np.float32)}
# other models' vectors, made by embed_other_models.py (not project dependencies): OTHER_VECTORS=dir
OTHER = Path(os.environ.get("OTHER_VECTORS", "/tmp/igroup-vec"))
for name, file in (("wordllama", "wordllama256.npy"), ("paraL3", "paraL3.npy"), ("mpnet", "mpnet.npy")):
    if (OTHER / file).exists():
        VEC[name] = np.load(OTHER / file)
WEEKS = {s: list(weeks_of(ROWS, 50, s)) for s in range(10)}


def unit(x):
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n == 0, 1, n)


def centred(x):
    return unit(x - x.mean(0))


def week_vectors(models, idx, weights=None):
    parts = []
    for j, m in enumerate(models):
        w = 1.0 if weights is None else weights[j]
        parts.append(centred(VEC[m][idx]) * np.sqrt(w))
    return unit(np.concatenate(parts, 1)) if len(parts) > 1 else parts[0]


def top3_from_labels(labels, k=3):
    """Largest groups by member count (each message a distinct customer in the bench)."""
    counts = Counter(labels.tolist())
    order = sorted(counts, key=lambda g: (-counts[g], min(np.flatnonzero(labels == g))))
    return [np.flatnonzero(labels == g) for g in order[:k]]


def score(method, models=("minilm",), seeds=range(10), weights=None):
    out = []
    for s in seeds:
        right = 0
        for idx, cats in WEEKS[s]:
            x = week_vectors(models, idx, weights)
            groups = method(x)
            issues = [SimpleNamespace(members=tuple(g)) for g in groups]
            right += week_is_right(issues, cats)
        out.append(right)
    return dict(zip(seeds, out))


def fmt(name, res):
    cells = " ".join(f"{s}:{r:2d}" for s, r in res.items())
    tune = [res[s] for s in (1, 2, 3) if s in res]
    more = [r for s, r in res.items() if s != 0]
    return f"{name:45s} {cells} | mean1-3 {sum(tune)/max(len(tune),1):4.1f} | mean1-9 {sum(more)/max(len(more),1):4.1f}"


# ---------------------------------------------------------------- methods

def greedy(radius=0.45):
    def f(x):
        g = ig._groups(x, np.arange(len(x)), radius, 3, 4000)
        return sorted(g, key=lambda m: -len(m))
    return f


def avg_link(th):
    def f(x):
        return top3_from_labels(ig._average_linkage(x @ x.T, th))
    return f
