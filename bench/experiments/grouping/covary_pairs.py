from covary import *
def pairs(s, fine=0.5, tau=0.3, weeks=50, use_now=True):
    X = VEC["minilm"]
    out = []
    for i, (idx, cats) in enumerate(WEEKS[s][:weeks]):
        hist = history(s, i)
        allh = np.concatenate([X[h] for h in hist]); centre = allh.mean(0)
        x = unit(X[idx] - centre)
        lab = np.unique(ig._average_linkage(x @ x.T, fine), return_inverse=True)[1]
        G = lab.max() + 1
        C = unit(np.stack([x[lab == g].mean(0) for g in range(G)]))
        size = np.bincount(lab, minlength=G)
        maj = [Counter(np.asarray(cats)[lab == g]).most_common(1)[0][0] for g in range(G)]
        cols = []
        for h in hist:
            y = unit(X[h] - centre); sim = y @ C.T; best = sim.argmax(1)
            ok = sim[np.arange(len(y)), best] >= tau
            cols.append(np.bincount(best[ok], minlength=G))
        if use_now: cols.append(size)
        M = np.stack(cols, 1).astype(float); M -= M.mean(1, keepdims=True)
        sd = np.linalg.norm(M, axis=1); sd = np.where(sd == 0, 1, sd)
        R = M @ M.T / np.outer(sd, sd); cos = C @ C.T
        for a in range(G):
            for b in range(a + 1, G):
                if size[a] >= 2 and size[b] >= 2:
                    out.append((maj[a] == maj[b], R[a, b], cos[a, b]))
    return out
def found(out, score, wrong=(50, 400)):
    o = sorted(out, key=lambda t: -score(t))
    res = []; 
    for w in wrong:
        bad = good = 0
        for t in o:
            if t[0]: good += 1
            else:
                bad += 1
                if bad >= w: break
        res.append(good)
    return res, sum(t[0] for t in out), len(out)
for tau in (0.2, 0.3, 0.4):
  for H2 in (13,):
    out = pairs(1, tau=tau)
    print(tau, "R", found(out, lambda t: t[1]), "cos", found(out, lambda t: t[2]), "R+cos", found(out, lambda t: t[1] + t[2]), "R*cos", found(out, lambda t: t[1] + 2*t[2]))
