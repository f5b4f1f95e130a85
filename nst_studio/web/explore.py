"""The Explore tab's choices (modes, the settings a sweep can vary, example values) and a
sweep's plan: every cell's settings, checked once against the engine's rules and this
server's limits before the first run starts."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from nst_core.experiments import sweep
from nst_core.imaging import vgg
from nst_core.losses.style import STYLE_LOSSES
from nst_core.optim.registry import OPTIMIZERS
from nst_core.params.registry import PARAMETERIZATIONS
from nst_core.methods import available_methods
from nst_core.settings import PRESETS, Settings, field_info
from . import budget
from .limits import Limits

EXPLORE_MODES = (("Stylize sweep", "stylize"), ("Content reconstruction", "reconstruct"),
                 ("Texture synthesis", "texture"))
MODE_NAMES = {value: label for label, value in EXPLORE_MODES}
EXPLORE_MAX_CELLS = 12  # cells in one sweep: each is a full run, one after the other
# Settings first offered in the "vary" list; every other one sweep.check_vary accepts follows.
_VARY_FIRST = ("style_weight", "preset", "method", "style_loss", "content_layers",
               "style_layers", "content_weight", "tv_weight", "edge_weight", "steps", "size",
               "init", "preserve_color", "seed", "param", "optimizer", "pooling")
_VARY_EXAMPLES = {
    "style_weight": "1; 1e2; 1e4",
    "content_weight": "0.1; 1; 10",
    "tv_weight": "0; 1e5; 1e6",
    "edge_weight": "none; 0; 0.5",
    "content_layers": "relu1_2; relu2_2; relu3_2; relu4_2; relu5_2",
    # Gatys et al. 2016 fig. 1: style from conv1_1, then conv1_1..conv2_1, ..., conv1_1..conv5_1.
    "style_layers": "; ".join(",".join(f"relu{k}_1" for k in range(1, n + 1))
                              for n in range(1, 6)),
    "steps": "10; 30; 100",
    "seed": "0; 1; 2",
}


def vary_choices() -> list[str]:
    """Everything :func:`nst_core.experiments.sweep.check_vary` accepts, the common choices
    first."""
    # device and weights are the server's own (see settings_io.settings_from_json): never swept.
    names = sorted({f.name for f in dataclasses.fields(Settings)}
                   - {"param_options", "device", "weights"})
    names += list(sweep.SPECIAL)
    for name in names:
        sweep.check_vary(name)
    return [n for n in _VARY_FIRST if n in names] + [n for n in names if n not in _VARY_FIRST]


def vary_label(vary: str) -> str:
    """A setting's name as the page shows it (its form label), e.g. "Style weight"."""
    special = {"preset": "Layer preset", "method": "Method"}
    return special.get(vary) or field_info(vary).label


def vary_labels() -> list[tuple[str, str]]:
    """The "vary" list as (label, setting) pairs, labels told apart where two are alike."""
    return [(f"{vary_label(n)}", n) for n in vary_choices()]


def vary_help(vary: str) -> str:
    """One line on what a setting does, for the "vary" list."""
    special = {"preset": "the content and style layers of a named recipe",
               "method": "the optimizer, and what it optimizes"}
    return special.get(vary) or field_info(vary).help


def cell_caption(label: str) -> str:
    """A cell's caption without the setting's name (the page names it once): "relu2_2" for
    "content_layers=relu2_2"."""
    return label.split("=", 1)[-1]


def vary_example(vary: str) -> str:
    """Values worth trying for ``vary``, as the form's text (registries list their entries)."""
    if vary in _VARY_EXAMPLES:
        return _VARY_EXAMPLES[vary]
    if vary == "preset":
        return "; ".join(PRESETS)
    if vary == "method":
        return "; ".join(v for _, v in available_methods()[:3])
    registry = {"style_loss": STYLE_LOSSES, "param": PARAMETERIZATIONS,
                "optimizer": OPTIMIZERS}.get(vary)
    if registry is not None:
        return "; ".join(registry)
    choices = {"init": ("content", "noise", "style"), "pooling": vgg.POOLINGS,
               "preserve_color": ("none", "luminance", "histogram")}.get(vary)
    if choices:
        return "; ".join(choices)
    return str(getattr(Settings(), vary, ""))


def explore_defaults(mode: str) -> tuple[str, str]:
    """The setting to vary and its values when a mode is picked: reconstruction and texture
    synthesis are most telling layer by layer (Gatys et al. 2016, fig. 1)."""
    vary = {"reconstruct": "content_layers", "texture": "style_layers"}.get(mode, "style_weight")
    return vary, vary_example(vary)


def parse_values(vary: str, text: Any) -> list[str]:
    """The values text -> one string per value: separated by new lines or ";" (commas join the
    layers of one value), or by commas when ``vary`` is not a list-valued setting."""
    sweep.check_vary(vary)
    if isinstance(text, (list, tuple)):
        parts = [str(v) for v in text]
    else:
        parts = re.split(r"[;\n]", str(text or ""))
        listy = vary not in sweep.SPECIAL and field_info(vary).kind in ("strs", "floats", "ints")
        if len([p for p in parts if p.strip()]) == 1 and not listy:
            parts = parts[0].split(",")
    values = [p.strip() for p in parts if p.strip()]
    if not values:
        raise ValueError(f"no values to try for {vary}: enter some, separated by ';' "
                         f"(e.g. {vary_example(vary) or '1; 2'})")
    if len(values) > EXPLORE_MAX_CELLS:
        raise ValueError(f"{len(values)} values: at most {EXPLORE_MAX_CELLS} per sweep (each is "
                         "a full run)")
    return values


@dataclass(frozen=True)
class ExplorePlan:
    """A checked sweep: the base settings, the mode, the setting varied and its values, and
    every cell's settings (each checked once, here)."""

    settings: Settings
    mode: str
    vary: str
    values: tuple[str, ...]
    cells: tuple[sweep.SweepCell, ...]
    columns: int = 0  # cells per grid row; 0 = automatic


def explore_plan(settings: Settings, mode: str, vary: str, values_text: Any, limits: Limits,
                 n_styles: int, columns: int = 0) -> ExplorePlan:
    """Every cell's settings, checked (the engine's rules and this server's limits) before
    the first run starts; a bad value's message names its cell."""
    values = parse_values(vary, values_text)
    if vary not in vary_choices():
        raise ValueError(f"cannot vary {vary!r} here; choose from: "
                         f"{', '.join(vary_choices())}")
    cells = sweep.sweep_cells(settings, vary, values, mode=mode, n_styles=n_styles,
                              also=limits.check)
    return ExplorePlan(settings, mode, vary, tuple(values), cells, int(columns or 0))


def cell_runs(settings: Settings, mode: str, vary: str, values_text: Any, limits: Limits,
              seconds: Any = 0) -> list[tuple[str, Settings]]:
    """(caption, settings) of each run a sweep makes, one after the other (its estimate)."""
    plan = explore_plan(budget.timed(settings, seconds), mode, vary, values_text, limits, 1)
    return [(cell.label, cell.settings) for cell in plan.cells]
