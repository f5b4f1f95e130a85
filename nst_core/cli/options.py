"""Command-line options shared by the commands: one option per described Settings field
(generated from :func:`nst_core.settings.field_infos`), the grid commands' inputs and Ray
options, and the two errors every command maps to an exit status."""
from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any, Callable, Sequence

from ..experiments.tasks import Source, image_files
from ..fields import bound_json
from ..settings import GROUPS, PRESETS, FieldInfo, Settings, field_infos, get_preset, validate


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class RunsFailed(Exception):
    """Some runs of a grid failed (the others finished and were written): exit status 1."""


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and a pointer to ``--help`` (argparse's own
    print the whole usage block first, burying the error)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\nsee {self.prog} --help\n")


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
    settings = dataclasses.replace(get_preset(getattr(args, "preset", "gatys"), cls),
                                   **given)
    validate(settings, n_styles=n_styles)
    return settings


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


def add_grid_command_arguments(parser: argparse.ArgumentParser) -> None:
    """What every grid command (sweep, compare) takes besides its own options: ``--quiet``,
    ``--ray`` and its resources, and every setting but ``preview_every`` (a grid saves no
    previews)."""
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_grid_arguments(parser)
    add_settings_arguments(parser, exclude=("preview_every",))


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
