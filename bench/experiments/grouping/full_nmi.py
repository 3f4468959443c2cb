"""--full's whole-file figures (group_messages: average linkage, centred) on each model's vectors."""
from lab import *
from briefing import nmi_ari
import sys
labels = [c for _, c in ROWS]
for m in sys.argv[1].split(","):
    for r in [float(v) for v in sys.argv[2].split(",")]:
        g = ig.group_messages(VEC[m], radius=r)
        nmi, ari = nmi_ari(labels, g)
        print(m, r, "nmi", round(nmi, 3), "ari", round(ari, 3), "clusters", len(np.unique(g)), flush=True)
