"""Greedy and PageRank groupings on each model's vectors (and MiniLM concatenations)."""
from lab import *
from ppr import m_ppr
import sys
seeds = [int(s) for s in sys.argv[1].split(",")]
for combo in sys.argv[2:]:
    models = tuple(combo.split("+"))
    for r in [0.35, 0.45, 0.55]:
        print(fmt(f"greedy r={r} {combo}", score(greedy(r), models, seeds=seeds)), flush=True)
    print(fmt(f"ppr k=8 {combo}", score(m_ppr(8, 0.2), models, seeds=seeds)), flush=True)
