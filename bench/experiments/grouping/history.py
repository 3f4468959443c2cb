from lab import *
import sys
X = VEC["minilm"]
def run(labels, seeds=range(10)):
    res = {}
    for s in seeds:
        right = 0
        for idx, cats in WEEKS[s]:
            groups = top3_from_labels(labels[idx])
            right += week_is_right([SimpleNamespace(members=tuple(g)) for g in groups], cats)
        res[s] = right
    return res
xc = centred(X)
S = xc @ xc.T
for th in [0.2, 0.25, 0.3, 0.35, 0.45]:
    t = time.time()
    lab = ig._average_linkage(S, th)
    print(fmt(f"history: whole-file avg-link centred th={th} ({len(np.unique(lab))} cl)", run(lab)), round(time.time() - t, 1), flush=True)
