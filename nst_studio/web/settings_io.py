"""Settings read from files and JSON: a PNG made here (or by the CLI), a settings JSON file, an
API call's JSON. The device and weights source are always this server's own."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from nst_core.fields import bound_json
from nst_core.imaging import images
from nst_core.job import check_style
from nst_core.settings import Settings, from_dict, validate

from . import defaults
from .admission import check_job
from .limits import Limits


def _server_settings(data: Any, where: str, base: Settings) -> Settings:
    """A JSON object of Settings fields (or a result's metadata holding one) over ``base``;
    the device and weights source are this server's own, whatever the object says."""
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a JSON object of Settings fields, e.g. "
                         '{"steps": 100, "size": 256}')
    data = {k: v for k, v in data.items() if k not in ("device", "weights")}
    return from_dict(data, base)


def load_settings_file(path: str | os.PathLike) -> Settings:
    """Settings from a PNG made here (or by the CLI) or a settings JSON file. Fields of other
    versions are dropped."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path.name}: file not found")
    raw = path.read_bytes()
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        data = images.read_png_settings(raw)
    else:
        try:
            text = raw.decode("utf-8")
            bound_json(text, f"{path.name}: the settings")
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"{path.name}: neither a PNG made by this tool nor a settings "
                             "JSON file") from None
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]
    known = {f.name for f in dataclasses.fields(Settings)}
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k in known}
    settings = _server_settings(data, f"{path.name}: the settings", Settings())
    validate(settings, n_styles=len(settings.style_blend_weights or ()) or 1)
    return settings


def settings_from_json(text: str | None, limits: Limits, n_styles: int) -> Settings:
    """Settings for an API call: a JSON object of Settings fields over the defaults (the same
    object a result's settings JSON holds, or its ``settings`` part), checked once."""
    data: Any = {}
    if text and text.strip():
        bound_json(text, "settings")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"settings are not valid JSON ({exc.msg} at position {exc.pos})") \
                from None
    # Unset fields: the Settings defaults, at the size and steps the form starts from (the
    # method schedule stays the defaults': the same JSON runs alike on every server).
    start = defaults.start_settings(limits)
    settings = _server_settings(data, "settings", dataclasses.replace(
        Settings(), size=start.size, steps=start.steps))
    check_job(settings, limits, n_styles)
    check_style(settings, n_styles)
    return settings
