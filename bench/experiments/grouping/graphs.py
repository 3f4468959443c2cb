import numpy as np
from lab import top3_from_labels


def knn_graph(x, k, mutual=False, weighted=True):
    s = x @ x.T
    np.fill_diagonal(s, -np.inf)
    nn = np.argsort(-s, axis=1, kind="stable")[:, :k]
    a = np.zeros_like(s, dtype=np.float64)
    rows = np.repeat(np.arange(len(x)), k)
    a[rows, nn.ravel()] = 1
    a = np.minimum(a, a.T) if mutual else np.maximum(a, a.T)
    if weighted:
        a = a * np.clip(s, 0, None)
    np.fill_diagonal(a, 0)
    return a


def components(a):
    n = len(a)
    lab = -np.ones(n, int)
    c = 0
    for i in range(n):
        if lab[i] >= 0:
            continue
        stack = [i]
        lab[i] = c
        while stack:
            j = stack.pop()
            for t in np.flatnonzero(a[j] > 0):
                if lab[t] < 0:
                    lab[t] = c
                    stack.append(t)
        c += 1
    return lab


def louvain(a, gamma=1.0, rng_order=None):
    """Louvain modularity (deterministic order), returns labels."""
    n = len(a)
    labels = np.arange(n)
    adj = a.copy()
    node_of = np.arange(n)  # original node -> current super node
    while True:
        m = len(adj)
        k = adj.sum(1)
        two_m = k.sum()
        if two_m == 0:
            break
        comm = np.arange(m)
        tot = k.copy()
        improved = True
        moved_any = False
        while improved:
            improved = False
            for i in range(m):
                ci = comm[i]
                # weights from i to each community
                w = np.bincount(comm, weights=adj[i], minlength=m)
                w[ci] -= adj[i, i]
                tot[ci] -= k[i]
                gain = w - gamma * tot * k[i] / two_m
                best = int(np.argmax(gain))
                if gain[best] <= gain[ci] + 1e-12:
                    best = ci
                comm[i] = best
                tot[best] += k[i]
                if best != ci:
                    improved = True
                    moved_any = True
        _, comm = np.unique(comm, return_inverse=True)
        if not moved_any:
            break
        c = comm.max() + 1
        p = np.zeros((m, c))
        p[np.arange(m), comm] = 1
        adj = p.T @ adj @ p
        node_of = comm[node_of]
        if c == m:
            break
    return node_of


def label_prop(a, iters=30):
    n = len(a)
    lab = np.arange(n)
    for _ in range(iters):
        changed = False
        for i in range(n):
            w = np.bincount(lab, weights=a[i], minlength=n)
            if w.max() <= 0:
                continue
            b = int(np.argmax(w))
            if w[b] > w[lab[i]] + 1e-12:
                lab[i] = b
                changed = True
        if not changed:
            break
    return lab


def m_mutual_cc(k):
    return lambda x: top3_from_labels(components(knn_graph(x, k, mutual=True)))


def m_louvain(k, gamma=1.0, mutual=False):
    return lambda x: top3_from_labels(louvain(knn_graph(x, k, mutual=mutual), gamma))


def m_labelprop(k):
    return lambda x: top3_from_labels(label_prop(knn_graph(x, k)))
