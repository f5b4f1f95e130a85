"""A method: an OPTIMIZER:PARAM pair (``adam:fft``), parsed, applied to settings and labelled
here once, for the comparison, the sweep, the command line and the app alike."""
from __future__ import annotations

import dataclasses
from typing import NamedTuple, Sequence

from .optim.registry import OPTIMIZERS
from .params.registry import PARAMETERIZATIONS
from .settings import Settings

# Every parameterization at its best optimizer (the registry's ``best``), in registry order.
DEFAULT_METHODS = tuple(f"{p.best}:{name}" for name, p in PARAMETERIZATIONS.items())
OPTIMIZER_LABELS = {"lbfgs": "L-BFGS", "adam": "Adam", "sgd": "SGD"}
PARAM_LABELS = {"pixels": "pixels", "fft": "FFT", "dip": "DIP", "pyramid": "pyramid",
                "brushstrokes": "brushstrokes", "cppn": "CPPN"}


class Method(NamedTuple):
    """An optimizer and a parameterization (equal to the ``(optimizer, param)`` tuple)."""

    optimizer: str
    param: str

    @property
    def key(self) -> str:
        return f"{self.optimizer}:{self.param}"

    @property
    def label(self) -> str:
        return method_label(self.optimizer, self.param)


def parse_method(text: str) -> Method:
    """``"adam:fft"`` -> ``Method("adam", "fft")`` (case and spaces ignored); ValueError naming
    the choices otherwise."""
    optimizer, sep, param = str(text).strip().partition(":")
    if not sep:
        raise ValueError(f"method {text!r} is not OPTIMIZER:PARAM: write it as optimizer:param, "
                         f"e.g. adam:fft; optimizers: {', '.join(OPTIMIZERS)}; "
                         f"parameterizations: {', '.join(PARAMETERIZATIONS)}")
    optimizer, param = optimizer.strip().lower(), param.strip().lower()
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"method {text!r}: unknown optimizer {optimizer!r}; choose from: "
                         f"{', '.join(OPTIMIZERS)}")
    if param not in PARAMETERIZATIONS:
        raise ValueError(f"method {text!r}: unknown parameterization {param!r}; choose from: "
                         f"{', '.join(PARAMETERIZATIONS)}")
    return Method(optimizer, param)


def parse_methods(methods: Sequence[str] | str) -> list[Method]:
    """Every method of a comparison, checked: at least one, none listed twice."""
    if isinstance(methods, str):
        methods = [methods]
    if not methods:
        raise ValueError("no methods to compare; give at least one OPTIMIZER:PARAM "
                         f"(e.g. {' '.join(DEFAULT_METHODS)})")
    parsed: list[Method] = []
    for text in methods:
        method = parse_method(text)
        if method in parsed:
            raise ValueError(f"method {method.key} is listed twice")
        parsed.append(method)
    return parsed


def with_method(settings: Settings, method: Method | str) -> Settings:
    """``settings`` with the method's optimizer and parameterization; an explicit learning rate
    (``settings.lr``) is kept and applies to every method, else each starts from its own."""
    method = parse_method(method) if isinstance(method, str) else method
    return dataclasses.replace(settings, optimizer=method.optimizer, param=method.param)


def method_label(optimizer: str, param: str) -> str:
    """Human label, e.g. ``"Adam · FFT"``."""
    return f"{OPTIMIZER_LABELS.get(optimizer, optimizer)} · {PARAM_LABELS.get(param, param)}"


def method_value(settings: Settings) -> str:
    """The method ``settings`` run, as ``optimizer:param``."""
    return f"{settings.optimizer}:{settings.param}"


def available_methods() -> list[tuple[str, str]]:
    """(label, "optimizer:param") for every pair the registries can run with a default learning
    rate, parameterization by parameterization: a new registry entry shows up by itself."""
    return [(method_label(o, name), f"{o}:{name}") for name, param in PARAMETERIZATIONS.items()
            for o in OPTIMIZERS if o in param.lr]
