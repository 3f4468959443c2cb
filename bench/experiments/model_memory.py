"""The local model's memory and speed under onnxruntime/glibc settings, in separate processes.

Each variant runs in its own fresh process (glibc's malloc settings are process-wide), the variants
interleaved for ``--rounds`` rounds so the machine's other load falls on all of them alike. A
process loads the bundled model through ``handlers.local_model.load`` with the variant's settings
patched in, then embeds with ``LocalEmbedder``'s code: ``--singles`` banking77 queries one at a
time (``one_ms``: median and p99), ``--batches`` batches of 32 queries (``batch_ms``), and three
batches of 32 long texts (about 256 word pieces each). RSS (MB) after loading, after the short
texts, after the long ones, and the peak (VmHWM).

Variants: ``old`` (the arena on, nothing handed back, 32 texts a call whatever their length: before
bench/README.md's "Memory"), ``no-arena`` (the arena off, the build's freed memory trimmed), ``now``
(what handlers/local_model.py and handlers/similarity.py do: also buffers of 1 MB or more returned
when freed, and at most ``MAX_BATCH_TOKENS`` word pieces a call).

    python bench/experiments/model_memory.py [--rounds 3] [--singles 200] [--batches 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

VARIANTS = ("old", "no-arena", "now")


def _status(name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def one_process(variant: str, singles: int, batches: int) -> dict:
    from similarity import DEFAULT_CSV, read_rows

    from handlers import local_model, similarity

    if variant != "now":
        similarity.MAX_BATCH_TOKENS = similarity._BATCH * similarity.MAX_TOKENS  # batches of 32 whatever their length
    if variant == "old":
        original = local_model.session_options

        def with_arena(onnxruntime, threads):
            options = original(onnxruntime, threads)
            options.enable_cpu_mem_arena = True
            return options

        local_model.session_options = with_arena
        local_model.release_free_memory = lambda: None
        local_model.return_large_buffers = lambda: None
    elif variant == "no-arena":
        local_model.return_large_buffers = lambda: None
    texts = [row[0] for row in read_rows(DEFAULT_CSV)]
    embedder = similarity.LocalEmbedder()
    embedder.load()
    loaded = _status("VmRSS")
    for text in texts[:20]:
        embedder.embed([text])
    one = []
    for text in texts[20:20 + singles]:
        started = time.perf_counter()
        embedder.embed([text])
        one.append((time.perf_counter() - started) * 1000)
    batch = []
    for i in range(batches):
        chunk = texts[i * 32:(i + 1) * 32]
        started = time.perf_counter()
        embedder.embed(chunk)
        batch.append((time.perf_counter() - started) * 1000)
    short = _status("VmRSS")
    for i in range(3):
        embedder.embed([" ".join(texts[j * 7 + i:j * 7 + i + 12]) for j in range(32)])
    return {"variant": variant, "one_ms_p50": round(statistics.median(one), 2),
            "one_ms_p99": round(sorted(one)[int(len(one) * 0.99) - 1], 2),
            "batch_ms_p50": round(statistics.median(batch), 1), "rss_loaded_mb": loaded,
            "rss_after_short_mb": short, "rss_after_long_mb": _status("VmRSS"), "hwm_mb": _status("VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # one process's part
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(one_process(args.variant, args.singles, args.batches)))
        return
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            out = subprocess.run([sys.executable, __file__, "--variant", variant, "--singles", str(args.singles),
                                  "--batches", str(args.batches)], capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            results[variant].append(result)
            print(json.dumps(result), flush=True)
    base = results["old"]
    for variant in VARIANTS[1:]:
        ratios = {key: round(statistics.median(r[key] for r in results[variant])
                             / statistics.median(r[key] for r in base), 3)
                  for key in ("one_ms_p50", "one_ms_p99", "batch_ms_p50")}
        print(json.dumps({"variant": variant, "vs": "old", "ratio_of_medians": ratios}), flush=True)


if __name__ == "__main__":
    main()
