"""How a comparison shares its budget: equal steps, or equal time for every method."""
from __future__ import annotations

import dataclasses
from typing import Any

from nst_core.defaults import device_kind, hardware_values
from nst_core.methods import parse_methods, with_method
from nst_core.settings import Settings

from .forms import read_number
from .limits import Limits


# How a comparison shares its budget: (label, value) for the Compare tab.
COMPARE_BUDGETS = (("Same number of steps", "steps"), ("Same time (seconds each)", "time"))


# A default comparison should end within a visitor's minute on any machine. On a GPU the form's
# steps take seconds per method; on a CPU every method gets the same share of the minute
# ("Same time"), less what loading VGG19 and scoring the results take (about 10 s on a 2-core
# CPU). A DIP method's warm-up is spent within its share.
COMPARE_MINUTE = 60.0
COMPARE_SETUP = 10.0


def _share(runs: int, levels: int = 1) -> float:
    """Seconds per level of each of ``runs`` runs for a default job to fit the minute (the
    time budget applies to each level of a multi-scale run: nst_core.engine.schedule)."""
    return max(3.0, float(int((COMPARE_MINUTE - COMPARE_SETUP) / max(1, runs * levels))))


def compare_start(n_methods: int, kind: str | None = None) -> tuple[str, float]:
    """The Compare tab's starting budget and seconds per method for ``n_methods`` methods on
    this machine's device kind ("cuda" or "cpu")."""
    kind = kind or device_kind()
    return ("steps" if kind == "cuda" else "time"), _share(n_methods)


def method_runs(settings: Settings, chosen: Any, budget: str, seconds: Any, limits: Limits
                ) -> list[tuple[str, Settings]]:
    """(label, settings) of each method a comparison runs, one after the other: each at the
    output size in one level (nst_core.experiments.compare runs no multi-scale schedule)."""
    settings = dataclasses.replace(compare_settings(settings, budget, seconds, limits),
                                   multiscale=False)
    return [(m.label, with_method(settings, m)) for m in parse_methods(list(chosen or ()))]


def compare_settings(settings: Settings, budget: str, seconds: Any, limits: Limits) -> Settings:
    """The settings of a comparison: equal steps as the form says, or equal time, where each
    method runs ``seconds`` of its own work and the step budget is this server's largest."""
    if budget == "steps":
        return settings
    if budget != "time":
        raise ValueError(f"unknown budget {budget!r}; choose from: steps, time")
    spent = read_number(seconds, "Seconds per method")
    if spent <= 0:
        raise ValueError(f"Seconds per method must be > 0, got {spent:g}")
    return dataclasses.replace(settings, time_budget=spent, steps=limits.max_steps)


def explore_start(n_runs: int, kind: str | None = None) -> float:
    """The Explore tab's starting seconds per run (per level of a multi-scale run): on a CPU
    each of the default sweep's runs gets the same share of a visitor's minute (see
    COMPARE_MINUTE); 0 (the steps decide) on a GPU."""
    kind = kind or device_kind()
    levels = 2 if hardware_values(kind).get("multiscale") else 1
    return 0.0 if kind == "cuda" else _share(n_runs, levels)


def timed(settings: Settings, seconds: Any) -> Settings:
    """``settings`` with each run (each level of a multi-scale run) stopped after ``seconds``
    of its own work; 0 or empty leaves the settings' own time budget."""
    spent = read_number(seconds, "Seconds per run") if seconds not in (None, "") else 0.0
    if spent < 0:
        raise ValueError(f"Seconds per run must be >= 0, got {spent:g}")
    return dataclasses.replace(settings, time_budget=spent) if spent else settings
