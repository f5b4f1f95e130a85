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
from typing import Any, Callable, Sequence

from ..imaging import images
from ..engine.loop import NonFiniteLossError, Progress
from ..results import result_metadata, write_result
from ..experiments.tasks import Outcome, Run, Source, image_files, load_done, run_here, save
from ..engine.schedule import stylize
from ..settings import (GROUPS, PRESETS, FieldInfo, Settings, bound_json, field_infos,
                        from_preset, validate)

# Sub-commands: name -> main(argv) -> exit status. Modules add their own entries.
COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {}

HISTORY_EVERY = 10  # metrics history: at least one row every this many steps


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class RunsFailed(Exception):
    """Some runs of a grid failed (the others finished and were written): exit status 1."""


# ------------------------------------------------------------------ settings options, generated

def _flag(info: FieldInfo) -> str:
    return info.flag or "--" + info.name.replace("_", "-")


def _none_or(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """A value type that also takes ``none`` (an optional setting's engine default or off)."""
    def parse(text: str) -> Any:
        return None if text.strip().lower() == "none" else convert(text)
    parse.__name__ = convert.__name__  # argparse names the type in its error message
    return parse


_TYPES = {"int": int, "float": float, "str": str, "ints": int, "floats": float, "strs": str}


def _shown_default(info: FieldInfo, preset_dependent: bool) -> str:
    if preset_dependent:
        return "the --preset's"
    if isinstance(info.default, (tuple, list)):
        return " ".join(map(str, info.default))
    return "none" if info.default is None else str(info.default)


def _help(info: FieldInfo, preset_dependent: bool) -> str:
    text = info.help
    if info.choice_help:
        text += ": " + "; ".join(f"{k}: {v}" for k, v in info.choice_help.items())
    if info.kind == "mapping":
        text += " (repeatable)"
    else:
        text += f" (default: {_shown_default(info, preset_dependent)})"
    return text.replace("%", "%%")  # argparse formats help with % placeholders


def _argument(info: FieldInfo, preset_dependent: bool) -> dict[str, Any]:
    """argparse keywords for one setting; an option left out leaves the preset's value."""
    kw: dict[str, Any] = dict(dest=info.name, default=argparse.SUPPRESS,
                              help=_help(info, preset_dependent))
    if info.kind == "bool":
        kw["action"] = "store_true" if not info.default else argparse.BooleanOptionalAction
        return kw
    if info.kind == "mapping":
        kw.update(action="append", metavar=info.metavar or "KEY=VALUE")
        return kw
    convert = _TYPES[info.kind]
    kw["type"] = _none_or(convert) if info.optional and info.kind in ("int", "float") else convert
    if info.kind in ("ints", "floats", "strs"):
        kw["nargs"] = "+"
    if info.choices is not None:
        kw["choices"] = list(info.choices)
    if info.metavar:
        kw["metavar"] = info.metavar
    return kw


def add_settings_arguments(parser: argparse.ArgumentParser, cls: type = Settings,
                           exclude: Sequence[str] = ()) -> dict[str, Any]:
    """One option per described field of ``cls`` (see :func:`nst_core.settings.setting`) and
    ``--preset``, in argument groups by the fields' group; returns the groups by key so a
    command can add its own options to them. ``exclude`` leaves fields out."""
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    groups["method"].add_argument(
        "--preset", default="gatys", choices=list(PRESETS),
        help="layer preset: gatys (content relu4_2, style relu1_1..relu5_1), shallow-content "
             "(relu3_1), deep-content (relu5_2), fine-texture (style relu1_1..relu3_1), "
             "coarse-texture (relu3_1..relu5_1); the options below change it")
    base = cls()
    for info in field_infos(cls):
        if not info.cli or info.name in exclude:
            continue
        default = getattr(base, info.name)
        preset_dependent = any(getattr(p, info.name, default) != default
                               for p in PRESETS.values())
        groups[info.group].add_argument(_flag(info), **_argument(info, preset_dependent))
    return groups


def _parse_value(text: str):
    bound_json(text, "--param-option values")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _options(items: Sequence[str]) -> dict[str, Any]:
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param-option needs KEY=VALUE, got {item!r}")
        options[key] = _parse_value(value)
    return options


def preset_settings(name: str, cls: type = Settings) -> Settings:
    """The preset ``name`` as a ``cls`` (a Settings subclass gets its own fields' defaults)."""
    preset = from_preset(name)
    if cls is Settings:
        return preset
    return cls(**{f.name: getattr(preset, f.name) for f in dataclasses.fields(Settings)})


def settings_from_args(args: argparse.Namespace, n_styles: int = 1,
                       cls: type = Settings) -> Settings:
    """Namespace from :func:`add_settings_arguments` -> validated Settings: the preset, with
    every option given on the command line applied over it."""
    given: dict[str, Any] = {}
    for info in field_infos(cls):
        if not hasattr(args, info.name):
            continue
        value = getattr(args, info.name)
        if info.kind == "mapping":
            value = _options(value)
        elif info.kind in ("ints", "floats", "strs") and value is not None:
            value = tuple(value)
        given[info.name] = value
    settings = dataclasses.replace(preset_settings(getattr(args, "preset", "gatys"), cls),
                                   **given)
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
    parser.add_argument("--out", required=True, help="output PNG path (settings embedded; the same metadata is written "
                             "beside it as .json)")
    g = add_settings_arguments(parser)["output"]
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


# ------------------------------------------------------------------ grids of runs

def add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ray`` and its resources (for commands that run grids: sweep, compare)."""
    g = parser.add_argument_group("Cluster (Ray)")
    g.add_argument("--ray", metavar="ADDRESS",
                   help="run the grid's runs as Ray tasks: local (start Ray on this machine), "
                        "auto (join the running cluster) or HOST:PORT; without it every run "
                        "runs here, one after another")
    g.add_argument("--ray-cpus", type=float, default=1.0, metavar="N",
                   help="CPU cores per run on Ray")
    g.add_argument("--ray-gpus", type=float, default=0.25, metavar="FRACTION",
                   help="fraction of a GPU per run on Ray, where the cluster has GPUs (0.25: "
                        "four runs share one)")


def read_sources(paths: Sequence[str], what: str) -> list[Source]:
    """Image files (or every image in the folders) given for ``what``, read once."""
    return [Source.read(p) for p in image_files(paths, what)]


def style_groups(args: argparse.Namespace) -> list[list[Source]]:
    """The grid's style axis: ``--styles`` gives one entry per image (or folder's images);
    ``--style`` (repeatable) gives one entry, its images blended (or placed by masks)."""
    styles = getattr(args, "styles", None)
    if styles and args.style:
        raise CliError("give --style (styles blended in each run) or --styles (one grid "
                       "entry per style), not both")
    if styles:
        if getattr(args, "mask", None):
            raise CliError("--mask goes with --style (one mask per blended style)")
        return [[s] for s in read_sources(styles, "style")]
    return [read_sources(args.style, "style")] if args.style else [[]]


def execute_runs(runs: Sequence[Run], args: argparse.Namespace, label: str,
                 before_run: Callable[[], None] | None = None) -> list[Outcome]:
    """Run a grid (here, or on Ray with ``--ray``), skipping runs whose results exist, writing
    each result as it finishes, with one progress bar over the grid on stderr."""
    from tqdm import tqdm

    outcomes: dict[str, Outcome | None] = {r.key: load_done(r) for r in runs}
    todo = list({r.key: r for r in runs if outcomes[r.key] is None}.values())
    finished = [len(outcomes) - len(todo)]
    with tqdm(total=len(outcomes), initial=finished[0], desc=label, unit="run",
              file=sys.stderr, disable=args.quiet, dynamic_ncols=True) as bar:
        def on_outcome(run: Run, outcome: Outcome) -> None:
            save(run, outcome)
            outcomes[run.key] = outcome
            finished[0] += 1
            bar.n = finished[0]
            bar.set_postfix_str(f"{run.label}: {'ok' if outcome.ok else 'failed'}",
                                refresh=False)
            bar.refresh()

        def on_step(run: Run, p: Progress) -> None:
            bar.n = round(finished[0] + min(p.step / max(p.total, 1), 1.0), 2)
            bar.set_postfix_str(f"{run.label} loss {p.losses['total']:.4g}", refresh=False)
            bar.refresh()

        if getattr(args, "ray", None):
            from ..experiments import distributed  # Ray is imported only for runs sent to it

            distributed.run_on_ray(todo, args.ray, on_outcome, cpus_per_run=args.ray_cpus,
                                   gpus_per_run=args.ray_gpus, before_run=before_run)
        else:
            run_here(todo, on_outcome, on_step)
    return [outcomes[r.key] for r in runs]


def main_single(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args, n_styles=len(args.style))
    if args.preview_dir:
        os.makedirs(args.preview_dir, exist_ok=True)

    def save_preview(p: Progress) -> None:
        if args.preview_dir and p.preview is not None and not p.done:
            p.preview.save(os.path.join(args.preview_dir, f"step_{p.step:04d}.png"))

    gen = stylize(args.content, args.style if len(args.style) > 1 else args.style[0], settings,
                  masks=args.mask)
    final, history = run_with_progress(gen, settings.steps, args.quiet, on_record=save_preview)
    write_result(final.image, args.out, result_metadata(settings, final))
    note = images.saturation_note(final.image, images.load_image(args.content))
    if note:
        print(f"warning: {note}", file=sys.stderr)
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
    except RunsFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (NonFiniteLossError, RuntimeError, OSError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr)
        return 130
