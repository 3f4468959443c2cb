from lab import *
for N in [3, 4, 5, 6, 8]:
    hit = 0; tot = 0
    for s in [1, 2, 3]:
        for idx, cats in WEEKS[s]:
            x = week_vectors(("minilm",), idx)
            g = ig._groups(x, np.arange(len(x)), 0.45, N, 4000)
            counts = Counter(cats); third = sorted(counts.values(), reverse=True)[2]
            top = [c for c, n in counts.most_common(3)]
            maj = {Counter(cats[m] for m in gr).most_common(1)[0][0] for gr in g}
            hit += set(top) <= maj; tot += 1
    print(N, hit, "/", tot)
