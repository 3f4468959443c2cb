"""`pitchin serve` with the local model switched off: the baseline of bench/memory.py.

The same server, started the same way, except that the local model is never loaded: the suggestion
index's warm-up loads nothing, and embedding gives zero vectors (so the message-vectors round still
stores its row and the run does the same work, minus the model). Not for use outside the benchmark.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from handlers import similarity  # noqa: E402


def _no_model(self) -> None:
    """LocalEmbedder.load without loading anything."""


def _zero_vectors(self, texts) -> np.ndarray:
    return np.zeros((len(texts), self.dim), np.float32)


similarity.LocalEmbedder.load = _no_model
similarity.LocalEmbedder.embed = _zero_vectors

if __name__ == "__main__":
    from bot.cli import main

    main(sys.argv[1:])
