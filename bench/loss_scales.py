"""The SCALE constant of each style and content loss, measured against the Gram and MSE losses.

Style: for the example pairs, the unweighted style loss of the content image itself (the
default start) with every registry entry; gram / variant, geometrically averaged over the pairs,
is the factor that puts the variant on the Gram loss's scale at the start, so the default
style_weight balances content and style alike for every entry. Content: a content loss is zero
at the content, so its scale is read where the photo is lost, on the style image resized to the
content's size (and on uniform noise); mse / variant likewise. An entry whose SCALE is
calibrated shows a geo-mean ratio near 1.

    python bench/loss_scales.py [--size 128]
"""
from __future__ import annotations

import argparse
import math
import os

import torch
import torch.nn.functional as F

import common  # noqa: F401
from common import ROOT, machine
from nst_core import Settings, prepare
from nst_core.losses.content import CONTENT_LOSSES
from nst_core.losses.style import STYLE_LOSSES

PAIRS = [("astronaut.png", "starry_night.jpg"), ("chelsea.png", "the_scream.jpg"),
         ("coffee.png", "woman-with-hat-matisse.jpg"), ("rocket.jpg", "shipwreck.jpg")]


def _paths(pair: tuple[str, str]) -> tuple[str, str]:
    return tuple(os.path.join(ROOT, "examples", name) for name in pair)  # type: ignore


def style_loss_at_content(pair: tuple[str, str], name: str, size: int) -> float:
    p = prepare(*_paths(pair), Settings(size=size, style_loss=name, content_weight=0.0,
                                        style_weight=1.0))
    with torch.no_grad():
        return float(p.objective(p.content)["style"])


def content_losses(pair: tuple[str, str], name: str, size: int) -> tuple[float, float]:
    """(loss of the style image, loss of noise) against the content."""
    p = prepare(*_paths(pair), Settings(size=size, content_loss=name, content_weight=1.0,
                                        style_weight=0.0))
    painting = F.interpolate(p.styles[0], size=p.content.shape[-2:], mode="bilinear",
                             align_corners=False, antialias=True)
    noise = torch.rand(p.content.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return tuple(float(p.objective(x)["content"]) for x in (painting, noise))


def _geo(ratios: list[float]) -> float:
    return math.exp(sum(map(math.log, ratios)) / len(ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--pairs", type=int, default=len(PAIRS), help="the first N pairs")
    args = parser.parse_args()
    pairs = PAIRS[:args.pairs]
    print(f"# {machine()}; {args.size} px; pairs: {', '.join(' x '.join(p) for p in pairs)}")
    print("| loss | kind | geo-mean ratio to the reference | SCALE in the code |")
    print("|---|---|---:|---:|")
    style = {n: [style_loss_at_content(p, n, args.size) for p in pairs] for n in STYLE_LOSSES}
    for name, values in style.items():
        ratio = _geo([g / v for g, v in zip(style["gram"], values)])
        print(f"| {name} | style, at the content | {ratio:.3g} | "
              f"{getattr(STYLE_LOSSES[name], 'SCALE', '-')} |")
    content = {n: [content_losses(p, n, args.size) for p in pairs] for n in CONTENT_LOSSES}
    for name, values in content.items():
        for k, what in enumerate(("style image", "noise")):
            ratio = _geo([m[k] / v[k] for m, v in zip(content["mse"], values)])
            print(f"| {name} | content, at the {what} | {ratio:.3g} | "
                  f"{getattr(CONTENT_LOSSES[name], 'SCALE', '-')} |")


if __name__ == "__main__":
    main()
