"""Pooling variants over MiniLM's token states: IDF / SIF weighting from the history's word pieces."""
import pickle
from lab import *
from handlers.similarity import _minilm, ModelFiles, LocalEmbedder
CACHE = Path("/tmp/igroup-vec/tokens.pkl")
texts = [t for t, _ in ROWS]
if CACHE.exists():
    IDS, HID = pickle.load(open(CACHE, "rb"))
else:
    session, tok = _minilm(ModelFiles.bundled())
    IDS, HID = [], []
    for e in tok.encode_batch(texts):
        ids = np.asarray(e.ids, np.int64)[None]
        h = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})[0][0]
        IDS.append(ids[0]); HID.append(h.astype(np.float32))
    CACHE.parent.mkdir(exist_ok=True, parents=True)
    pickle.dump((IDS, HID), open(CACHE, "wb"))
df = Counter()
tf = Counter()
for ids in IDS:
    df.update(set(ids.tolist())); tf.update(ids.tolist())
N = len(IDS); T = sum(tf.values())

def pooled(kind, a=1e-3, drop_special=False):
    out = np.zeros((N, HID[0].shape[1]), np.float32)
    for i, (ids, h) in enumerate(zip(IDS, HID)):
        if kind == "mean": w = np.ones(len(ids))
        elif kind == "idf": w = np.array([np.log(N / df[t]) for t in ids])
        elif kind == "sif": w = np.array([a / (a + tf[t] / T) for t in ids])
        if drop_special: w[0] = 0; w[-1] = 0
        out[i] = (w[:, None] * h).sum(0) / max(w.sum(), 1e-9)
    return unit(out)

if __name__ == "__main__":
    for name, kw in [("mean", {}), ("idf", {}), ("idf-nospecial", dict(drop_special=True)), ("sif1e-3", dict(a=1e-3)), ("sif1e-4", dict(a=1e-4)), ("sif1e-2", dict(a=1e-2))]:
        kind = name.split("-")[0].rstrip("0123456789e") if not name.startswith("sif") else "sif"
        VEC[name] = pooled(kind, **kw)
        for r in (0.40, 0.45, 0.5):
            print(fmt(f"{name} greedy {r}", score(greedy(r), models=(name,), seeds=range(0, 4))), flush=True)
