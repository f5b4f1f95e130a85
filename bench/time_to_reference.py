"""Time for each parameterization to reach the fixed scores L-BFGS on pixels reaches.

Runs one comparison (``python -m nst_core compare``: equal steps, every method scored by the
fixed scorer every 10 steps, outside its clock; a second run skips results already in --out).
The targets are the reference method's fixed score after a fifth, half and all of its steps
(its final score is the one the README's table asks about; the earlier ones show which method
is ahead early, where a short run stops). For each, it finds the first scored step at which
each method's image reaches it and prints the steps and seconds (the method's own clock: its
work only, which includes a DIP warm-up), or "not reached".

    python bench/time_to_reference.py [--size 256] [--steps 300] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os

import common  # noqa: F401
from common import CONTENT, ROOT, STYLE, machine
from nst_core.cli import compare as compare_cli
from nst_core.methods import DEFAULT_METHODS


# Fractions of the reference's steps whose scores are the targets: a short run's, a middle
# one's, and the full budget's.
TARGETS = (0.2, 0.5, 1.0)


def first_reaching(history: list[dict], target: float) -> dict | None:
    """The first scored point of a history at or below ``target``."""
    for point in history:
        if point.get("fixed_score", float("inf")) <= target:
            return point
    return None


def targets(history: list[dict], steps: int) -> list[dict]:
    """The reference's scored points nearest a fifth, half and all of its steps (each once)."""
    scored = [p for p in history if "fixed_score" in p and p["step"] > 0]
    nearest = (min(scored, key=lambda p, m=steps * f: abs(p["step"] - m)) for f in TARGETS)
    return list({p["step"]: p for p in nearest}.values())


def reach(history: list[dict], target: dict) -> str:
    hit = first_reaching(history, target["fixed_score"])
    if hit is None:
        return "not reached"
    return f"{hit['step']} / {hit['seconds']:.0f} ({hit['seconds'] / target['seconds']:.2f}x)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--reference", default="lbfgs:pixels")
    ap.add_argument("--methods", nargs="+", default=[m for m in DEFAULT_METHODS
                                                     if m != "lbfgs:pixels"])
    ap.add_argument("--content", default=CONTENT)
    ap.add_argument("--style", default=STYLE)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench_out", "time_to_reference"))
    args = ap.parse_args()
    compare_cli.main(["--content", args.content, "--style", args.style, "--size", str(args.size),
                  "--steps", str(args.steps), "--seed", "0", "--quiet", "--out", args.out,
                  "--methods", args.reference, *args.methods])
    with open(os.path.join(args.out, "results.json")) as fh:
        data = json.load(fh)
    rows = {r["method"]: r for r in data["rows"]}
    ref = rows[args.reference]
    marks = targets(data["histories"][args.reference], ref["steps"])
    print(f"machine: {machine()}; {args.size} px; target: {ref['label']}'s fixed score after "
          f"{ref['steps']} steps, {ref['score']:.4g} ({ref['seconds']:.0f} s)")
    print("Steps / seconds to reach the reference's score after N of its steps (seconds as a "
          "multiple of the reference's)")
    print("| method | " + " | ".join(f"{t['step']} steps: {t['fixed_score']:.3g}" for t in marks)
          + f" | score after {args.steps} steps | SSIM |")
    print("|---|" + "---:|" * (len(marks) + 2))
    for method in [args.reference, *args.methods]:
        r = rows[method]
        cells = [reach(data["histories"][method], t) for t in marks]
        print(f"| {r['label']} | " + " | ".join(cells) + f" | {r['score']:.4g} | "
              f"{r['ssim']:.3f} |")


if __name__ == "__main__":
    main()
