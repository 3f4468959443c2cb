"""run_any.py MODELS SEEDS SPEC…  e.g. run_any.py mpnet 1,2,3 "m_ppr(8,0.2)" "greedy(0.4)" """
from lab import *
from ppr import *
from merge import *
from graphs import *
import sys
models = tuple(sys.argv[1].split("+"))
seeds = [int(s) for s in sys.argv[2].split(",")]
for spec in sys.argv[3:]:
    print(fmt(f"{spec} {sys.argv[1]}", score(eval(spec), models, seeds=seeds)), flush=True)
