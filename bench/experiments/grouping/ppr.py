import numpy as np
from lab import top3_from_labels, unit
from graphs import knn_graph
from handlers import issue_groups as ig


def ppr(a, seed_vec, alpha, iters=60):
    d = a.sum(1); d = np.where(d == 0, 1, d)
    p = seed_vec.copy()
    r = seed_vec.copy()
    P = a / d[:, None]  # row-stochastic
    x = seed_vec.copy()
    for _ in range(iters):
        x = alpha * seed_vec + (1 - alpha) * (x @ P)
    return x


def sweep(a, score, min_size=2, max_frac=0.5, rule='global', window=3):
    d = a.sum(1)
    order = np.argsort(-score / np.where(d == 0, 1, d), kind="stable")
    order = order[score[order] > 0]
    vol_all = d.sum()
    inside = np.zeros(len(a), bool)
    vol = cut = 0.0
    best, best_phi = 1, np.inf
    phis = []
    for i, v in enumerate(order):
        # adding v: cut += d[v] - 2 * edges(v, inside)
        e = a[v, inside].sum()
        cut += d[v] - 2 * e
        vol += d[v]
        inside[v] = True
        if vol > max_frac * vol_all:
            break
        phi = cut / max(min(vol, vol_all - vol), 1e-9)
        phis.append(phi)
        if rule == 'global' and i + 1 >= min_size and phi < best_phi:
            best_phi, best = phi, i + 1
    if rule == 'first':
        phis = np.array(phis)
        for j in range(min_size - 1, len(phis)):
            lo, hi = max(0, j - window), min(len(phis), j + window + 1)
            if phis[j] <= phis[lo:hi].min():
                return order[:j + 1]
        return order[:int(np.argmin(phis)) + 1] if len(phis) else order[:1]
    return order[:best]


def m_ppr(k=5, alpha=0.2, weighted=False, seed_radius=0.45, limit=3, rank_by_size=True, mutual=False,
          seed="dense", max_frac=0.5, rule='global', window=3, min_size=2):
    def f(x):
        n = len(x)
        alive = np.ones(n, bool)
        groups = []
        S = x @ x.T
        while alive.sum() > 1 and len(groups) < limit:
            idx = np.flatnonzero(alive)
            xs = x[idx]
            a = knn_graph(xs, min(k, len(idx) - 1), mutual=mutual, weighted=weighted)
            if seed == "dense":
                cnt = (S[np.ix_(idx, idx)] >= seed_radius).sum(1)
                s0 = int(np.argmax(cnt))
                near = np.flatnonzero(S[idx[s0], idx] >= seed_radius)
                sv = np.zeros(len(idx)); sv[near] = 1 / len(near)
            else:
                deg = a.sum(1); s0 = int(np.argmax(deg)); sv = np.zeros(len(idx)); sv[s0] = 1
            score = ppr(a, sv, alpha)
            members = sweep(a, score, max_frac=max_frac, rule=rule, window=window, min_size=min_size)
            if s0 not in members:
                members = np.union1d(members, [s0])
            groups.append(idx[members])
            alive[idx[members]] = False
        return sorted(groups, key=lambda g: -len(g))[:3] if rank_by_size else groups[:3]
    return f


def m_ppr_trim(k=8, alpha=0.2, trim=0.35, limit=4, seed_radius=0.45):
    base = m_ppr(k, alpha, limit=limit, rank_by_size=False, seed_radius=seed_radius)
    def f(x):
        groups = base(x) if limit <= 3 else None
        return groups
    def g(x):
        n = len(x); alive = np.ones(n, bool); groups = []
        S = x @ x.T
        while alive.sum() > 1 and len(groups) < limit:
            idx = np.flatnonzero(alive); xs = x[idx]
            a = knn_graph(xs, min(k, len(idx) - 1))
            cnt = (S[np.ix_(idx, idx)] >= seed_radius).sum(1)
            s0 = int(np.argmax(cnt)); near = np.flatnonzero(S[idx[s0], idx] >= seed_radius)
            sv = np.zeros(len(idx)); sv[near] = 1 / len(near)
            members = sweep(a, ppr(a, sv, alpha))
            core = unit(xs[near].mean(0))
            kept = members[xs[members] @ core >= trim]
            if s0 not in kept: kept = np.union1d(kept, [s0])
            groups.append(idx[kept]); alive[idx[members]] = False
        return sorted(groups, key=lambda m: -len(m))[:3]
    return g
