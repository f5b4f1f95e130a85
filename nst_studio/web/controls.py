"""The settings form's controls: which controls the form has, each described from the settings'
field metadata (:func:`nst_core.settings.field_infos`) for a UI toolkit to draw.

Every field with ``form=True`` gets a control from its description: label, help, range or
choices, group, advanced or not. A few form values are not one field each:

- ``method``: optimizer and parameterization as one choice, ``"optimizer:param"``;
- ``preset``: the layer preset the form starts from;
- ``<field>_log10`` for fields shown on a log10 slider (``style_weight``);
- ``edge_preserve``: switches the edge-preserving style loss (``edge_weight``) on and off.

An optional number's "none" is shown as a value just outside its range (the excluded bound, or
one below the minimum, -1 without one), so a plain number box can hold it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nst_core.engine.schedule import MIN_LEVEL_SIDE
from nst_core.methods import available_methods
from nst_core.settings import PRESETS, FieldInfo, Settings, field_infos

from .limits import Limits


LOG10_RANGE = (-2.0, 7.0)  # 1e-2 .. 1e7 covers every balance worth trying at 1e2 default


# The edge weight the form offers when the edge-preserving loss is switched on: 0 keeps strong
# content edges free of style (docs/calibration.md#edge-preserving-loss).
EDGE_WEIGHT_ON = 0.0


# The form's own ranges where they are narrower than the engine's: the page shows previews (at
# most every 100 steps on a slider), and multi-scale levels are never below MIN_LEVEL_SIDE.
FORM_RANGES: dict[str, tuple[float, float | None, str]] = {
    "preview_every": (1, 100, "step"), "min_size": (MIN_LEVEL_SIDE, None, "")}


COMBINED = {"param": "method", "optimizer": "method"}  # fields set by one form value together


TOGGLED = {"edge_weight": "edge_preserve"}  # optional fields with an on/off switch of their own


METHOD_HELP = ("the optimizer, and what it optimizes: the pixels, Fourier coefficients, a "
               "Laplacian pyramid, a Deep Image Prior generator, brushstrokes or a CPPN")


@dataclass(frozen=True)
class Control:
    """One control of the form, described for a UI toolkit to draw."""

    name: str  # the form value's key (a Settings field, or method/preset/..._log10/edge_preserve)
    widget: str  # slider | number | checkbox | radio | dropdown | multiselect | text
    label: str
    info: str = ""
    group: str = "method"  # key of settings.GROUPS
    advanced: bool = False
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[tuple[str, str], ...] | None = None  # (label, value)
    whole: bool = False  # a whole number


def choice_labels(info: FieldInfo) -> tuple[tuple[str, str], ...]:
    """(label, value) per choice; a choice with a description shows it ("bn: ...")."""
    described = info.choice_help or {}
    return tuple((f"{c}: {described[c]}" if c in described else str(c), c)
                 for c in info.choices or ())


def short_label(info: FieldInfo) -> str:
    """The label without its parenthesis, for messages: "Steps", "Output size"."""
    return info.label.split(" (")[0]


def none_value(info: FieldInfo) -> float:
    """The form value that stands for None in an optional number (see the module doc)."""
    if info.minimum is None:
        return -1
    return info.minimum if info.strict else info.minimum - 1


def form_range(info: FieldInfo, limits: Limits) -> tuple[float | None, float | None, str]:
    """(lowest, highest, unit) the form accepts for a number field: the field's range, the
    form's own (:data:`FORM_RANGES`) and this server's caps."""
    lo, hi, unit = info.minimum, info.maximum, ""
    if info.name in FORM_RANGES:
        lo, own_hi, unit = FORM_RANGES[info.name]
        hi = own_hi if own_hi is not None else hi
    cap = limits.caps().get(info.name)
    if cap is not None:
        hi = cap if hi is None else min(hi, cap)
    if info.strict and lo is not None and hi is not None:  # a slider must not offer the bounds
        step = _slider_step(info, lo, hi)
        lo, hi = lo + step, hi - step
    return lo, hi, unit


def _slider_step(info: FieldInfo, lo: float, hi: float) -> float:
    """1 for whole numbers, else a round step of about a hundredth of the field's range."""
    if info.kind == "int":
        return 1
    if info.minimum is not None and info.maximum is not None:
        lo, hi = info.minimum, info.maximum
    return 10 ** math.floor(math.log10((hi - lo) / 100))


def form_none_help(text: str, off: float) -> str:
    """A field's help for the form, where ``off`` stands for none: the help's own "(none: ...)"
    reads "(-1: ...)"; a help that does not say what none means gets "(-1: none)"."""
    if "(none:" in text:
        return text.replace("(none:", f"({off:g}:", 1)
    return f"{text} ({off:g}: none)"


def _number_control(info: FieldInfo, limits: Limits, common: dict[str, Any]) -> Control:
    whole = info.kind == "int"
    if info.log:
        return Control(f"{info.name}_log10", "slider", f"{info.label} (log10: 2 = 1e2)",
                       minimum=LOG10_RANGE[0], maximum=LOG10_RANGE[1], step=0.1, **common)
    lo, hi, _ = form_range(info, limits)
    if info.optional and info.name not in TOGGLED:
        off = none_value(info)
        common["info"] = form_none_help(common["info"], off)
        lo = None
    if lo is not None and hi is not None:
        return Control(info.name, "slider", info.label, minimum=lo, maximum=hi,
                       step=_slider_step(info, lo, hi), whole=whole, **common)
    minimum = lo if lo is not None and not info.strict else None
    return Control(info.name, "number", info.label, minimum=minimum, whole=whole, **common)


def control_for(info: FieldInfo, limits: Limits) -> Control:
    """The control a field gets, from its kind, range and choices."""
    common = dict(info=info.help, group=info.group, advanced=info.advanced)
    if info.kind in ("int", "float"):
        return _number_control(info, limits, common)
    if info.kind == "bool":
        return Control(info.name, "checkbox", info.label, **common)
    if info.choices is not None:
        widget = "multiselect" if info.kind == "strs" else (
            "radio" if len(info.choices) <= 4 and not info.choice_help else "dropdown")
        return Control(info.name, widget, info.label, choices=choice_labels(info), **common)
    if info.kind == "mapping":
        common["info"] = f"{common['info']} (a JSON object)"
    return Control(info.name, "text", info.label, **common)


# What each layer preset does, in a visitor's words (the name is what --preset takes).
PRESET_WORDS = {"gatys": "Gatys et al.: the paper's layers",
                "shallow-content": "Shallow content: more of the photo's detail",
                "deep-content": "Deep content: only the layout stays",
                "fine-texture": "Fine texture: strokes and colour",
                "coarse-texture": "Coarse texture: swirls and motifs",
                "strotss": "STROTSS: the photo's layout, the painting's look (coarse to fine)"}


def preset_label(name: str) -> str:
    """A preset's entry in the form: what it does, then its name."""
    return f"{PRESET_WORDS[name]} ({name})" if name in PRESET_WORDS else name


def _extras(info: FieldInfo) -> list[Control]:
    """The controls that come before a field's own (or stand for it)."""
    if info.name == "content_layers":
        return [Control("preset", "dropdown", "Layer preset", group=info.group,
                        info="the content and style layers of a named recipe",
                        choices=tuple((preset_label(p), p) for p in PRESETS))]
    if info.name in TOGGLED:
        return [Control(TOGGLED[info.name], "checkbox", "Edge-preserving style loss",
                        info="less style on the content's strong edges", group=info.group,
                        advanced=info.advanced)]
    return []


def form_controls(limits: Limits, cls: type = Settings) -> list[Control]:
    """Every control of the settings form, in declaration order (the app lays them out by
    group, advanced ones apart)."""
    controls: list[Control] = []
    for info in field_infos(cls):
        if not info.form:
            continue
        controls += _extras(info)
        if info.name in COMBINED:
            if not any(c.name == COMBINED[info.name] for c in controls):
                controls.append(Control("method", "dropdown", "Method (optimizer · what is "
                                        "optimized)", info=METHOD_HELP, group=info.group,
                                        choices=tuple(available_methods())))
            continue
        controls.append(control_for(info, limits))
    return controls


def form_names(limits: Limits, cls: type = Settings) -> tuple[str, ...]:
    return tuple(c.name for c in form_controls(limits, cls))
