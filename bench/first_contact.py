"""What a visitor's first Compare and Explore take: the page's default comparison (its default
methods, budget and seconds) and default sweep (style weight, three values, its default seconds
per run) on the first example pair, run through the app's own job streams (previews, scoring
and the final grid included, the browser left out), against the estimate the page shows.

    python bench/first_contact.py

Prints one table row per job: the estimate, the measured seconds and the first record's delay.
The VGG19 load is done before timing (a server loads it once); the machine's calibration too.
"""
from __future__ import annotations

import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import machine  # noqa: E402
from nst_core.estimate import ESTIMATOR  # noqa: E402
from nst_core.experiments.compare import scoring_seconds  # noqa: E402
from nst_core.methods import DEFAULT_METHODS  # noqa: E402
from nst_core.imaging.vgg import get_vgg  # noqa: E402
from nst_studio.ui.examples import example_pairs  # noqa: E402
from nst_studio.web import budget, defaults, explore, inputs, streams  # noqa: E402
from nst_studio.web.limits import Limits  # noqa: E402


def _timed(updates) -> tuple[float, float]:
    start = time.monotonic()
    first = None
    for _ in updates:
        first = first if first is not None else time.monotonic() - start
    return time.monotonic() - start, first or 0.0


def main() -> None:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    limits = Limits.from_env()
    settings = defaults.start_settings(limits)
    content, style = example_pairs()[0]
    read = inputs.load_inputs(str(content), [str(style)])
    get_vgg()
    ESTIMATOR.calibration(settings.device)
    w, h = read.content.size
    rows = []

    methods = list(DEFAULT_METHODS[:3])  # the Compare tab's starting choice
    kind, seconds = budget.compare_start(len(methods))
    runs = budget.method_runs(settings, methods, kind, seconds, limits)
    guess = sum(ESTIMATOR.estimate(s, w, h).seconds + scoring_seconds(s, w, h) for _, s in runs)
    cmp_settings = budget.compare_settings(settings, kind, seconds, limits)
    took, first = _timed(streams.compare_job(read, cmp_settings, methods))
    rows.append((f"Compare {', '.join(methods)} ({kind}, {seconds:g} s)", guess, took, first))

    vary, values = explore.explore_defaults("stylize")
    per_run = budget.explore_start(len(explore.parse_values(vary, values)))
    cells = explore.cell_runs(settings, "stylize", vary, values, limits, per_run)
    guess = sum(ESTIMATOR.estimate(s, w, h).seconds for _, s in cells)
    plan = explore.explore_plan(budget.timed(settings, per_run), "stylize", vary, values,
                                limits, 1)
    took, first = _timed(streams.explore_updates(read, plan))
    rows.append((f"Explore {vary} = {values} ({per_run:g} s per run)", guess, took, first))

    print(f"machine: {machine()}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"content {content.name} {w}x{h}, style {style.name}; start settings: "
          f"{settings.size} px, {settings.steps} steps, multiscale {settings.multiscale}")
    print("| job | estimate (s) | measured (s) | first update (s) |")
    print("|---|---:|---:|---:|")
    for name, guess, took, first in rows:
        print(f"| {name} | {guess:.0f} | {took:.0f} | {first:.1f} |")


if __name__ == "__main__":
    main()
