"""Re-measure the calibration constants (docs/calibration.md): one section per family.

    python bench/calibrate.py lr [--params pixels fft dip pyramid] [--optimizers lbfgs adam sgd]
                                 [--sizes 64 128] [--steps 12 40] [--rates ...]
    python bench/calibrate.py warmup [--sizes 128 256] [--steps 100 200 300] [--lrs 0.01 0.03 0.1]
    python bench/calibrate.py dip-rate [--size 128] [--steps 150] [--warmups 100 300]
                                       [--rates 1e-2 5e-3 2e-3 1.2e-3]
    python bench/calibrate.py style-scales [--size 128]
    python bench/calibrate.py content-scales [--size 128]

The protocol of every section is the one its constant was chosen with: the default objective,
astronaut x Starry Night (examples/), seed 0, the content as the start image. Each prints the
machine first, then a markdown table; the registry's present value is marked ``*``. Nothing here
is a timing: the figures are losses, scores and PSNR, which do not depend on the machine's load.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F

from common import CONTENT, ROOT, STYLE, machine
from nst_core.engine.prepare import prepare
from nst_core.engine.schedule import stylize
from nst_core.experiments.scoring import make_scorer
from nst_core.losses.content import CONTENT_LOSSES
from nst_core.losses.style import STYLE_LOSSES
from nst_core.params import dip
from nst_core.params.registry import PARAMETERIZATIONS
from nst_core.records import Progress
from nst_core.settings import Settings

# The pairs the style-loss SCALE constants were measured on (content, style in examples/).
SCALE_PAIRS = [("astronaut.png", "starry_night.jpg"), ("chelsea.png", "the_scream.jpg"),
               ("coffee.png", "woman-with-hat-matisse.jpg"), ("rocket.jpg", "shipwreck.jpg")]


def default_rate(param: str, optimizer: str, size: int) -> float:
    """The registry's learning rate for this method at ``size`` px (a square image)."""
    rate = PARAMETERIZATIONS[param].lr[optimizer]
    return rate((1, 3, size, size)) if callable(rate) else rate


def first_and_last(settings: Settings) -> tuple[Progress, Progress]:
    """The step-0 record (the start image scored) and the final one of a run on the pair."""
    first = last = None
    for record in stylize(CONTENT, STYLE, settings):
        first = first or record
        last = record
    assert first is not None and last is not None and last.done
    return first, last


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def lr_rows(args: argparse.Namespace) -> Iterator[list[object]]:
    for param in args.params:
        for optimizer in args.optimizers:
            for size, steps in zip(args.sizes, args.steps):
                here = default_rate(param, optimizer, size)
                rates = args.rates or [here / 3, here, here * 3]
                for rate in rates:
                    s = Settings(size=size, steps=steps, param=param, optimizer=optimizer,
                                 lr=rate, init="content", seed=0, preview_every=0)
                    first, last = first_and_last(s)
                    ratio = last.losses["total"] / first.losses["total"]
                    mark = " *" if math.isclose(rate, here, rel_tol=1e-9) else ""
                    yield [param, optimizer, size, steps, f"{rate:.3g}{mark}", f"{ratio:.3g}"]


def section_lr(args: argparse.Namespace) -> str:
    """Total loss after / before, per parameterization, optimizer, size and rate."""
    return table(["param", "optimizer", "px", "steps", "rate", "loss after / before"],
                 list(lr_rows(args)))


@contextlib.contextmanager
def warmup_rate(lr: float) -> Iterator[None]:
    """DIP's warm-up at another Adam rate for the block (the module's constant, read per run)."""
    kept = dip.WARMUP_LR
    dip.WARMUP_LR = lr
    try:
        yield
    finally:
        dip.WARMUP_LR = kept


def section_warmup(args: argparse.Namespace) -> str:
    """How closely DIP's warm-up fits the content (PSNR) and where the run then starts."""
    rows = []
    for size in args.sizes:
        for lr in args.lrs:
            for steps in args.steps:
                s = Settings(size=size, steps=1, param="dip", optimizer="adam", init="content",
                             seed=0, preview_every=0, param_options={"warmup_steps": steps})
                with warmup_rate(lr):
                    first, _ = first_and_last(s)
                warm = first.run.warmup
                mark = " *" if lr == dip.WARMUP_LR and steps == dip.WARMUP_STEPS else ""
                rows.append([size, f"{lr:g}", f"{steps}{mark}", f"{warm.psnr:.1f}",
                             f"{first.losses['content']:.3g}"])
    return table(["px", "warm-up lr", "warm-up steps", "PSNR dB", "content loss at step 0"],
                 rows)


def scored(settings: Settings, scorer) -> tuple[float, float]:
    """The fixed scorer's score and luma SSIM to the content of the run's result."""
    _, last = first_and_last(settings)
    numbers = scorer(last.image)
    return numbers["score"], numbers["ssim"]


def section_dip_rate(args: argparse.Namespace) -> str:
    """SGD on the DIP generator (the log objective's relative rate) against L-BFGS on pixels."""
    scorer = make_scorer(CONTENT, STYLE, args.size, device="cpu")
    base = dict(size=args.size, steps=args.steps, init="content", seed=0, preview_every=0)
    score, ssim = scored(Settings(optimizer="lbfgs", param="pixels", **base), scorer)
    rows = [["-", "L-BFGS on pixels", f"{score:.3g}", f"{ssim:.3f}"]]
    here = default_rate("dip", "sgd", args.size)
    for warmup in args.warmups:
        for rate in args.rates:
            s = Settings(optimizer="sgd", param="dip", lr=rate,
                         param_options={"warmup_steps": warmup}, **base)
            score, ssim = scored(s, scorer)
            mark = " *" if math.isclose(rate, here, rel_tol=1e-9) else ""
            rows.append([warmup, f"{rate:g}{mark}", f"{score:.3g}", f"{ssim:.3f}"])
    return table(["warm-up steps", "SGD rate", "fixed score", "luma SSIM"], rows)


def unweighted_style_loss(content: str, style: str, name: str, size: int) -> float:
    """The style term alone (weight 1) of the content image itself, the default start."""
    s = Settings(size=size, style_loss=name, content_weight=0.0, style_weight=1.0)
    p = prepare(content, style, s)
    with torch.no_grad():
        return float(p.objective(p.content)["style"])


def over_pairs(measure, names: Sequence[str], pairs: Sequence[tuple[str, str]],
               size: int) -> dict[str, list]:
    """``measure(content, style, name, size)`` for every registry name on every example pair."""
    examples = os.path.join(ROOT, "examples")
    return {name: [measure(os.path.join(examples, c), os.path.join(examples, s), name, size)
                   for c, s in pairs] for name in names}


def section_style_scales(args: argparse.Namespace) -> str:
    """gram / variant per pair and its geometric mean, beside the SCALE in the code (an entry
    whose SCALE is calibrated shows a geo-mean near 1)."""
    pairs = SCALE_PAIRS[:args.pairs]
    losses = over_pairs(unweighted_style_loss, STYLE_LOSSES, pairs, args.size)
    rows = []
    for name, values in losses.items():
        ratios = [g / v for g, v in zip(losses["gram"], values)]
        rows.append([name, ", ".join(f"{r:.2g}" for r in ratios), f"{_geo(ratios):.3g}",
                     getattr(STYLE_LOSSES[name], "SCALE", "-")])
    return table(["style loss", f"gram / variant ({len(pairs)} pairs)", "geo-mean",
                  "SCALE in code"], rows)


def _geo(ratios: Sequence[float]) -> float:
    return math.exp(sum(map(math.log, ratios)) / len(ratios))


def content_losses(content: str, style: str, name: str, size: int) -> tuple[float, float]:
    """The content term alone (weight 1) where the photo is lost: of the style image resized
    to the content's size, and of uniform noise (a content loss is zero at the content)."""
    p = prepare(content, style, Settings(size=size, content_loss=name, content_weight=1.0,
                                         style_weight=0.0))
    painting = F.interpolate(p.styles[0], size=p.content.shape[-2:], mode="bilinear",
                             align_corners=False, antialias=True)
    noise = torch.rand(p.content.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return tuple(float(p.objective(x)["content"]) for x in (painting, noise))


def section_content_scales(args: argparse.Namespace) -> str:
    """mse / variant at the style image and at noise, geometric means over the pairs, beside
    the SCALE in the code (an entry whose SCALE is calibrated shows a geo-mean near 1 at the
    style image)."""
    pairs = SCALE_PAIRS[:args.pairs]
    losses = over_pairs(content_losses, CONTENT_LOSSES, pairs, args.size)
    rows = []
    for name, values in losses.items():
        for k, what in enumerate(("style image", "noise")):
            ratio = _geo([m[k] / v[k] for m, v in zip(losses["mse"], values)])
            rows.append([name, what, f"{ratio:.3g}",
                         getattr(CONTENT_LOSSES[name], "SCALE", "-")])
    return table(["content loss", "read at", f"mse / variant, geo-mean ({len(pairs)} pairs)",
                  "SCALE in code"], rows)


SECTIONS = {"lr": section_lr, "warmup": section_warmup, "dip-rate": section_dip_rate,
            "style-scales": section_style_scales, "content-scales": section_content_scales}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="section", required=True)
    lr = sub.add_parser("lr", help="learning rates per parameterization and optimizer")
    lr.add_argument("--params", nargs="+", default=list(PARAMETERIZATIONS))
    lr.add_argument("--optimizers", nargs="+", default=["lbfgs", "adam", "sgd"])
    lr.add_argument("--sizes", nargs="+", type=int, default=[64, 128])
    lr.add_argument("--steps", nargs="+", type=int, default=[12, 40],
                    help="steps at each of --sizes")
    lr.add_argument("--rates", nargs="+", type=float,
                    help="rates to try (default: the registry's x 1/3, 1, 3)")
    warm = sub.add_parser("warmup", help="DIP warm-up: its Adam rate and step count")
    warm.add_argument("--sizes", nargs="+", type=int, default=[128, 256])
    warm.add_argument("--steps", nargs="+", type=int, default=[100, 200, 300])
    warm.add_argument("--lrs", nargs="+", type=float, default=[0.01, 0.03, 0.1])
    rate = sub.add_parser("dip-rate", help="SGD's relative rate on the DIP generator")
    rate.add_argument("--size", type=int, default=128)
    rate.add_argument("--steps", type=int, default=150)
    rate.add_argument("--warmups", nargs="+", type=int, default=[100, 300])
    rate.add_argument("--rates", nargs="+", type=float, default=[1e-2, 5e-3, 2e-3, 1.2e-3])
    scales = sub.add_parser("style-scales", help="each style loss's SCALE against the Gram loss")
    scales.add_argument("--size", type=int, default=128)
    scales.add_argument("--pairs", type=int, default=len(SCALE_PAIRS), help="how many pairs")
    content = sub.add_parser("content-scales",
                             help="each content loss's SCALE against the MSE loss")
    content.add_argument("--size", type=int, default=128)
    content.add_argument("--pairs", type=int, default=len(SCALE_PAIRS), help="how many pairs")
    return ap


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.section == "lr" and len(args.sizes) != len(args.steps):
        raise SystemExit("--sizes and --steps need the same number of values")
    print(f"Machine: {machine()}")
    print(f"python bench/calibrate.py {args.section}: "
          f"{' '.join(SECTIONS[args.section].__doc__.split())}")
    print(SECTIONS[args.section](args))


if __name__ == "__main__":
    main()
