import numpy as np
from lab import top3_from_labels, unit
from handlers import issue_groups as ig


def merge_mutual(x, groups, t, min_size=1, rounds=10):
    groups = [np.asarray(g) for g in groups]
    for _ in range(rounds):
        big = [i for i, g in enumerate(groups) if len(g) >= min_size]
        if len(big) < 2:
            break
        cent = unit(np.stack([x[groups[i]].mean(0) for i in big]))
        C = cent @ cent.T; np.fill_diagonal(C, -9)
        nn = np.argmax(C, 1)
        pairs = [(i, int(nn[i])) for i in range(len(big)) if nn[nn[i]] == i and i < nn[i] and C[i, nn[i]] >= t]
        if not pairs:
            break
        gone = set()
        for i, j in pairs:
            gi, gj = big[i], big[j]
            groups[gi] = np.union1d(groups[gi], groups[gj]); gone.add(gj)
        groups = [g for i, g in enumerate(groups) if i not in gone]
    return sorted(groups, key=lambda g: -len(g))[:3]


def m_greedy_merge(t, radius=0.45, min_size=2):
    def f(x):
        g = ig._groups(x, np.arange(len(x)), radius, None, 4000)
        return merge_mutual(x, g, t, min_size)
    return f


def m_avg_merge(t, th=0.6, min_size=2):
    def f(x):
        lab = ig._average_linkage(x @ x.T, th)
        g = [np.flatnonzero(lab == v) for v in np.unique(lab)]
        return merge_mutual(x, g, t, min_size)
    return f
