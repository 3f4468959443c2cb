from lab import *
for m in ["minilm", "wordllama", "paraL3"]:
    for r in [0.35, 0.45, 0.55]:
        print(fmt(f"greedy r={r} {m}", score(greedy(r), (m,))), flush=True)
for combo in [("minilm", "wordllama"), ("minilm", "paraL3"), ("minilm", "wordllama", "paraL3")]:
    for r in [0.35, 0.45]:
        print(fmt(f"greedy r={r} {'+'.join(combo)}", score(greedy(r), combo)), flush=True)
