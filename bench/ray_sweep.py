"""Wall time of one 8-run sweep (2 contents x 2 styles x 2 style weights) run in-process and
on a local Ray instance.

    python bench/ray_sweep.py [--size 128] [--steps 20] [--workers 2] [--json PATH]

Rows: in-process, cold (one run after another, torch on every core; the first run pays for
loading VGG19 and the lazily imported parts of torch); in-process, warm (the same grid again with
another seed, in the same process); Ray, cold (the time to start Ray, start the workers and load
VGG19 in each is counted); Ray, warm (the grid with another seed on the same workers, whose
network is already loaded). Cold rows compare fresh commands, warm rows a long-lived process or
cluster. Each Ray worker runs with
``--ray-cpus 1`` (one core, one torch thread). Results go to a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common import machine  # noqa: E402
from nst_core.cli import sweep  # noqa: E402

CONTENTS = [os.path.join(ROOT, "examples", n) for n in ("astronaut.png", "chelsea.png")]
STYLES = [os.path.join(ROOT, "examples", n) for n in ("starry_night.jpg", "the_scream.jpg")]


def sweep_args(out: str, size: int, steps: int, seed: int) -> list[str]:
    return ["--content", *CONTENTS, "--styles", *STYLES, "--vary", "style_weight",
            "--values", "1e3", "1e5", "--size", str(size), "--steps", str(steps),
            "--seed", str(seed), "--out", out, "--quiet"]


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    if sweep.main(args) != 0:
        raise SystemExit("the sweep failed")
    return time.perf_counter() - start


def measure(size: int, steps: int, workers: int) -> list[dict]:
    import ray

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wall = timed(sweep_args(os.path.join(tmp, "here.png"), size, steps, 0))
        rows.append({"mode": "in-process, cold", "workers": 1, "wall": wall, "start": 0.0})
        wall = timed(sweep_args(os.path.join(tmp, "here2.png"), size, steps, 1))
        rows.append({"mode": "in-process, warm", "workers": 1, "wall": wall, "start": 0.0})
        start = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        started = time.perf_counter() - start
        try:
            ray_args = ["--ray", "local", "--ray-cpus", "1"]
            wall = timed(sweep_args(os.path.join(tmp, "cold.png"), size, steps, 0) + ray_args)
            rows.append({"mode": "Ray, cold", "workers": workers, "wall": wall + started,
                         "start": started})
            wall = timed(sweep_args(os.path.join(tmp, "warm.png"), size, steps, 1) + ray_args)
            rows.append({"mode": "Ray, warm", "workers": workers, "wall": wall, "start": 0.0})
        finally:
            ray.shutdown()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    rows = measure(args.size, args.steps, args.workers)
    print(f"8 runs ({args.size} px, {args.steps} L-BFGS steps each) on {machine()}")
    print("| Mode | Workers | Wall s | Ray start s | Runs/min | vs in-process |")
    print("|---|---:|---:|---:|---:|---:|")
    base = rows[0]["wall"]
    for r in rows:
        print(f"| {r['mode']} | {r['workers']} | {r['wall']:.1f} | {r['start']:.1f} | "
              f"{8 * 60 / r['wall']:.1f} | {base / r['wall']:.2f}x |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"size": args.size, "steps": args.steps, "machine": machine(),
                       "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
