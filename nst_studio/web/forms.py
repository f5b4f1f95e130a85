"""The settings form's codec: form values <-> Settings, read and checked once (the controls
themselves: :mod:`.controls`; the job's admission: :mod:`.admission`).

An optional number's "none" arrives as a value just outside its range (see
:func:`.controls.none_value`) and is read back as None.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Mapping, Sequence

from nst_core.fields import bound_json
from nst_core.job import check_style
from nst_core.methods import method_value, parse_method
from nst_core.params.registry import check_options
from nst_core.settings import PRESETS, FieldInfo, Settings, field_infos, get_preset

from . import defaults
from .admission import check_job
from .controls import (COMBINED, EDGE_WEIGHT_ON, FORM_RANGES, LOG10_RANGE, TOGGLED, form_range,
                       none_value, short_label)
from .limits import Limits


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_number(value: Any, label: str) -> float:
    if is_blank(value):
        raise ValueError(f"{label} is empty; enter a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{label} must be a finite number, got {value!r}")
    return number


def read_whole(value: Any, label: str) -> int:
    number = read_number(value, label)
    if number != int(number):
        raise ValueError(f"{label} must be a whole number, got {number:g}")
    return int(number)


def _parse_number(info: FieldInfo, value: Any, limits: Limits) -> Any:
    label = short_label(info)
    if info.optional and (is_blank(value) or read_number(value, label) <= none_value(info)):
        return None  # e.g. seed -1: a random seed (the result records the one used)
    number = read_whole(value, label) if info.kind == "int" else read_number(value, label)
    lo, _, unit = form_range(info, limits) if info.name in FORM_RANGES else (None, None, "")
    if lo is not None and number < lo:
        raise ValueError(f"{label} must be at least {lo:g}{' ' + unit if unit else ''}")
    return number


def _parse_list(info: FieldInfo, value: Any) -> tuple | None:
    if is_blank(value):
        return None if info.optional else ()
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError(f"{short_label(info)} must be a list of values, got {value!r}")
    if info.kind == "strs":
        return tuple(str(v).strip() for v in items if str(v).strip())
    read = read_whole if info.kind == "ints" else read_number
    return tuple(read(v, short_label(info)) for v in items if not is_blank(v))


def parse_param_options(text: Any, param: str) -> dict[str, Any]:
    """JSON object text -> options for the parameterization, checked against its options'
    descriptions so a typo or a value out of range is reported by name before the run."""
    if is_blank(text):
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
    check_options(param, options)
    return options


_MISSING = object()


def parse_field(info: FieldInfo, values: Mapping[str, Any], limits: Limits) -> Any:
    """One field's value from the form's values; _MISSING where the form leaves it as it is
    (not sent, or an empty choice)."""
    if info.log:
        raw = values.get(f"{info.name}_log10", _MISSING)
        return raw if raw is _MISSING else 10 ** read_number(raw, f"{short_label(info)} (log10)")
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


def base_settings(values: Mapping[str, Any], base: Settings | None, cls: type) -> Settings:
    """What the form's values apply over: settings loaded from a file (or a previous result)
    keep every field the form does not show; otherwise the preset's (as ``cls``)."""
    preset = get_preset(values.get("preset") or "gatys", cls)  # an unknown name is refused
    return base if base is not None else preset


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
    start = base_settings(values, base, cls if base is None else type(base))
    changes = _changes(values, limits, type(start))
    changes["style_blend_weights"] = (tuple(float(w) for w in blend)
                                      if blend is not None and n_styles > 1 else None)
    for name, layers in (("content_layer_weights", changes.get("content_layers")),
                         ("style_layer_weights", changes.get("style_layers"))):
        weights = getattr(start, name)
        if layers is not None and weights is not None and len(weights) != len(layers):
            changes[name] = None  # weights loaded for other layers no longer apply
    settings = dataclasses.replace(start, **changes)
    if need_style:
        check_style(settings, n_styles)
    check_job(settings, limits, n_styles)
    return settings


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
    values, _ = form_values(get_preset(name), limits)
    default_values_, _ = form_values(Settings(), limits)
    keep = {"content_layers", "style_layers"}
    return {k: v for k, v in values.items()
            if k in keep or (k != "preset" and v != default_values_[k])}


def default_values(limits: Limits, cls: type = Settings) -> dict[str, Any]:
    """The form's starting values: the defaults for this server's device and limits
    (:func:`nst_studio.web.defaults.start_settings`)."""
    values, _ = form_values(defaults.start_settings(limits, cls), limits)
    return values


