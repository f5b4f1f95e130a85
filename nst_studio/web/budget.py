"""How a comparison shares its budget: equal steps, or equal time for every method."""
from __future__ import annotations

import dataclasses
from typing import Any

from nst_core.settings import Settings

from .forms import read_number
from .limits import Limits


# How a comparison shares its budget: (label, value) for the Compare tab.
COMPARE_BUDGETS = (("Same number of steps", "steps"), ("Same time (seconds each)", "time"))


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
