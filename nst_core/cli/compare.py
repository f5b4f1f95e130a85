"""``nst compare``: several OPTIMIZER:PARAM methods on the same inputs, settings and budget,
per content and style, resumable, here or on Ray (:mod:`nst_core.experiments.compare` does the
work)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Callable, Sequence

from ..experiments.compare import (EQUAL_TIME_STEPS, SCORE_EVERY, CompareResult, compare_task,
                                   summarize_outcomes)
from ..methods import DEFAULT_METHODS, parse_methods, with_method
from ..experiments.tasks import Source, Task, make_task
from ..optim.registry import OPTIMIZERS
from ..params.registry import PARAMETERIZATIONS
from ..settings import Settings
from .options import (CliError, Parser, RunsFailed, add_grid_command_arguments, read_sources,
                      settings_from_args, style_groups)
from .progress import perform_with_bar


def _pair_folder(out: str, content: Source, group: Sequence[Source], pairs: int) -> str:
    if pairs == 1:
        return out
    return os.path.join(out, f"{content.stem}__{'+'.join(s.stem for s in group)}")


def comparison_tasks(args: argparse.Namespace, settings: Settings) -> list[list[Task]]:
    """Per content and style (each in its own folder when there are several), a task per
    method."""
    methods = parse_methods(args.methods)
    contents, groups = read_sources(args.content, "content"), style_groups(args)
    pairs = [(c, g) for c in contents for g in groups]
    return [[make_task(compare_task, with_method(settings, m), c, g,
                       _pair_folder(args.out, c, g, len(pairs)), m.label, m.key,
                       name=m.key.replace(":", "_")) for m in methods]
            for c, g in pairs]


def _overview(out: str, summaries: Sequence[tuple[list[Task], CompareResult | None, list]]
              ) -> None:
    """With several contents or styles: one table and JSON over all of them in ``out``."""
    lines, data = [], []
    for tasks, result, outcomes in summaries:
        task = tasks[0]
        head = f"{task.content.path} x {' + '.join(s.path for s in task.styles)}"
        errors = {t.value: o.error for t, o in zip(tasks, outcomes) if not o.ok}
        body = result.table() if result else "".join(f"- `{m}` failed: {e}\n"
                                                      for m, e in errors.items())
        lines.append(f"## {head}\n\n{body}")
        data.append({"content": task.content.path, "styles": [s.path for s in task.styles],
                     "folder": os.path.dirname(task.path),
                     "rows": result.rows if result else [],
                     "failed": [{"method": m, "error": e} for m, e in errors.items()]})
    with open(os.path.join(out, "table.md"), "w") as fh:
        fh.write("\n".join(lines))
    with open(os.path.join(out, "results.json"), "w") as fh:
        json.dump({"pairs": data}, fh, indent=1)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="nst compare",
        description="Run several OPTIMIZER:PARAM methods on the same content, style, settings "
                    "and step budget; write a labelled grid (grid.png), loss curves "
                    "(curves.png), a table (table.md), the numbers (results.json) and each "
                    "result (OPTIMIZER_PARAM.png and .json) to --out. With several content "
                    "images or --styles, each content and style gets its own folder in --out, "
                    "and --out holds a table and results.json over all. Running the same "
                    "command again skips results already there. --param and --optimizer are "
                    "ignored (each method sets its own); --lr, if given, applies to every method.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--content", required=True, nargs="+", metavar="PATH",
                        help="content images or folders of them")
    parser.add_argument("--style", action="append", default=[],
                        help="style image; repeat to blend several styles")
    parser.add_argument("--styles", nargs="+", metavar="PATH",
                        help="style images or folders of them, each compared on its own")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS),
                        metavar="OPTIMIZER:PARAM",
                        help=f"methods; optimizers: {', '.join(OPTIMIZERS)}; "
                             f"parameterizations: {', '.join(PARAMETERIZATIONS)}")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--budget-seconds", type=float, metavar="S",
                        help="equal time instead of equal steps: every method runs for S "
                             "seconds of its own work (the step budget is lifted)")
    add_grid_command_arguments(parser)
    return parser


def main(argv: Sequence[str], *, before_run: Callable[[], None] | None = None) -> int:
    """``nst compare`` with ``argv``; ``before_run`` goes to each Ray worker
    (:func:`nst_core.experiments.distributed.perform_on_ray`)."""
    args = build_parser().parse_args(list(argv))
    if not args.style and not args.styles:
        raise CliError("give a style image (--style, or --styles for several)")
    settings = settings_from_args(args, n_styles=max(1, len(args.style)))
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CliError(f"--out {args.out!r} exists and is not a directory")
    if args.budget_seconds is not None:
        if not args.budget_seconds > 0:
            raise CliError(f"--budget-seconds must be > 0, got {args.budget_seconds:g}")
        settings = dataclasses.replace(settings, time_budget=args.budget_seconds,
                                       steps=EQUAL_TIME_STEPS)
    # Previews are not saved: they are the scored points of each method's curve.
    settings = dataclasses.replace(settings, preview_every=SCORE_EVERY)
    pairs = comparison_tasks(args, settings)
    flat = [t for tasks in pairs for t in tasks]
    outcomes = iter(perform_with_bar(flat, args, "comparing", before_run=before_run))
    summaries = []
    for tasks in pairs:
        done = [next(outcomes) for _ in tasks]
        result = summarize_outcomes(tasks, done, settings)
        if result is not None:
            result.save_summary(os.path.dirname(tasks[0].path) or ".")
            if not args.quiet:
                print(result.table(), file=sys.stderr)
        summaries.append((tasks, result, done))
    if len(pairs) > 1:
        _overview(args.out, summaries)
    failed = [(t, o) for tasks, _, done in summaries for t, o in zip(tasks, done) if not o.ok]
    if failed:
        raise RunsFailed(f"{len(failed)} of {len(flat)} runs failed; their messages are in "
                         f"{os.path.join(args.out, 'table.md')}")
    return 0
