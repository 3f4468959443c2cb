from lab import *
from softmerge import *
import sys
seeds = [int(s) for s in sys.argv[1].split(",")]
for spec in sys.argv[2:]:
    print(fmt(spec, score(eval(spec), seeds=seeds)), flush=True)
