from history import run, X
from lab import *
xc = centred(X)
def skm(x, k, seed=0, iters=30):
    rng = np.random.default_rng(seed)
    C = x[rng.choice(len(x), 1)]
    for _ in range(k - 1):  # k-means++
        d = 1 - (x @ C.T).max(1); d = np.maximum(d, 0) ** 2
        C = np.vstack([C, x[rng.choice(len(x), p=d / d.sum())]])
    for _ in range(iters):
        lab = (x @ C.T).argmax(1)
        C = unit(np.stack([x[lab == j].sum(0) if (lab == j).any() else C[j] for j in range(k)]))
    return lab
for k in (60, 77, 100, 150):
    print(fmt(f"global skm k={k}", run(skm(xc, k), seeds=range(4))), flush=True)
