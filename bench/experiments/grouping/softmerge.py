"""Rank the greedy groups by their size plus a share of the sizes of groups near them (centroid
cosine between t0 and t1 → share 0..1): a fragment of a big issue ranks with its siblings; a pick
absorbs groups within t_dup of it (the same issue)."""
import numpy as np
from lab import unit
from handlers import issue_groups as ig


def m_soft(t0=0.4, t1=0.7, t_dup=0.6, radius=0.45, min_size=1):
    def f(x):
        g = ig._groups(x, np.arange(len(x)), radius, None, 4000)
        g = [m for m in g if len(m) >= min_size] or g
        size = np.array([len(m) for m in g], float)
        cent = unit(np.stack([x[m].mean(0) for m in g]))
        C = cent @ cent.T
        np.fill_diagonal(C, -1)
        W = np.clip((C - t0) / (t1 - t0), 0, 1)
        score = size + W @ size
        picked, out = [], []
        for i in np.lexsort((np.arange(len(g)), -score)):
            if any(C[i, j] >= t_dup for j in picked):
                continue
            picked.append(i)
            members = np.concatenate([g[i]] + [g[j] for j in range(len(g)) if C[i, j] >= t_dup and j not in picked])
            out.append(members)
            if len(out) == 3:
                break
        return out
    return f
