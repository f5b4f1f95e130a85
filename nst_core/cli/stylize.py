"""``nst`` with no sub-command: stylize one content image, with a progress bar, previews and
metrics on request."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from ..engine.schedule import stylize
from ..imaging import images
from ..records import Progress
from ..results import result_metadata, write_result
from .options import add_settings_arguments, settings_from_args
from .progress import follow_with_bar


def build_parser(commands: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The stylize command's options; ``commands`` (the sub-commands' names) are named in its
    description."""
    parser = argparse.ArgumentParser(
        prog="nst",
        description="Neural style transfer (Gatys et al.) on VGG19: optimize an image so its "
                    "VGG19 features match the content image and its feature statistics match "
                    "the style image(s). Also python -m nst_core." +
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
                        help="output PNG path (settings embedded; the same metadata is written "
                             "beside it as .json)")
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


def main(argv: Sequence[str], commands: Sequence[str] = ()) -> int:
    """Stylize one content image as the options say; the exit status (errors raise)."""
    args = build_parser(commands).parse_args(argv)
    settings = settings_from_args(args, n_styles=len(args.style))
    if args.preview_dir:
        os.makedirs(args.preview_dir, exist_ok=True)

    def save_preview(p: Progress) -> None:
        if args.preview_dir and p.preview is not None and not p.done:
            p.preview.save(os.path.join(args.preview_dir, f"step_{p.step:04d}.png"))

    gen = stylize(args.content, tuple(args.style), settings, masks=args.mask)
    final, history = follow_with_bar(gen, settings.steps, args.quiet, on_record=save_preview)
    write_result(final.image, args.out, result_metadata(settings, final))
    note = images.saturation_note(final.image, images.load_image(args.content))
    if note:
        print(f"warning: {note}", file=sys.stderr)
    if args.metrics:
        with open(args.metrics, "w") as fh:
            json.dump(metrics_dict(final, history), fh, indent=1)
    return 0
