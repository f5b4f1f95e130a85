"""The settings form: which controls it has and form values <-> Settings, all generated from
the settings' field metadata (:func:`nst_core.settings.field_infos`), validated here, once.

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

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from nst_core import estimate
from nst_core.imaging import images
from nst_core.engine.loop import resolve_device
from nst_core.experiments.compare import method_label, parse_method
from nst_core.optim.registry import OPTIMIZERS
from nst_core.params.registry import PARAMETERIZATIONS, get_param
from nst_core.engine.schedule import MIN_LEVEL_SIDE
from nst_core.settings import (PRESETS, FieldInfo, Settings, bound_json, field_infos, from_dict,
                               option_values, validate)
from . import defaults
from .jobs import JOBS
from .limits import Limits

LOG10_RANGE = (-2.0, 7.0)  # 1e-2 .. 1e7 covers every balance worth trying at 1e2 default
# The edge weight the form offers when the edge-preserving loss is switched on: 0 keeps strong
# content edges free of style (the README (Techniques) measured 12% less edge loss than plain at
# 0).
EDGE_WEIGHT_ON = 0.0
# The form's own ranges where they are narrower than the engine's: the page shows previews (at
# most every 100 steps on a slider), and multi-scale levels are never below MIN_LEVEL_SIDE.
FORM_RANGES: dict[str, tuple[float, float | None, str]] = {
    "preview_every": (1, 100, "step"), "min_size": (MIN_LEVEL_SIDE, None, "")}
COMBINED = {"param": "method", "optimizer": "method"}  # fields set by one form value together
TOGGLED = {"edge_weight": "edge_preserve"}  # optional fields with an on/off switch of their own
METHOD_HELP = ("the optimizer, and what it optimizes: the pixels, Fourier coefficients or a Deep "
               "Image Prior generator")


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


# ----------------------------------------------------------------------------- choices


def methods() -> list[tuple[str, str]]:
    """(label, "optimizer:param") for every pair the registries can run with a default learning
    rate, parameterization by parameterization: a new registry entry shows up by itself."""
    out = []
    for param_name, param in PARAMETERIZATIONS.items():
        for opt_name in OPTIMIZERS:
            if opt_name in param.lr:
                out.append((method_label(opt_name, param_name), f"{opt_name}:{param_name}"))
    return out


def method_value(settings: Settings) -> str:
    return f"{settings.optimizer}:{settings.param}"


def choice_labels(info: FieldInfo) -> tuple[tuple[str, str], ...]:
    """(label, value) per choice; a choice with a description shows it ("bn: ...")."""
    described = info.choice_help or {}
    return tuple((f"{c}: {described[c]}" if c in described else str(c), c)
                 for c in info.choices or ())


# ----------------------------------------------------------------------------- controls


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


def _number_control(info: FieldInfo, limits: Limits, common: dict[str, Any]) -> Control:
    whole = info.kind == "int"
    if info.log:
        return Control(f"{info.name}_log10", "slider", f"{info.label} (log10: 2 = 1e2)",
                       minimum=LOG10_RANGE[0], maximum=LOG10_RANGE[1], step=0.1, **common)
    lo, hi, _ = form_range(info, limits)
    if info.optional and info.name not in TOGGLED:
        off = none_value(info)
        common["info"] = f"{common['info']} ({off:g} here: none)"
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
                "coarse-texture": "Coarse texture: swirls and motifs"}


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
                                        choices=tuple(methods())))
            continue
        controls.append(control_for(info, limits))
    return controls


def form_names(limits: Limits, cls: type = Settings) -> tuple[str, ...]:
    return tuple(c.name for c in form_controls(limits, cls))


# ----------------------------------------------------------------------------- values -> Settings


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any, label: str) -> float:
    if _blank(value):
        raise ValueError(f"{label} is empty; enter a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{label} must be a finite number, got {value!r}")
    return number


def _whole(value: Any, label: str) -> int:
    number = _number(value, label)
    if number != int(number):
        raise ValueError(f"{label} must be a whole number, got {number:g}")
    return int(number)


def _parse_number(info: FieldInfo, value: Any, limits: Limits) -> Any:
    label = short_label(info)
    if info.optional and (_blank(value) or _number(value, label) <= none_value(info)):
        return None  # e.g. seed -1: a random seed (the result records the one used)
    number = _whole(value, label) if info.kind == "int" else _number(value, label)
    lo, _, unit = form_range(info, limits) if info.name in FORM_RANGES else (None, None, "")
    if lo is not None and number < lo:
        raise ValueError(f"{label} must be at least {lo:g}{' ' + unit if unit else ''}")
    return number


def _parse_list(info: FieldInfo, value: Any) -> tuple | None:
    if _blank(value):
        return None if info.optional else ()
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError(f"{short_label(info)} must be a list of values, got {value!r}")
    if info.kind == "strs":
        return tuple(str(v).strip() for v in items if str(v).strip())
    read = _whole if info.kind == "ints" else _number
    return tuple(read(v, short_label(info)) for v in items if not _blank(v))


def parse_param_options(text: Any, param: str) -> dict[str, Any]:
    """JSON object text -> options for the parameterization, checked against its options'
    descriptions so a typo or a value out of range is reported by name before the run."""
    if _blank(text):
        return {}
    if isinstance(text, Mapping):
        options = dict(text)
    else:
        bound_json(str(text), "parameterization options")
        try:
            options = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"parameterization options are not valid JSON ({exc.msg}); "
                             'write an object such as {"decay_power": 1.0}') from None
        if not isinstance(options, dict):
            raise ValueError('parameterization options must be a JSON object such as '
                             '{"decay_power": 1.0}')
    option_values(param, get_param(param).options, options)
    return options


_MISSING = object()


def parse_field(info: FieldInfo, values: Mapping[str, Any], limits: Limits) -> Any:
    """One field's value from the form's values; _MISSING where the form leaves it as it is
    (not sent, or an empty choice)."""
    if info.log:
        raw = values.get(f"{info.name}_log10", _MISSING)
        return raw if raw is _MISSING else 10 ** _number(raw, f"{short_label(info)} (log10)")
    if info.name not in values:
        return _MISSING
    value = values[info.name]
    toggle = TOGGLED.get(info.name)
    if toggle in values and not values[toggle]:
        return None
    if info.kind in ("int", "float"):
        return _parse_number(info, value, limits)
    if info.kind == "bool":
        return bool(value)
    if info.kind in ("ints", "floats", "strs"):
        return _parse_list(info, value)
    if info.kind == "mapping":
        param = parse_method(values.get("method") or "lbfgs:pixels")[1]
        return parse_param_options(value, param) if info.name == "param_options" else \
            dict(json.loads(value) if isinstance(value, str) else value or {})
    return value if value else _MISSING  # an empty choice keeps the starting value


def start_settings(values: Mapping[str, Any], base: Settings | None, cls: type) -> Settings:
    """What the form's values apply over: settings loaded from a file (or a previous result)
    keep every field the form does not show; otherwise the preset's (as ``cls``)."""
    preset = values.get("preset") or "gatys"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from: {', '.join(PRESETS)}")
    if base is not None:
        return base
    p = PRESETS[preset]
    return p if cls is type(p) else cls(**{f.name: getattr(p, f.name)
                                           for f in dataclasses.fields(p)})


def _changes(values: Mapping[str, Any], limits: Limits, cls: type) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if values.get("method"):
        changes["optimizer"], changes["param"] = parse_method(values["method"])
    for info in field_infos(cls):
        if info.form and info.name not in COMBINED:
            value = parse_field(info, values, limits)
            if value is not _MISSING:
                changes[info.name] = value
    return changes


def settings_from_form(values: Mapping[str, Any], *, limits: Limits, n_styles: int = 1,
                       blend: Sequence[float] | None = None, base: Settings | None = None,
                       need_style: bool = True, cls: type = Settings) -> Settings:
    """Form values (keys of :func:`form_names`) -> validated Settings (of ``cls``).

    ``base`` (settings loaded from a file, or a previous result) supplies the fields the form
    does not show; without it the preset does. Every form value sent is applied over that.
    ``need_style=False`` (content reconstruction) accepts a job without a style image.
    """
    start = start_settings(values, base, cls if base is None else type(base))
    changes = _changes(values, limits, type(start))
    changes["style_blend_weights"] = (tuple(float(w) for w in blend)
                                      if blend is not None and n_styles > 1 else None)
    for name, layers in (("content_layer_weights", changes.get("content_layers")),
                         ("style_layer_weights", changes.get("style_layers"))):
        weights = getattr(start, name)
        if layers is not None and weights is not None and len(weights) != len(layers):
            changes[name] = None  # weights loaded for other layers no longer apply
    settings = dataclasses.replace(start, **changes)
    if need_style and settings.style_weight > 0 and n_styles == 0:
        raise ValueError("no style image: upload one (or set the style weight to its minimum "
                         "and the content weight above 0 to reconstruct the content)")
    check_job(settings, limits, n_styles)
    return settings


def check_job(settings: Settings, limits: Limits, n_styles: int) -> None:
    """The checks every job of this server passes, from the page or the API, with the same
    messages: the settings' own rules (a seed the random generator takes and the
    parameterization's options among them), and this server's limits."""
    validate(settings, n_styles=max(n_styles, 1) if settings.style_blend_weights is None
             else n_styles)
    limits.check(settings, n_styles)
    check_memory(settings)
    if limits.max_seconds is not None:
        check_time(settings, limits.max_seconds)


def check_memory(settings: Settings, width: int | None = None, height: int | None = None
                 ) -> None:
    """ValueError if the job's peak memory estimate on this machine (a square of its output
    size unless the content's width and height are given) is over what its device has free.
    Only once the device is calibrated (the server calibrates as it starts): before that no
    cost per pixel is measured to estimate from."""
    device = str(resolve_device(settings.device))
    cal = estimate.ESTIMATOR.known(device)
    free = estimate.free_memory(device)
    if cal is None or cal.observed or free is None:
        return
    guess = estimate.ESTIMATOR.estimate(settings, width, height, lock=JOBS.device_lock(device))
    if guess.peak_bytes > free:
        raise ValueError(f"this job would need about {estimate.human_bytes(guess.peak_bytes)} "
                         f"of memory on this {estimate.device_word(device)}, more than the "
                         f"{estimate.human_bytes(free)} it has free: try a smaller size, "
                         "tiles (tile_size) or a lighter method")


def check_time(settings: Settings, max_seconds: float, width: int | None = None,
               height: int | None = None) -> estimate.Estimate | None:
    """ValueError naming a step count and a size that fit if the job's estimate on this
    machine (a square of its output size unless the content's width and height are given)
    is over ``max_seconds`` (NST_MAX_SECONDS); else the estimate (None where there is none
    yet: a ZeroGPU Space learns its GPU's pace from its first jobs)."""
    lock = JOBS.device_lock(str(resolve_device(settings.device)))
    guess = estimate.ESTIMATOR.estimate(settings, width, height, lock=lock)
    if guess is None or guess.seconds <= max_seconds:
        return guess
    fit = estimate.fitting(settings, max_seconds, width, height, lock=lock)
    options = [f"{fit['steps']} steps" if "steps" in fit else "",
               f"size {fit['size']} px" if "size" in fit else ""]
    hint = " or ".join(o for o in options if o) or "a smaller size and fewer steps"
    raise ValueError(f"this job would take about {estimate.human_seconds(guess.seconds)} on "
                     f"this {estimate.device_word(guess.device)}, over this server's "
                     f"limit of {max_seconds:g} s (NST_MAX_SECONDS): "
                     f"try {hint}")


# How a comparison shares its budget: (label, value) for the Compare tab.
COMPARE_BUDGETS = (("Same number of steps", "steps"), ("Same time (seconds each)", "time"))


def compare_settings(settings: Settings, budget: str, seconds: Any, limits: Limits) -> Settings:
    """The settings of a comparison: equal steps as the form says, or equal time, where each
    method runs ``seconds`` of its own work and the step budget is this server's largest."""
    if budget == "steps":
        return settings
    if budget != "time":
        raise ValueError(f"unknown budget {budget!r}; choose from: steps, time")
    spent = _number(seconds, "Seconds per method")
    if spent <= 0:
        raise ValueError(f"Seconds per method must be > 0, got {spent:g}")
    return dataclasses.replace(settings, time_budget=spent, steps=limits.max_steps)


# ----------------------------------------------------------------------------- Settings -> values


def _shown_number(info: FieldInfo, value: Any, limits: Limits, notes: list[str]) -> Any:
    """A number as its control shows it: None as :func:`none_value`, over a server cap lowered
    to it (with a note), outside the form's own range moved into it."""
    if value is None:
        return none_value(info)
    lo, hi, _ = form_range(info, limits)
    cap = limits.caps().get(info.name)
    if cap is not None and value > cap:
        unit = " px" if info.unit == "pixels" else ""
        notes.append(f"{info.name} {value}{unit} lowered to this server's limit of {cap}{unit}")
    if info.name in FORM_RANGES or cap is not None:
        value = min(value, hi) if hi is not None else value
        value = max(value, lo) if lo is not None else value
    return value


def field_value(info: FieldInfo, value: Any, limits: Limits, notes: list[str]
                ) -> dict[str, Any]:
    """The form values one field shows as (most fields: one, under its own name)."""
    if info.log:
        return {f"{info.name}_log10": math.log10(value) if value > 0 else LOG10_RANGE[0]}
    if info.name in TOGGLED:
        return {TOGGLED[info.name]: value is not None,
                info.name: EDGE_WEIGHT_ON if value is None else value}
    if info.kind in ("int", "float"):
        return {info.name: _shown_number(info, value, limits, notes)}
    if info.kind in ("ints", "floats", "strs"):
        items = list(value or ())
        return {info.name: items if info.kind == "strs" else ", ".join(f"{v:g}" for v in items)}
    if info.kind == "mapping":
        return {info.name: json.dumps(dict(value)) if value else ""}
    return {info.name: value}


def form_values(settings: Settings, limits: Limits) -> tuple[dict[str, Any], list[str]]:
    """Settings -> form values (the inverse of :func:`settings_from_form`) and notes for
    values this server lowers (steps and size over its limits)."""
    notes: list[str] = []
    preset = next((name for name, p in PRESETS.items()
                   if p.content_layers == settings.content_layers
                   and p.style_layers == settings.style_layers), "gatys")
    values: dict[str, Any] = {"method": method_value(settings), "preset": preset}
    for info in field_infos(type(settings)):
        if info.form and info.name not in COMBINED:
            values.update(field_value(info, getattr(settings, info.name), limits, notes))
    return values, notes


def preset_values(name: str, limits: Limits) -> dict[str, Any]:
    """Form values a preset sets: its layers, and every field it changes from the defaults."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from: {', '.join(PRESETS)}")
    values, _ = form_values(PRESETS[name], limits)
    default_values_, _ = form_values(Settings(), limits)
    keep = {"content_layers", "style_layers"}
    return {k: v for k, v in values.items()
            if k in keep or (k != "preset" and v != default_values_[k])}


def default_values(limits: Limits, cls: type = Settings) -> dict[str, Any]:
    """The form's starting values: the defaults for this server's device and limits
    (:func:`nst_studio.web.defaults.start_settings`)."""
    values, _ = form_values(defaults.start_settings(limits, cls), limits)
    return values


# ----------------------------------------------------------------------------- files and JSON


def _server_settings(data: Any, where: str, base: Settings) -> Settings:
    """A JSON object of Settings fields (or a result's metadata holding one) over ``base``;
    the device and weights source are this server's own, whatever the object says."""
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a JSON object of Settings fields, e.g. "
                         '{"steps": 100, "size": 256}')
    data = {k: v for k, v in data.items() if k not in ("device", "weights")}
    return from_dict(data, base)


def load_settings_file(path: str | os.PathLike) -> Settings:
    """Settings from a PNG made here (or by the CLI) or a settings JSON file. Fields of other
    versions are dropped."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path.name}: file not found")
    raw = path.read_bytes()
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        data = images.read_png_settings(raw)
    else:
        try:
            text = raw.decode("utf-8")
            bound_json(text, f"{path.name}: the settings")
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"{path.name}: neither a PNG made by this tool nor a settings "
                             "JSON file") from None
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]
    known = {f.name for f in dataclasses.fields(Settings)}
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k in known}
    settings = _server_settings(data, f"{path.name}: the settings", Settings())
    validate(settings, n_styles=len(settings.style_blend_weights or ()) or 1)
    return settings


def settings_from_json(text: str | None, limits: Limits, n_styles: int) -> Settings:
    """Settings for an API call: a JSON object of Settings fields over the defaults (the same
    object a result's settings JSON holds, or its ``settings`` part), checked once."""
    data: Any = {}
    if text and text.strip():
        bound_json(text, "settings")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"settings are not valid JSON ({exc.msg} at position {exc.pos})") \
                from None
    # Unset fields: the Settings defaults, at the size and steps the form starts from (the
    # method schedule stays the defaults': the same JSON runs alike on every server).
    start = defaults.start_settings(limits)
    settings = _server_settings(data, "settings", dataclasses.replace(
        Settings(), size=start.size, steps=start.steps))
    check_job(settings, limits, n_styles)
    if settings.style_weight > 0 and n_styles == 0:
        raise ValueError("no style image: send at least one (or set style_weight to 0)")
    return settings
