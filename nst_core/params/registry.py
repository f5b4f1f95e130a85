"""The parameterizations by name: what the optimizer actually changes. Each entry lives beside
its factory (:mod:`.pixels`, :mod:`.fft`, :mod:`.dip`, :mod:`.pyramid`,
:mod:`.brushstrokes`, :mod:`.cppn`); a new one is a module
with its factory and entry, and one line here. Its learning rates are measured:
docs/calibration.md#learning-rates (``bench/calibrate.py lr`` re-measures them)."""
from __future__ import annotations

from typing import Any, Mapping

from ..fields import option_values
from .base import Parameterization
from .brushstrokes import BRUSHSTROKES
from .cppn import CPPN_ENTRY
from .dip import DIP
from .fft import FFT
from .pixels import PIXELS
from .pyramid import PYRAMID

PARAMETERIZATIONS: dict[str, Parameterization] = {
    "pixels": PIXELS, "fft": FFT, "dip": DIP, "pyramid": PYRAMID,
    "brushstrokes": BRUSHSTROKES, "cppn": CPPN_ENTRY}


def get_param(name: str) -> Parameterization:
    if name not in PARAMETERIZATIONS:
        raise ValueError(f"unknown parameterization {name!r}; choose from: "
                         f"{', '.join(PARAMETERIZATIONS)}")
    return PARAMETERIZATIONS[name]


def check_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """ValueError naming the option unless ``options`` are ones the parameterization ``name``
    takes, each of its type and in its range; their values with the defaults filled in."""
    return option_values(name, get_param(name).options, options)
