from lab import *
from more import *
import sys
seeds = range(10)
for spec in sys.argv[1:]:
    print(fmt(spec, score(eval(spec), seeds=seeds)), flush=True)
