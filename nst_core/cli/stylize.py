"""``nst`` with no sub-command: stylize one content image, with a progress bar, previews and
metrics on request."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Sequence

from ..engine.schedule import stylize
from ..imaging import images
from ..records import Progress
from ..defaults import device_kind, hardware_values
from ..estimate import ESTIMATOR
from ..results import check_output_path, result_metadata, write_result
from ..settings import Settings, validate
from .options import CliError, Parser, add_settings_arguments, settings_from_args
from .progress import follow_with_bar


def build_parser(commands: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The stylize command's options; ``commands`` (the sub-commands' names) are named in its
    description."""
    parser = Parser(
        prog="nst",
        description="Neural style transfer (Gatys et al.) on VGG19: optimize an image so its "
                    "VGG19 features match the content image and its feature statistics match "
                    "the style image(s). Also python -m nst_core. Without --size and --steps "
                    "the run fits the hardware, as the app's form does: on a GPU 512 px, 300 "
                    "steps; on a CPU 256 px from a 128 px level (50 + 12 steps); the choice "
                    "and its time estimate are printed first." +
                    (f" Other commands: {', '.join(commands)} (nst COMMAND --help)."
                     if commands else ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--content", required=True, help="content image (any format Pillow reads)")
    parser.add_argument("--style", required=True, action="append",
                        help="style image; repeat for several styles")
    parser.add_argument("--mask", action="append", metavar="PATH",
                        help="spatial control: one mask per --style, in the same order (white = "
                             "that style applies; areas no mask covers get no style)")
    parser.add_argument("--out", required=True,
                        help="output image: .png (settings embedded), .jpg/.jpeg or .webp; the "
                             "settings and run facts are also written beside it as .json")
    g = add_settings_arguments(parser)["output"]
    g.add_argument("--preview-dir", help="directory for preview PNGs (step_0010.png, ...)")
    g.add_argument("--metrics", help="write run metrics as JSON to this file")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def metrics_dict(final: Progress, history: list[dict]) -> dict:
    run = final.run
    return {"param": run.param, "optimizer": run.optimizer, "steps": final.step,
            "size": list(final.size), "device": run.device, "seconds": final.seconds,
            "seconds_per_step": final.seconds_per_step, "parameters": run.parameters,
            "lr": run.lr, "seed": run.seed, "losses": final.losses, "history": history}


def _fitted(args: argparse.Namespace, settings: Settings) -> Settings:
    """With neither --size nor --steps: the hardware's starting run (nst_core.defaults), each
    field the user gave kept; what was chosen and its estimate are printed on stderr."""
    if hasattr(args, "size") or hasattr(args, "steps"):
        return settings
    kind = device_kind(settings.device)
    given = set(vars(args))
    if "method" in given:
        given |= {"optimizer", "param"}
    values = {k: v for k, v in hardware_values(kind).items() if k not in given}
    settings = dataclasses.replace(settings, **values)
    validate(settings, n_styles=len(args.style))
    levels = f", multi-scale from {settings.min_size} px" if settings.multiscale else ""
    word = "GPU" if kind == "cuda" else "CPU"
    print(f"no --size/--steps: this {word}'s defaults, {settings.size} px, {settings.steps} "
          f"steps{levels} (estimating the time...)", file=sys.stderr, flush=True)
    width, height = images.check_header(args.content, name="content image")
    guess = ESTIMATOR.estimate(settings, width, height)
    if guess is not None:
        print(f"estimate: {guess.text()} for {guess.evaluations} steps", file=sys.stderr)
    return settings


def _check_inputs(args: argparse.Namespace) -> None:
    """The input and output paths, checked before any work."""
    for what, paths in (("--content", [args.content]), ("--style", args.style),
                        ("--mask", args.mask or [])):
        for path in paths:
            if os.path.isdir(path):
                raise CliError(f"{what} {path} is a folder; give one image file (nst compare "
                               "and nst sweep take folders)")
    try:
        check_output_path(args.out)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def main(argv: Sequence[str], commands: Sequence[str] = ()) -> int:
    """Stylize one content image as the options say; the exit status (errors raise)."""
    args = build_parser(commands).parse_args(argv)
    _check_inputs(args)
    settings = _fitted(args, settings_from_args(args, n_styles=len(args.style)))
    if args.preview_dir:
        os.makedirs(args.preview_dir, exist_ok=True)

    def save_preview(p: Progress) -> None:
        if args.preview_dir and p.preview is not None and not p.done:
            p.preview.save(os.path.join(args.preview_dir, f"step_{p.step:04d}.png"))

    if not args.quiet:  # the network loads before the first step (seconds on a CPU)
        print("loading VGG19 and the images...", file=sys.stderr, flush=True)
    gen = stylize(args.content, tuple(args.style), settings, masks=args.mask)
    final, history = follow_with_bar(gen, settings.steps, args.quiet, on_record=save_preview)
    image, js = write_result(final.image, args.out, result_metadata(settings, final))
    note = images.saturation_note(final.image, images.load_image(args.content))
    if note:
        print(f"warning: {note}", file=sys.stderr)
    embedded = "settings embedded" if image.suffix.lower() == ".png" else \
        f"{image.suffix[1:].upper()} holds no settings: they are in the JSON"
    written = [f"{image} (the result; {embedded})", f"{js} (settings and run facts)"]
    if args.metrics:
        with open(args.metrics, "w") as fh:
            json.dump(metrics_dict(final, history), fh, indent=1)
        written.append(f"{args.metrics} (metrics)")
    if args.preview_dir:
        written.append(f"{args.preview_dir}/step_*.png (previews)")
    print("wrote:\n" + "\n".join(f"  {w}" for w in written))
    return 0
