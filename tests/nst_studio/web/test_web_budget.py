"""A comparison's budget: equal steps or equal time."""
from __future__ import annotations


import pytest

from nst_core.settings import Settings
from nst_studio.web import budget

from conftest import FORM_LIMITS as LIMITS


def test_compare_settings_share_steps_or_time():
    s = Settings(steps=40)
    assert budget.compare_settings(s, "steps", 5, LIMITS) is s
    timed = budget.compare_settings(s, "time", "2.5", LIMITS)
    assert timed.time_budget == 2.5 and timed.steps == LIMITS.max_steps
    for seconds, message in ((0, "must be > 0"), ("", "is empty"), ("x", "must be a number"),
                             (float("nan"), "finite")):
        with pytest.raises(ValueError, match=message):
            budget.compare_settings(s, "time", seconds, LIMITS)
    with pytest.raises(ValueError, match="unknown budget 'hours'"):
        budget.compare_settings(s, "hours", 1, LIMITS)


def test_starting_budgets_share_a_minute_on_a_cpu_and_steps_on_a_gpu():
    from nst_core.settings import Settings
    from nst_studio.web import budget as b

    assert b.compare_start(3, "cpu") == ("time", 16.0)
    assert b.compare_start(3, "cuda")[0] == "steps"
    assert b.explore_start(3, "cpu") == 8.0 and b.explore_start(3, "cuda") == 0.0
    assert b.timed(Settings(), 5).time_budget == 5
    assert b.timed(Settings(time_budget=3.0), 0).time_budget == 3.0  # the form's own stays
    with pytest.raises(ValueError, match="Seconds per run must be >= 0"):
        b.timed(Settings(), -1)
