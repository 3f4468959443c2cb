from lab import *
from divisive import *
import sys
seeds = [int(s) for s in sys.argv[1].split(",")]
for spec in sys.argv[2:]:
    t = time.time()
    print(fmt(spec, score(eval(spec), seeds=seeds)), round(time.time() - t, 1), flush=True)
