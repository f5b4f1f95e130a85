"""Does iterate averaging help? Each parameterization with Adam and SGD, with and without an
exponential moving average of the image (``Settings.average``), scored by the fixed scorer
(nst_core/experiments/scoring.py) on the saved 8-bit result: same inputs, steps and seed for every
cell.

    python bench/averaging.py [--size 128] [--steps 100] [--decays 0 0.9 0.99]

Prints a table: per parameterization and optimizer, the score (lower is better) and SSIM of
the luma to the content for each decay, and the score's change against no averaging.
"""
from __future__ import annotations

import argparse

import common  # noqa: F401
from common import CONTENT, STYLE, machine
from nst_core import Settings, run
from nst_core.params.registry import PARAMETERIZATIONS
from nst_core.experiments.scoring import make_scorer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--decays", type=float, nargs="+", default=[0.0, 0.9, 0.99])
    ap.add_argument("--params", nargs="+", default=list(PARAMETERIZATIONS))
    ap.add_argument("--optimizers", nargs="+", default=["adam", "sgd"])
    args = ap.parse_args()
    scorer = make_scorer(CONTENT, STYLE, args.size, device="cpu")
    print(f"# {machine()}; {args.size} px, {args.steps} steps, astronaut x Starry Night, seed 0")
    heads = " | ".join(f"decay {d:g}: score / SSIM" for d in args.decays)
    print(f"| method | {heads} | best decay |")
    print("|---|" + "---:|" * (len(args.decays) + 1))
    for param in args.params:
        for optimizer in args.optimizers:
            cells, scores = [], []
            for decay in args.decays:
                s = Settings(size=args.size, steps=args.steps, param=param, optimizer=optimizer,
                             average=decay, preview_every=0, device="cpu")
                numbers = scorer(run(CONTENT, STYLE, s).image)
                scores.append(numbers["score"])
                change = f" ({numbers['score'] / scores[0] - 1:+.1%})" if scores[1:] else ""
                cells.append(f"{numbers['score']:.4g}{change} / {numbers['ssim']:.3f}")
            best = args.decays[min(range(len(scores)), key=scores.__getitem__)]
            print(f"| {optimizer}:{param} | " + " | ".join(cells) + f" | {best:g} |", flush=True)


if __name__ == "__main__":
    main()
