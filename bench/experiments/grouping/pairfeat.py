from lab import *
from graphs import knn_graph
feats = []
for s in [1, 2, 3]:
    for idx, cats in WEEKS[s][:25]:
        x = week_vectors(("minilm",), idx); ca = np.array(cats)
        S = x @ x.T
        lab = ig._average_linkage(S, 0.6)
        gs = [np.flatnonzero(lab == g) for g in np.unique(lab)]
        gs = [g for g in gs if len(g) >= 2]
        maj = [Counter(ca[g]).most_common(1)[0][0] for g in gs]
        A = knn_graph(x, 8, weighted=False)
        cent = unit(np.stack([x[g].mean(0) for g in gs]))
        C = cent @ cent.T
        for i in range(len(gs)):
            # rank of j among i's nearest groups by centroid
            order = np.argsort(-np.where(np.arange(len(gs)) == i, -9, C[i]))
            rank = {j: r for r, j in enumerate(order)}
            for j in range(i + 1, len(gs)):
                order_j = np.argsort(-np.where(np.arange(len(gs)) == j, -9, C[j]))
                rj = list(order_j).index(i)
                sub = S[np.ix_(gs[i], gs[j])]
                e = A[np.ix_(gs[i], gs[j])].sum()
                def intra(g):
                    t = S[np.ix_(g, g)]; return (t.sum() - len(g)) / (len(g) * (len(g) - 1))
                rc = sub.mean() / np.sqrt(max(intra(gs[i]), 0.05) * max(intra(gs[j]), 0.05))
                rc2 = 2 * sub.mean() / (intra(gs[i]) + intra(gs[j]))
                feats.append((maj[i] == maj[j], C[i, j], sub.mean(), sub.max(), e / min(len(gs[i]), len(gs[j])), e / np.sqrt(len(gs[i]) * len(gs[j])), max(rank[j], rj), len(gs[i]) + len(gs[j]), rc, rc2))
F = np.array(feats, float)
y = F[:, 0] > 0
print("pairs", len(y), "same", y.sum())
names = ["centroid", "avg", "max", "edges/min", "edges/sqrt", "-mutual rank", "size", "relcl", "relcl2"]
def auc(score):
    o = np.argsort(score); r = np.empty(len(o)); r[o] = np.arange(len(o))
    return (r[y].mean() - (y.sum() - 1) / 2) / (~y).sum()
for c, n in enumerate(names, 1):
    sc = F[:, c] if n[0] != "-" else -F[:, c]
    print(n, round(auc(sc), 3))
# look at distribution of centroid cosine for same vs different
for c, n in [(1, "centroid"), (2, "avg"), (8, "relcl"), (9, "relcl2")]:
    print(n, "same q10,50,90", np.percentile(F[y, c], [10, 50, 90]).round(2), "diff q50,90,99", np.percentile(F[~y, c], [50, 90, 99]).round(2))
print("mutual nearest pairs: same", ((F[:, 6] == 0) & y).sum(), "diff", ((F[:, 6] == 0) & ~y).sum())
for t in [0.3, 0.35, 0.4, 0.45, 0.5]:
    m = (F[:, 6] == 0) & (F[:, 1] >= t)
    m2 = F[:, 1] >= t
    print(t, "mutual&cent>=t same", (m & y).sum(), "diff", (m & ~y).sum(), "| cent>=t same", (m2 & y).sum(), "diff", (m2 & ~y).sum())
print("same pairs caught at N false pairs:")
for c, n in enumerate(names, 1):
    sc = F[:, c] if n[0] != "-" else -F[:, c]
    o = np.argsort(-sc, kind="stable"); ys = y[o]; fp = np.cumsum(~ys); tp = np.cumsum(ys)
    print(f"{n:12s}", [int(tp[np.searchsorted(fp, k)]) for k in (50, 150, 400)])
