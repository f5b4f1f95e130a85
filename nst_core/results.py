"""Result files: the one writer of a result PNG and the JSON beside it.

Every interface (the CLI, the app, compare, sweep) saves results here, so a result always
carries the same metadata: the settings to rerun it, with the seed actually used, the final
losses, and facts about the run. :func:`nst_core.imaging.images.read_png_settings` reads it back.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from PIL import Image

from .imaging import images
from .records import Progress
from .settings import Settings


_SKIP = object()  # marks a run fact with no JSON form (a tensor, a function ...)


def _plain(value: Any) -> Any:
    """``value`` as JSON data (tuples become lists), or ``_SKIP`` if it has no JSON form."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _SKIP
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return _SKIP if any(v is _SKIP for v in items) else items
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        items = {k: _plain(v) for k, v in value.items()}
        return _SKIP if any(v is _SKIP for v in items.values()) else items
    return _SKIP


def result_metadata(settings: Settings, record: Progress, *, stopped: bool = False,
                    extra: Mapping[str, Any] | None = None) -> dict:
    """What a result carries: ``settings`` (with the seed the run used, so a run asked with a
    random seed can be repeated), ``losses``, ``run`` (the record's run facts that have a JSON
    form, plus ``step`` and ``stopped``) and any ``extra`` entries."""
    used = settings
    if record.seed is not None:
        used = dataclasses.replace(settings, seed=record.seed)
    run = {k: v for k, v in ((k, _plain(v)) for k, v in record.info.items()) if v is not _SKIP}
    run.update(step=record.step, stopped=stopped)
    return {"settings": used.to_dict(), "losses": dict(record.losses), "run": run,
            **dict(extra or {})}


def json_path(png_path: str | os.PathLike) -> Path:
    """Where the JSON of a result PNG goes: beside it, same name, ``.json``."""
    return Path(png_path).with_suffix(".json")


# Result formats by file extension. PNG holds the settings in a text chunk; JPEG and WebP
# carry none, so their settings live only in the JSON beside them.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
JPEG_QUALITY = 95  # Pillow's default of 75 shows blocking on painted textures


def check_output_path(path: str | os.PathLike, what: str = "--out") -> str:
    """The format a result file at ``path`` is written in, checked before any work: not a
    folder, a known extension, a folder that exists and can be written to. ValueError
    naming the problem otherwise."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{what} {path} is a folder; give a file name in it, e.g. "
                         f"{p / 'result.png'}")
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ValueError(f"{what} {path}: unknown image extension {p.suffix or '(none)'!r}; "
                         f"choose from: {', '.join(FORMATS)}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{what} {path}: the folder {parent} does not exist")
    if p.exists() and not os.access(p, os.W_OK):
        raise ValueError(f"{what} {path}: no permission to write that file")
    try:  # what the folder really allows (a read-only mount, root's permissions, /proc)
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        raise ValueError(f"{what} {path}: cannot write in {parent} "
                         f"({exc.strerror or exc})") from None
    return fmt


def write_result(image: Image.Image, png_path: str | os.PathLike,
                 metadata: dict) -> tuple[Path, Path]:
    """Write the image in the format its extension names (:data:`FORMATS`; a PNG has
    ``metadata`` embedded) and the same metadata as JSON beside it.

    Creates the folder if needed; returns (image path, JSON path).
    """
    # One JSON form for both files; values JSON has no type for (a sweep cell's value may be
    # any setting's) are written as text.
    metadata = json.loads(json.dumps(metadata, default=str))
    png = Path(png_path)
    png.parent.mkdir(parents=True, exist_ok=True)
    fmt = FORMATS.get(png.suffix.lower(), "PNG")
    if fmt == "PNG":
        images.save_png(image, png, metadata)
    else:
        image.convert("RGB").save(png, fmt, quality=JPEG_QUALITY)
    js = json_path(png)
    js.write_text(json.dumps(metadata, indent=1, sort_keys=True))
    return png, js
