from lab import *
from ppr import *
import sys
models = tuple(sys.argv[1].split("+"))
for spec in sys.argv[2:]:
    t = time.time()
    print(fmt(spec + " " + sys.argv[1], score(eval(spec), models=models, seeds=range(10))), round(time.time() - t, 1), flush=True)
