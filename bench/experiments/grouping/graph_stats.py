"""Is a top category one piece of the week's k-NN graph, and how many of its edges leave it?"""
from lab import *
from graphs import knn_graph, components
stats = []
for s in [1, 2, 3]:
    for idx, cats in WEEKS[s][:20]:
        x = week_vectors(("minilm",), idx); ca = np.array(cats)
        for k in [3, 5, 8]:
            a = knn_graph(x, k, weighted=False)
            for c, n in Counter(cats).most_common(5):
                m = ca == c
                sub = a[np.ix_(m, m)]
                ncomp = components(sub).max() + 1
                inside = sub.sum() / 2; out = a[m][:, ~m].sum()
                stats.append((k, n, ncomp, inside, out))
import collections
agg = collections.defaultdict(list)
for k, n, nc, i, o in stats: agg[(k, n)].append((nc, i, o))
for key in sorted(agg):
    v = np.array(agg[key]); print(key, "components mean", v[:, 0].mean().round(2), "P(connected)", (v[:, 0] == 1).mean().round(2), "edges in", v[:, 1].mean().round(1), "edges out", v[:, 2].mean().round(1))
