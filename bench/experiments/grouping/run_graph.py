from lab import *
from graphs import *
import sys
seeds = range(10)
for k in [3, 5, 8]:
    print(fmt(f"mutual kNN cc k={k}", score(m_mutual_cc(k), seeds=seeds)), flush=True)
for k in [5, 10, 15]:
    for g in [1.0, 1.5]:
        print(fmt(f"louvain k={k} gamma={g}", score(m_louvain(k, g), seeds=seeds)), flush=True)
for k in [5, 10]:
    print(fmt(f"labelprop k={k}", score(m_labelprop(k), seeds=seeds)), flush=True)
