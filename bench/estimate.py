"""The estimate before Run against the time the run then takes (nst_core.estimate).

    python bench/estimate.py [--quick] [--default]

One process: calibrate this machine (timed), then for each configuration estimate it (its
method's factor measured first, as the app does on first use), run it through the app's own
stream (nst_studio.web.streams.stylize_updates: previews every 10 steps, result PNG written) on
astronaut x The Starry Night, and print estimate, measured wall time, their ratio, and the
estimated peak memory beside the peak resident-memory growth of the run (Linux: VmHWM, reset
before each run). Calibration and runs share the process, so they share the machine's load;
the load average is printed before and after. ``--default`` adds the app's CPU default run.
``--quick`` is the smoke test's tiny version (no timing worth reading).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import CONTENT, STYLE, machine  # noqa: E402

from nst_core import estimate  # noqa: E402
from nst_core.settings import Settings  # noqa: E402
from nst_studio.web import defaults, inputs, streams  # noqa: E402
from nst_studio.web.limits import Limits  # noqa: E402

# (label, Settings fields): every parameterization, each optimizer, multi-scale and tiles.
CONFIGS = [
    ("L-BFGS · pixels", dict(size=128, steps=40)),
    ("L-BFGS · pixels", dict(size=256, steps=15)),
    ("Adam · pixels", dict(size=192, steps=30, optimizer="adam")),
    ("SGD · pixels", dict(size=128, steps=40, optimizer="sgd")),
    ("L-BFGS · FFT", dict(size=192, steps=30, param="fft")),
    ("Adam · DIP", dict(size=128, steps=30, optimizer="adam", param="dip")),
    ("L-BFGS · pyramid", dict(size=192, steps=30, param="pyramid")),
    ("L-BFGS · pixels, multi-scale 128→256", dict(size=256, steps=40, multiscale=True,
                                                  min_size=128)),
    ("Adam · pixels, tiles of 128 px", dict(size=256, steps=4, optimizer="adam", tile_size=128,
                                            tile_overlap=32)),
]
QUICK = [("L-BFGS · pixels", dict(size=48, steps=3)),
         ("Adam · FFT", dict(size=48, steps=3, optimizer="adam", param="fft")),
         ("L-BFGS · pixels, multi-scale", dict(size=64, steps=3, multiscale=True, min_size=32))]


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        return int(re.search(rf"{field}:\s+(\d+) kB", fh.read()).group(1)) * 1024


def _reset_peak() -> int | None:
    """Resident memory now, with the peak reset to it (None off Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _status("VmRSS")
    except OSError:
        return None


def measure(settings: Settings, read: inputs.Inputs) -> tuple[float, int | None]:
    """Wall seconds of the app's stream for one run, and its resident-memory growth."""
    before = _reset_peak()
    start = time.perf_counter()
    for update in streams.stylize_updates(read, settings):
        pass
    assert update.done
    seconds = time.perf_counter() - start
    return seconds, None if before is None else _status("VmHWM") - before


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--default", action="store_true",
                        help="also the app's default run for a CPU")
    args = parser.parse_args(argv)
    configs = list(QUICK if args.quick else CONFIGS)
    if args.default:
        start = defaults.start_settings(Limits(), kind="cpu")
        configs.append(("app default (CPU)", {f.name: getattr(start, f.name)
                                              for f in dataclasses.fields(start)}))
    print(f"Machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}")
    sides = (32, 48) if args.quick else estimate.PROBE_SIDES
    cal = estimate.calibrate("cpu", sides=sides, steps=3 if args.quick else estimate.PROBE_STEPS)
    est = estimate.Estimator()
    est.set(cal)
    print(f"Calibration: {cal.seconds:.1f} s; {cal.fixed * 1000:.1f} ms + "
          f"{cal.per_pixel * 1e6:.2f} µs per pixel per step; set-up {cal.overhead_steps:.1f} "
          f"steps; {cal.saved_per_pixel:.0f} B per pixel kept for backward\n")
    read = inputs.load_inputs(CONTENT, [STYLE])
    width, height = read.content.size
    print("| method | size | steps | estimate s | measured s | measured / estimate | "
          "estimated memory | measured RSS growth |")
    print("|---|---|---|---|---|---|---|---|")
    for label, fields in configs:
        settings = dataclasses.replace(Settings(), **{"preview_every": 10, **fields})
        guess = est.estimate(settings, width, height)
        seconds, grew = measure(settings, read)
        grown = "-" if grew is None else estimate.human_bytes(max(grew, 0))
        print(f"| {label} | {settings.size} | {guess.evaluations} | {guess.seconds:.1f} | "
              f"{seconds:.1f} | {seconds / guess.seconds:.2f} | "
              f"{estimate.human_bytes(guess.peak_bytes)} | {grown} |", flush=True)
    print(f"\nLoad average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
