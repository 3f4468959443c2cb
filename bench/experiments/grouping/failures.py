"""Why weeks are wrong: each wrong week of a method (default the greedy) as a split loud category
(dup) or an outsider category among the three. Usage: failures.py "greedy(0.45)" or "m_ppr(8,0.2)"."""
from lab import *
from ppr import *
import sys
METH = eval(sys.argv[1])
from collections import Counter
kinds = Counter()
for s in [1, 2, 3]:
    for idx, cats in WEEKS[s]:
        x = week_vectors(("minilm",), idx)
        groups = METH(x)
        counts = Counter(cats); third = sorted(counts.values(), reverse=True)[2]
        top = {c for c, n in counts.items() if n >= third}
        found = [Counter(cats[m] for m in g).most_common(1)[0] for g in groups]
        maj = [f[0] for f in found]
        ok = len(set(maj)) == 3 and set(maj) <= top
        if ok: kinds["ok"] += 1; continue
        dup = len(set(maj)) < 3
        out = [m for m in maj if m not in top]
        kinds["dup" if dup else "outsider"] += 1
        if s == 1 and kinds["dup"] + kinds["outsider"] <= 12:
            print("sizes", [len(g) for g in groups], "maj", [(f[1], counts[f[0]], f[0] in top) for f in found], "dup" if dup else "")
print(kinds)
