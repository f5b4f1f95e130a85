"""Time for each parameterization to reach the fixed score that L-BFGS on pixels ends with.

Runs one comparison (``python -m nst_core compare``: equal steps, every method scored by the
fixed scorer every 10 steps, outside its clock; a second run skips results already in --out),
takes the reference method's final fixed score as the target, and finds the first scored step
at which each other method's image reaches it. Prints, per method, the steps and seconds (its
own clock: its work only, which includes a DIP warm-up) to reach the target, or "not reached".

    python bench/time_to_reference.py [--size 256] [--steps 300] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os

import common  # noqa: F401
from common import CONTENT, ROOT, STYLE, machine
from nst_core import compare


def first_reaching(history: list[dict], target: float) -> dict | None:
    """The first scored point of a history at or below ``target``."""
    for point in history:
        if point.get("fixed_score", float("inf")) <= target:
            return point
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--reference", default="lbfgs:pixels")
    ap.add_argument("--methods", nargs="+", default=[m for m in compare.DEFAULT_METHODS
                                                     if m != "lbfgs:pixels"])
    ap.add_argument("--content", default=CONTENT)
    ap.add_argument("--style", default=STYLE)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench_out", "time_to_reference"))
    args = ap.parse_args()
    compare.main(["--content", args.content, "--style", args.style, "--size", str(args.size),
                  "--steps", str(args.steps), "--seed", "0", "--quiet", "--out", args.out,
                  "--methods", args.reference, *args.methods])
    with open(os.path.join(args.out, "results.json")) as fh:
        data = json.load(fh)
    rows = {r["method"]: r for r in data["rows"]}
    ref = rows[args.reference]
    target = ref["score"]
    print(f"machine: {machine()}; {args.size} px; target: {ref['label']}'s fixed score after "
          f"{ref['steps']} steps, {target:.4g} ({ref['seconds']:.0f} s)")
    print("| method | steps to reach | seconds to reach | vs reference's seconds | "
          f"score after {args.steps} steps |")
    print("|---|---:|---:|---:|---:|")
    for method in args.methods:
        r = rows[method]
        hit = first_reaching(data["histories"][method], target)
        if hit is None:
            reach = f"not reached in {r['steps']} | - | -"
        else:
            reach = f"{hit['step']} | {hit['seconds']:.0f} | {hit['seconds'] / ref['seconds']:.2f}x"
        print(f"| {r['label']} | {reach} | {r['score']:.4g} |")


if __name__ == "__main__":
    main()
