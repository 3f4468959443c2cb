from lab import *
for th in [0.3, 0.45, 0.6, 0.7]:
  res = {}
  for s in [1, 2, 3]:
    right = 0
    for idx, cats in WEEKS[s]:
        x = week_vectors(("minilm",), idx); ca = np.array(cats)
        lab = ig._average_linkage(x @ x.T, th)
        maj = {g: Counter(ca[lab == g]).most_common(1)[0][0] for g in np.unique(lab)}
        merged = np.array([maj[g] for g in lab])
        groups = top3_from_labels(np.unique(merged, return_inverse=True)[1])
        right += week_is_right([SimpleNamespace(members=tuple(g)) for g in groups], cats)
    res[s] = right
  print(th, res)
