from lab import *
from graphs import knn_graph
from ppr import ppr, sweep
import sys
N = int(sys.argv[1])
res = Counter()
for s in [1, 2, 3]:
    for idx, cats in WEEKS[s]:
        x = week_vectors(("minilm",), idx); n = len(x)
        g = ig._groups(x, np.arange(n), 0.45, N, 4000)
        cent = unit(np.stack([x[m].mean(0) for m in g]))
        sims = x @ cent.T
        a = knn_graph(x, 8, weighted=False)
        feats = {}
        feats["size045"] = np.array([len(m) for m in g])
        for r in [0.3, 0.35, 0.4]:
            feats[f"within{r}"] = (sims >= r).sum(0)
        for fl in [0.0, 0.15, 0.25]:
            near = np.argmax(sims, 1); ok = sims.max(1) >= fl
            feats[f"nearest_floor{fl}"] = np.bincount(near[ok], minlength=len(g))
        # soft counts
        for T in [0.05, 0.1]:
            p = np.exp((sims - sims.max(1, keepdims=True)) / T); p /= p.sum(1, keepdims=True)
            feats[f"soft{T}"] = (p * (sims.max(1, keepdims=True) >= 0.2)).sum(0)
        pp = []
        for m in g:
            sv = np.zeros(n); sv[m] = 1 / len(m)
            pp.append(len(sweep(a, ppr(a, sv, 0.2))))
        feats["ppr"] = np.array(pp)
        # competitive PPR: each node to the candidate with highest ppr/deg
        P = np.stack([ppr(a, (lambda v: v)(np.bincount(m, minlength=n) / len(m)), 0.2) for m in g], 1)
        feats["ppr_vor"] = np.bincount(np.argmax(P, 1), minlength=len(g))
        for name, f in feats.items():
            order = np.lexsort((np.arange(len(g)), -f))[:3]
            res[name] += week_is_right([SimpleNamespace(members=tuple(g[i])) for i in order], cats)
for k, v in res.items(): print(k, v)
