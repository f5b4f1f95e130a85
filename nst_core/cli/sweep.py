"""``nst sweep``: one setting over a list of values, for every content image and style, as a
labelled grid with its table and metadata (:mod:`nst_core.experiments.sweep` does the work)."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Callable, Sequence

from PIL import Image

from ..experiments.report import FAILED_GREY, SWEEP_LOOK, make_grid, markdown_table, number
from ..experiments.sweep import MODES, sweep_tasks
from ..experiments.tasks import Outcome, Source, Task, outcome_row
from ..results import write_result
from ..settings import Settings
from .options import (CliError, Parser, RunsFailed, add_grid_command_arguments, read_sources,
                      settings_from_args, style_groups)
from .progress import perform_with_bar


def _grid_inputs(args: argparse.Namespace) -> tuple[list, list[list[Source]]]:
    groups = style_groups(args)
    if args.mode == "reconstruct":
        if groups != [[]] or args.mask:
            raise CliError("reconstruct mode takes no style images or masks")
    elif groups == [[]]:
        raise CliError(f"mode {args.mode!r} needs a style image (--style or --styles)")
    if not args.content:
        if args.mode != "texture":
            raise CliError(f"mode {args.mode!r} needs a content image")
        return [None], groups
    return read_sources(args.content, "content"), groups


SWEEP_HEADERS = ("Content", "Style", "Setting", "Status", "Total loss", "Content loss",
                 "Style loss", "Score", "SSIM", "Seconds", "Result")


def sweep_table_rows(rows: Sequence[dict]) -> list[list[str]]:
    """The grid's runs as table cells (a failed run shows its message; score and SSIM are the
    fixed scorer's, comparable across every run of the grid)."""
    cells = []
    for r in rows:
        losses, score = r["losses"] or {}, r["score"] or {}
        result = r["file"] if r["error"] is None else r["error"].replace("|", "/")
        cells.append([r["content"] or "-", " + ".join(r["styles"]) or "-", r["label"],
                      r["status"], *(number(v, 4) for v in (
                          losses.get("total"), losses.get("content"), losses.get("style"),
                          score.get("score"), score.get("ssim"), r["seconds"])), result])
    return cells


def write_grid(args: argparse.Namespace, settings: Settings, tasks: Sequence[Task],
               outcomes: Sequence[Outcome], pairs: int) -> list[dict]:
    """The grid image with its JSON (the one writer), the table beside it (.md) and the
    ``--metrics`` file; returns the rows."""
    rows = [outcome_row(t, o) for t, o in zip(tasks, outcomes)]
    size = next((o.image.size for o in outcomes if o.ok), (settings.size, settings.size))
    cells = [o.image if o.ok else Image.new("RGB", size, FAILED_GREY) for o in outcomes]
    labels = [t.label if o.ok else f"failed: {t.label}" for t, o in zip(tasks, outcomes)]
    columns = args.columns or (len(args.values) if pairs > 1 else None)
    counts = {k: sum(r["status"] == k for r in rows) for k in ("done", "resumed", "failed")}
    data = {"vary": args.vary, "mode": args.mode, "cells": rows, "runs": counts}
    grid = make_grid([(c, [label]) for c, label in zip(cells, labels)], columns, look=SWEEP_LOOK)
    write_result(grid, args.out, {"settings": settings.to_dict(), "sweep": data})
    Path(args.out).with_suffix(".md").write_text(
        markdown_table(SWEEP_HEADERS, sweep_table_rows(rows), "llllrrrrrrl"))
    if args.metrics:
        with open(args.metrics, "w") as fh:
            json.dump(data, fh, indent=1, default=str)
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="nst sweep",
        description="Run one setting over a list of values, for every content image and "
                    "style, and save a labelled grid (a row per content and style), a table "
                    "(.md) and the metadata (.json) beside it; each run's result goes in the "
                    "folder OUT_runs beside the grid, and running the same command again skips "
                    "runs whose results are there. Modes: stylize (default), reconstruct "
                    "(content only, from noise: vary content_layers to see what each layer "
                    "keeps), texture (style only, from noise: vary style_layers).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--content", nargs="+", metavar="PATH",
                        help="content images or folders of them (texture mode: optional)")
    parser.add_argument("--style", action="append", default=[],
                        help="style image; repeat to blend several in each run (reconstruct "
                             "mode: none)")
    parser.add_argument("--styles", nargs="+", metavar="PATH",
                        help="style images or folders of them, each its own row of the grid")
    parser.add_argument("--mask", action="append", metavar="PATH",
                        help="one mask per --style (white = that style applies)")
    parser.add_argument("--mode", default="stylize", choices=MODES, help="explore mode")
    parser.add_argument("--vary", required=True,
                        help="the setting to vary: a Settings field (style_weight, steps, "
                             "style_loss, content_layers, ...), preset, or method "
                             "(optimizer:param)")
    parser.add_argument("--values", required=True, nargs="+",
                        help="values to try; lists are comma-separated (relu1_1,relu2_1)")
    parser.add_argument("--columns", type=int, help="cells per grid row (default: up to 6 for "
                                                    "one content and style, else one row each)")
    parser.add_argument("--out", required=True,
                        help="grid PNG path (its metadata is also written beside it as .json)")
    parser.add_argument("--metrics", help="write per-cell losses and times as JSON here")
    add_grid_command_arguments(parser)
    return parser


def main(argv: Sequence[str], *, before_run: Callable[[], None] | None = None) -> int:
    """``nst sweep``; ``before_run`` is handed to Ray's workers (see
    :func:`nst_core.experiments.distributed.perform_on_ray`)."""
    args = build_parser().parse_args(argv)
    if args.columns is not None and args.columns < 1:
        raise CliError("--columns must be >= 1")
    n_styles = 0 if args.mode == "reconstruct" else max(1, len(args.style))
    settings = dataclasses.replace(settings_from_args(args, n_styles=n_styles), preview_every=0)
    contents, groups = _grid_inputs(args)
    masks = read_sources(args.mask, "mask") if args.mask else None
    folder = str(Path(args.out).with_suffix("")) + "_runs"
    tasks = sweep_tasks(contents, groups, settings, args.vary, args.values, folder,
                        mode=args.mode, masks=masks)
    outcomes = perform_with_bar(tasks, args, f"sweep {args.vary}", before_run=before_run)
    rows = write_grid(args, settings, tasks, outcomes, len(contents) * len(groups))
    failed = sum(r["status"] == "failed" for r in rows)
    if failed:
        raise RunsFailed(f"{failed} of {len(rows)} runs failed; their messages are in "
                         f"{Path(args.out).with_suffix('.md')}")
    return 0
