"""The starting run for the hardware a run goes on, when the user names no size or steps: the
app's form and the command line start from the same values.

On a GPU a step of VGG19 at 512 px takes milliseconds, so the start is the full quality run:
512 px, 300 L-BFGS steps on pixels. On a CPU the same run takes minutes (2.45 s a step at 512 px
on a 2-core machine), so a CPU starts from a coarse-to-fine run (nst_core.engine.schedule) that
spends most of its steps on a small level, where they are cheap and where the style's large
structures form, and a few on the output size to restore detail.
"""
from __future__ import annotations

from typing import Any

from .engine.device import resolve_device

# Per device kind: Settings fields of the starting run. Devices without an entry use "cpu".
# GPU: the full quality run. CPU: 256 px from a 128 px level (50 + 12 steps,
# schedule.default_level_steps), a run a visitor waits about a minute for
# (docs/calibration.md#starting-values-for-the-device).
HARDWARE_DEFAULTS: dict[str, dict[str, Any]] = {
    "cuda": {"size": 512, "steps": 300, "optimizer": "lbfgs", "param": "pixels",
             "multiscale": False},
    "cpu": {"size": 256, "steps": 50, "optimizer": "lbfgs", "param": "pixels",
            "multiscale": True, "min_size": 128},
}


def device_kind(device: str = "auto") -> str:
    """"cuda" or "cpu": the entry of :data:`HARDWARE_DEFAULTS` a device uses."""
    kind = resolve_device(device).type
    return kind if kind in HARDWARE_DEFAULTS else "cpu"


def hardware_values(kind: str) -> dict[str, Any]:
    if kind not in HARDWARE_DEFAULTS:
        raise ValueError(f"unknown device kind {kind!r}; choose from: "
                         f"{', '.join(HARDWARE_DEFAULTS)}")
    return dict(HARDWARE_DEFAULTS[kind])


