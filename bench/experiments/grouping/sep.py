from lab import *
import sys
def oracle(x, cats):
    cs = sorted(set(cats)); ca = np.array([cs.index(c) for c in cats])
    means = unit(np.stack([x[ca == j].mean(0) for j in range(len(cs))]))
    lab = np.argmax(x @ means.T, 1)
    return top3_from_labels(lab)
for models in [tuple(m.split("+")) for m in (sys.argv[1:] or ["minilm", "wordllama", "paraL3", "minilm+wordllama", "minilm+paraL3"])]:
    nn1 = nn5 = tot = 0; right = 0
    for s in [1, 2, 3]:
        for idx, cats in WEEKS[s]:
            x = week_vectors(models, idx); ca = np.array(cats)
            S = x @ x.T; np.fill_diagonal(S, -9)
            nn = np.argsort(-S, 1)[:, :5]
            nn1 += (ca[nn[:, 0]] == ca).sum(); nn5 += (ca[nn] == ca[:, None]).sum() / 5; tot += len(ca)
            right += week_is_right([SimpleNamespace(members=tuple(g)) for g in oracle(x, cats)], cats)
    print(models, "1nn", round(nn1 / tot, 3), "5nn", round(nn5 / tot, 3), "oracle weeks s1-3", right)
