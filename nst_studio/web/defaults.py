"""The form's starting values for the hardware the server runs on.

On a GPU a step of VGG19 at 512 px takes milliseconds, so the form starts from the full quality
run: 512 px, 300 L-BFGS steps on pixels. On a CPU the same run takes minutes, and a public demo
whose first run takes ten minutes loses its visitor; so a CPU starts from a coarse-to-fine run
(nst_core.engine.schedule) that spends most of its steps on a small level, where they are cheap
and where the style's large structures form, and a few on the output size to restore detail.
What these starting values take: docs/calibration.md#starting-values-for-the-device.

``NST_DEFAULT_SIZE`` and ``NST_DEFAULT_STEPS`` override the size and steps chosen here; every
value stays within the server's limits (``NST_MAX_SIZE``, ``NST_MAX_STEPS``), and where
``NST_MAX_SECONDS`` is set the steps are lowered until the estimate fits.
"""
from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from typing import Any

from nst_core import estimate
# The device's starting run is the library's, shared with the command line.
from nst_core.defaults import HARDWARE_DEFAULTS, device_kind, hardware_values  # noqa: F401
from nst_core.settings import Settings
from .limits import Limits

def start_settings(limits: Limits, cls: type = Settings, *, kind: str | None = None,
                   lock: AbstractContextManager | None = None) -> Settings:
    """The settings a new form (or an API call's unset fields) starts from: the device's
    defaults, then ``NST_DEFAULT_SIZE``/``NST_DEFAULT_STEPS``, within the server's limits."""
    values = hardware_values(kind or device_kind())
    if limits.default_size is not None:
        values["size"] = limits.default_size
    if limits.default_steps is not None:
        values["steps"] = limits.default_steps
    values["size"] = min(values["size"], limits.max_size)
    values["steps"] = min(values["steps"], limits.max_steps)
    if values.get("multiscale") and values.get("min_size", 0) >= values["size"]:
        values["multiscale"] = False  # a size at or below the smallest level: one level
    settings = dataclasses.replace(cls(), **values)
    if limits.max_seconds is not None:
        fit = estimate.fitting(settings, limits.max_seconds, lock=lock).get("steps", 1)
        settings = dataclasses.replace(settings, steps=min(settings.steps, fit))
    return settings
