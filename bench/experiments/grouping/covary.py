"""Do fragments of one issue rise and fall together across earlier weeks? (prototype)"""
import random, sys, itertools
from lab import *

H = int(os.environ.get("HWEEKS", 13))
by_cat = {}
for i, (_, c) in enumerate(ROWS):
    by_cat.setdefault(c, []).append(i)
CATS = sorted(by_cat)


def one_week(rng):
    week = []
    for rank, c in enumerate(rng.sample(CATS, 20), start=1):
        n = max(2, round(30 / rank ** 0.8))
        week += rng.sample(by_cat[c], min(n, len(by_cat[c])))
    rng.shuffle(week)
    return week


HIST = {}
def history(s, i):
    key = (s, i)
    if key not in HIST:
        rng = random.Random(f"{s}:{i}:history")
        HIST[key] = [one_week(rng) for _ in range(H)]
    return HIST[key]


def method(X, idx, hist, fine=0.5, tau=0.3, rho=0.5, kappa=0.2, use_now=True, link="cc", beta=1.0):
    allh = np.concatenate([X[h] for h in hist])
    centre = allh.mean(0)
    x = unit(X[idx] - centre)
    lab = ig._average_linkage(x @ x.T, fine)
    _, lab = np.unique(lab, return_inverse=True)
    G = lab.max() + 1
    C = unit(np.stack([x[lab == g].mean(0) for g in range(G)]))
    size = np.bincount(lab, minlength=G)
    cols = []
    for h in hist:
        y = unit(X[h] - centre)
        sim = y @ C.T
        best = sim.argmax(1)
        ok = sim[np.arange(len(y)), best] >= tau
        cols.append(np.bincount(best[ok], minlength=G))
    if use_now:
        cols.append(size)
    M = np.stack(cols, 1).astype(float)
    M = M - M.mean(1, keepdims=True)
    sd = np.linalg.norm(M, axis=1)
    R = (M @ M.T) / np.outer(np.where(sd == 0, 1, sd), np.where(sd == 0, 1, sd))
    cos = C @ C.T
    if link == "cc":
        adj = (R >= rho) & (cos >= kappa)
        np.fill_diagonal(adj, True)
        # connected components
        comp = -np.ones(G, int)
        c = 0
        for g in range(G):
            if comp[g] >= 0: continue
            stack = [g]; comp[g] = c
            while stack:
                a = stack.pop()
                for b in np.flatnonzero(adj[a] & (comp < 0)):
                    comp[b] = c; stack.append(b)
            c += 1
    elif link == "sum":
        S = cos + beta * R
        comp = group_link(S, size, rho)
    else:
        S = np.where(cos >= kappa, R, -1.0)
        comp = ig._average_linkage(S, rho)
    final = comp[lab]
    return top3_from_labels(final)


def group_link(S, size, th):
    """average linkage over groups weighted by size"""
    S = np.array(S, float); np.fill_diagonal(S, -np.inf)
    size = size.astype(float).copy(); G = len(S); lab = np.arange(G); alive = np.ones(G, bool)
    while True:
        i, j = np.unravel_index(np.argmax(S), S.shape)
        if S[i, j] < th: break
        m = (size[i] * S[i] + size[j] * S[j]) / (size[i] + size[j])
        S[i], S[:, i] = m, m; S[i, i] = -np.inf
        S[j], S[:, j] = -np.inf, -np.inf
        size[i] += size[j]; lab[lab == j] = i
    return lab


def run(seeds, **kw):
    res = {}
    X = VEC["minilm"]
    for s in seeds:
        right = 0
        for i, (idx, cats) in enumerate(WEEKS[s]):
            groups = method(X, idx, history(s, i), **kw)
            right += week_is_right([SimpleNamespace(members=tuple(g)) for g in groups], cats)
        res[s] = right
    return res


if __name__ == "__main__":
    seeds = [int(a) for a in sys.argv[1].split(",")]
    grid = eval(sys.argv[2]) if len(sys.argv) > 2 else [{}]
    for kw in grid:
        print(fmt(str(kw), run(seeds, **kw)), flush=True)
