"""Same-intent vs different-intent pairs of fine groups (average linkage 0.6 on MiniLM): can a second
model's view (wordllama, paraphrase-MiniLM-L3) make merging more precise than MiniLM alone?"""
from lab import *
rows = []
for s in [1, 2, 3]:
    for idx, cats in WEEKS[s][:25]:
        x = week_vectors(("minilm",), idx); ca = np.array(cats)
        views = {m: week_vectors((m,), idx) for m in VEC}
        lab = ig._average_linkage(x @ x.T, 0.6)
        gs = [np.flatnonzero(lab == g) for g in np.unique(lab)]
        gs = [g for g in gs if len(g) >= 2]
        maj = [Counter(ca[g]).most_common(1)[0][0] for g in gs]
        cs = {m: (lambda c: c @ c.T)(unit(np.stack([v[g].mean(0) for g in gs]))) for m, v in views.items()}
        iu = np.triu_indices(len(gs), 1)
        same = np.array([maj[i] == maj[j] for i, j in zip(*iu)])
        rows.append((same, {m: c[iu] for m, c in cs.items()}))
y = np.concatenate([r[0] for r in rows])
F = {m: np.concatenate([r[1][m] for r in rows]) for m in VEC}
def z(v): return (v - v.mean()) / v.std()
cands = dict(F)
if "wordllama" in F:
    cands["min(minilm,wl)"] = np.minimum(z(F["minilm"]), z(F["wordllama"]))
    cands["mean(minilm,wl)"] = z(F["minilm"]) + z(F["wordllama"])
if "paraL3" in F:
    cands["mean(all3)"] = sum(z(v) for v in F.values())
    cands["min(all3)"] = np.minimum.reduce([z(v) for v in F.values()])
print("pairs", len(y), "same", y.sum())
for n, sc in cands.items():
    o = np.argsort(-sc, kind="stable"); ys = y[o]; fp = np.cumsum(~ys); tp = np.cumsum(ys)
    print(f"{n:16s} same pairs caught at 50/150/400 wrong:", [int(tp[np.searchsorted(fp, k)]) for k in (50, 150, 400)])
