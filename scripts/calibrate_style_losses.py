"""Measure the SCALE constant of each style-loss variant against the Gram loss.

For several content/style pairs from examples/, the unweighted style loss of the content image
itself (the default starting point) is computed with every registry entry. The ratio
gram / variant, geometrically averaged over the pairs, is the factor that gives the variant the
Gram loss's magnitude at the start, so the default style_weight balances content and style
similarly. It prints the ratios with the SCALE currently in the code (a calibrated entry shows a
ratio near 1).

    python scripts/calibrate_style_losses.py [--size 128]
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nst_core import Settings  # noqa: E402
from nst_core.engine.prepare import prepare  # noqa: E402
from nst_core.losses.style import STYLE_LOSSES  # noqa: E402

PAIRS = [("astronaut.png", "starry_night.jpg"), ("chelsea.png", "the_scream.jpg"),
         ("coffee.png", "woman-with-hat-matisse.jpg"), ("rocket.jpg", "shipwreck.jpg")]


def unweighted_style_loss(content: str, style: str, name: str, size: int) -> float:
    s = Settings(size=size, style_loss=name, content_weight=0.0, style_weight=1.0)
    p = prepare(content, style, s)
    with torch.no_grad():
        return float(p.objective(p.content)["style"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    ex = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
    table = {name: [unweighted_style_loss(os.path.join(ex, c), os.path.join(ex, s), name,
                                          args.size) for c, s in PAIRS]
             for name in STYLE_LOSSES}
    print(f"unweighted style loss at init=content, {args.size} px; ratio = gram / variant")
    for name, values in table.items():
        ratios = [g / v for g, v in zip(table["gram"], values)]
        geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
        scale = getattr(STYLE_LOSSES[name], "SCALE", None)
        print(f"{name:10s} losses {' '.join(f'{v:10.4g}' for v in values)}  "
              f"ratios {' '.join(f'{r:8.3g}' for r in ratios)}  geo-mean {geo:8.3g}  "
              f"(SCALE in code: {scale})")


if __name__ == "__main__":
    main()
