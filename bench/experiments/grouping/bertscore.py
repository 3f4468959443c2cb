"""Message similarity by aligning MiniLM's token states (BERTScore F1, IDF-weighted), then grouping."""
import sys
sys.argv = sys.argv[:1] + sys.argv[1:]
exec(open("tokpool.py").read().split("if __name__")[0])
ALLTOK = np.concatenate([h[1:-1] for h in HID])
TOKMEAN = ALLTOK.mean(0)
IDF = {t: np.log(N / df[t]) for t in df}


def week_sim(idx, centre_tokens=True, idf=True):
    toks, w, seg = [], [], []
    for k, i in enumerate(idx):
        h = HID[i][1:-1]
        ids = IDS[i][1:-1]
        if centre_tokens:
            h = h - TOKMEAN
        toks.append(unit(h)); w.append(np.array([IDF[t] if idf else 1.0 for t in ids])); seg.append(len(h))
    T = np.concatenate(toks); W = np.concatenate(w)
    starts = np.r_[0, np.cumsum(seg)[:-1]]
    S = T @ T.T
    M = np.maximum.reduceat(S, starts, axis=1)  # token × message: best match in each message
    Wm = np.add.reduceat(W[:, None] * M, starts, axis=0) / np.add.reduceat(W, starts)[:, None]  # msg × msg: recall of row msg in col msg
    R = Wm
    P = Wm.T
    P, R = np.clip(P, 0, None), np.clip(R, 0, None)
    F = 2 * P * R / np.maximum(P + R, 1e-9)
    return F


def run(method, seeds, **kw):
    res = {}
    for s in seeds:
        right = 0
        for idx, cats in WEEKS[s]:
            F = week_sim(idx, **kw)
            groups = method(F)
            right += week_is_right([SimpleNamespace(members=tuple(g)) for g in groups], cats)
        res[s] = right
    return res


def greedy_sim(th):
    def f(F):
        n = len(F); alive = np.ones(n, bool); groups = []
        near = F >= th
        while alive.any() and len(groups) < 3:
            cnt = (near & alive[None, :]).sum(1); cnt[~alive] = -1
            b = int(np.argmax(cnt))
            mem = np.flatnonzero(near[b] & alive)
            # recentre: members = those whose mean sim to the seed set >= th
            score = F[:, mem].mean(1)
            mem2 = np.flatnonzero(alive & (score >= th))
            if b not in mem2: mem2 = np.union1d(mem2, [b])
            groups.append(mem2); alive[mem2] = False
        return sorted(groups, key=lambda g: -len(g))
    return f


def avg_sim(th):
    def f(F):
        S = F.copy(); np.fill_diagonal(S, 1)
        return top3_from_labels(ig._average_linkage(S, th))
    return f


if __name__ == "__main__":
    seeds = [int(a) for a in sys.argv[1].split(",")] if len(sys.argv) > 1 else [1, 2, 3]
    F = week_sim(WEEKS[1][0][0])
    off = F[~np.eye(len(F), dtype=bool)]
    print("F quantiles", np.quantile(off, [0.5, 0.9, 0.99]).round(3), flush=True)
    for th in np.quantile(off, [0.9, 0.95, 0.97, 0.98]).round(3):
        print(fmt(f"bertscore greedy {th}", run(greedy_sim(th), seeds)), flush=True)
        print(fmt(f"bertscore avg-link {th}", run(avg_sim(th), seeds)), flush=True)
