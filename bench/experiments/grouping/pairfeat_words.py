"""Does the words' view (week-local TF-IDF of word stems) tell fragments of one intent from related
intents better than MiniLM's, at the level of fine groups (average linkage 0.6)?"""
import re
from lab import *
TEXTS = [t for t, _ in ROWS]
WORD = re.compile(r"[a-z]+")
STOP = set("i my me the a an to is it of and in for on can you do how what why be have has was this that with from are not at if or there your when been will we am so get".split())
def stem(w): return w[:5]
def tfidf(idx):
    docs = [[stem(w) for w in WORD.findall(TEXTS[i].lower()) if w not in STOP] for i in idx]
    vocab = {}
    for d in docs:
        for w in d: vocab.setdefault(w, len(vocab))
    m = np.zeros((len(docs), len(vocab)))
    for r, d in enumerate(docs):
        for w in d: m[r, vocab[w]] = 1
    df = m.sum(0); m = m * np.log(len(docs) / df)
    return unit(m)
rows = []
for s in [1, 2, 3]:
    for idx, cats in WEEKS[s][:25]:
        x = week_vectors(("minilm",), idx); ca = np.array(cats); t = tfidf(idx)
        lab = ig._average_linkage(x @ x.T, 0.6)
        gs = [np.flatnonzero(lab == g) for g in np.unique(lab)]
        gs = [g for g in gs if len(g) >= 2]
        maj = [Counter(ca[g]).most_common(1)[0][0] for g in gs]
        cm = unit(np.stack([x[g].mean(0) for g in gs])); ct = unit(np.stack([t[g].mean(0) for g in gs]))
        iu = np.triu_indices(len(gs), 1)
        rows.append((np.array([maj[i] == maj[j] for i, j in zip(*iu)]), (cm @ cm.T)[iu], (ct @ ct.T)[iu]))
y = np.concatenate([r[0] for r in rows]); a = np.concatenate([r[1] for r in rows]); b = np.concatenate([r[2] for r in rows])
def z(v): return (v - v.mean()) / v.std()
for n, sc in {"minilm": a, "words": b, "minilm+0.5 words": z(a) + 0.5 * z(b), "minilm+words": z(a) + z(b), "min": np.minimum(z(a), z(b))}.items():
    o = np.argsort(-sc, kind="stable"); ys = y[o]; fp = np.cumsum(~ys); tp = np.cumsum(ys)
    print(f"{n:18s} same pairs caught at 50/150/400 wrong:", [int(tp[np.searchsorted(fp, k)]) for k in (50, 150, 400)])
