import numpy as np
from lab import top3_from_labels
from graphs import knn_graph


def fiedler_cut(a):
    d = a.sum(1)
    if (d == 0).any() or len(a) < 4:
        return None, np.inf
    dm = 1 / np.sqrt(d)
    L = np.eye(len(a)) - dm[:, None] * a * dm[None, :]
    w, v = np.linalg.eigh(L)
    f = v[:, 1] * dm
    order = np.argsort(f, kind="stable")
    vol_all = d.sum()
    inside = np.zeros(len(a), bool)
    cut = vol = 0.0
    best, best_phi = None, np.inf
    for i, u in enumerate(order[:-1]):
        cut += d[u] - 2 * a[u, inside].sum()
        vol += d[u]
        inside[u] = True
        phi = cut / min(vol, vol_all - vol)
        if phi < best_phi:
            best_phi, best = phi, i + 1
    return order[:best], best_phi


def m_divisive(k=8, phi0=0.3, min_size=2, weighted=False, local=False):
    def f(x):
        a_full = knn_graph(x, k, weighted=weighted)
        n = len(x)
        labels = np.zeros(n, int)
        nxt = 1
        stack = [np.arange(n)]
        while stack:
            idx = stack.pop()
            if len(idx) < 2 * min_size:
                continue
            a = knn_graph(x[idx], min(k, len(idx) - 1), weighted=weighted) if local else a_full[np.ix_(idx, idx)]
            # disconnected pieces split for free
            from graphs import components
            comp = components(a)
            if comp.max() > 0:
                for c in range(comp.max() + 1):
                    part = idx[comp == c]
                    labels[part] = nxt; nxt += 1
                    stack.append(part)
                continue
            side, phi = fiedler_cut(a)
            if side is None or phi > phi0:
                continue
            mask = np.zeros(len(idx), bool); mask[side] = True
            for part in (idx[mask], idx[~mask]):
                labels[part] = nxt; nxt += 1
                stack.append(part)
        return top3_from_labels(labels)
    return f
