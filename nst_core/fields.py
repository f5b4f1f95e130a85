"""What a setting or an option is, and how a value of one is checked: one description
(:class:`FieldInfo`) per Settings field (:mod:`nst_core.settings`) and per option of a
parameterization (:func:`option`, beside each factory), and one checker (:func:`check_field`)
for both, so every message names the value, its type and its range the same way. This module
imports nothing of the package: the parameterizations describe their options with it, and
settings reads them (through the registry) to validate a run.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence


@dataclass(frozen=True)
class FieldInfo:
    """What a settings field (or a parameterization's option) is: for the CLI, the form and
    :func:`check_field`."""

    name: str  # the Settings field name (the option's name)
    kind: str  # one of settings.KINDS, read from the field's type
    default: Any  # the field's default value
    label: str  # short label in a visitor's words (the form's label)
    help: str  # one line: the CLI --help text and the form's info text
    group: str  # key of GROUPS
    choices: tuple | None  # allowed values (of each item, for lists); registries read now
    minimum: float | None  # smallest allowed value (of each item, for lists)
    maximum: float | None  # largest allowed value
    optional: bool  # None is a valid value (the engine's default, or off)
    advanced: bool  # the form puts it under "Advanced"
    cli: bool  # the command line has --name-with-dashes (or ``flag``) for it
    form: bool  # the app's form has a control for it
    log: bool  # the form shows it on a log10 slider
    strict: bool = False  # the bounds themselves are not allowed (0 < x, not 0 <= x)
    unit: str = ""  # unit named in messages, e.g. "pixels"
    noun: str = ""  # what a value is called in "unknown ..." messages (default: the name)
    flag: str = ""  # the CLI option when it is not --name-with-dashes
    metavar: str = ""  # how the CLI help writes one value
    choice_help: Mapping[str, str] | None = None  # choice -> one-line description


def option(name: str, default: Any, *, help: str, kind: str | None = None,
           minimum: float | None = None, maximum: float | None = None,
           optional: bool = False) -> FieldInfo:
    """An option of a parameterization (a key of ``Settings.param_options``), described like
    a setting: :func:`option_values` checks it by type and range with the same messages.
    ``kind`` defaults to the default's type; ``optional`` lets None stand for the default."""
    kind = kind or {bool: "bool", int: "int", float: "float", str: "str"}[type(default)]
    return FieldInfo(name=name, kind=kind, default=default, label=name, help=help,
                     group="method", choices=None, minimum=minimum, maximum=maximum,
                     optional=optional, advanced=True, cli=False, form=False, log=False)


def option_values(param: str, options: Sequence[FieldInfo], given: Mapping[str, Any]
                  ) -> dict[str, Any]:
    """The options of parameterization ``param``: ``given`` checked against their
    descriptions (unknown names, type, range), and the defaults of those not given."""
    known = {o.name: o for o in options}
    unknown = sorted(str(k) for k in given if k not in known)
    if unknown and not known:
        raise ValueError(f"parameterization {param!r} has no option(s) {unknown}; it takes: "
                         "none")
    if unknown:
        raise ValueError(f"unknown {param} option(s) {', '.join(unknown)}; known: "
                         f"{', '.join(known)}")
    for name, value in given.items():
        check_field(dataclasses.replace(known[name], name=f"{param} option {name}"), value)
    return {name: given.get(name, o.default) for name, o in known.items()}


def _bound(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _bounds_text(info: FieldInfo) -> str:
    lo, hi, unit = info.minimum, info.maximum, f" {info.unit}" if info.unit else ""
    if lo is not None and hi is not None:
        return f"between {_bound(lo)} and {_bound(hi)}{unit}"
    if lo is not None:
        return f"{'>' if info.strict else '>='} {_bound(lo)}"
    return f"{'<' if info.strict else '<='} {_bound(hi)}" if hi is not None else ""


def _in_bounds(info: FieldInfo, x: float) -> bool:
    lo, hi = info.minimum, info.maximum
    if info.strict:
        return (lo is None or x > lo) and (hi is None or x < hi)
    return (lo is None or x >= lo) and (hi is None or x <= hi)


def _is_number(x: Any, kind: str) -> bool:
    if isinstance(x, bool):
        return False
    if kind in ("int", "ints"):
        return isinstance(x, int)
    return isinstance(x, (int, float)) and math.isfinite(x)


def _what_number(info: FieldInfo, many: bool) -> str:
    whole = info.kind in ("int", "ints")
    if many:
        return "whole numbers" if whole else "finite numbers"
    if whole:
        return "a whole number of pixels" if info.unit == "pixels" else "a whole number"
    return "a finite number"


def _check_number(info: FieldInfo, value: Any) -> None:
    many = info.kind in ("ints", "floats")
    items = tuple(value) if many else (value,)
    if all(_is_number(x, info.kind) and _in_bounds(info, x) for x in items):
        return
    bounds = _bounds_text(info)
    shown = list(value) if many else (value if isinstance(value, float) else repr(value))
    off = " (or none)" if info.optional and not many else ""
    raise ValueError(f"{info.name} must be {_what_number(info, many)}"
                     f"{' ' + bounds if bounds else ''}{off}, got {shown}")


def _check_choice(info: FieldInfo, value: Any) -> None:
    noun = info.noun or info.name
    if info.kind == "strs":
        unknown = [v for v in value if v not in info.choices]
        if unknown:
            raise ValueError(f"unknown {noun}(s) {unknown}; choose from: "
                             f"{', '.join(map(str, info.choices))}")
    elif value not in info.choices:
        raise ValueError(f"unknown {noun} {value!r}; choose from: "
                         f"{', '.join(map(str, info.choices))}")


def _list_example(info: FieldInfo) -> str:
    """A list a list field takes, for messages: its default's first item, or one of kind."""
    if info.default:
        return json.dumps(list(info.default[:1]))
    return {"ints": "[100, 25]", "floats": "[0.5, 1.0]"}.get(info.kind, '["name"]')


def check_field(info: FieldInfo, value: Any) -> None:
    """Type, choices and range of one field, from its description."""
    if value is None:
        if not info.optional:
            raise ValueError(f"{info.name} is required (None is not allowed)")
        return
    kind = info.kind
    if kind in ("ints", "floats", "strs") and not isinstance(value, (tuple, list)):
        # A single value is not taken as a one-item list: a string would be read as its
        # characters.
        raise ValueError(f"{info.name} must be a list of values such as "
                         f"{_list_example(info)}, got {value!r}")
    if kind == "mapping" and not isinstance(value, Mapping):
        raise ValueError(f"{info.name} must be a mapping of names to values, got {value!r}")
    if kind == "bool" and not isinstance(value, bool):
        raise ValueError(f"{info.name} must be True or False, got {value!r}")
    if kind in ("str", "strs"):
        items = value if kind == "strs" else (value,)
        if not all(isinstance(v, str) for v in items):
            raise ValueError(f"{info.name} must be text, got {value!r}")
        if info.choices is not None:
            _check_choice(info, value)
    if kind in ("int", "float", "ints", "floats"):
        _check_number(info, value)


# Settings text read from a visitor (an API call, a form box, a link, an uploaded file) is
# bounded before it is parsed: a result's settings are about 2 KB and 4 levels deep, and
# Python's JSON parser recurses once per level (100,000 nested brackets overflow the stack).
MAX_JSON_CHARS = 100_000
MAX_JSON_DEPTH = 32


def bound_json(text: str, what: str) -> None:
    """ValueError if JSON ``text`` is longer or nested deeper than is read (MAX_JSON_CHARS,
    MAX_JSON_DEPTH), checked without parsing it. ``what`` names it ("settings")."""
    if len(text) > MAX_JSON_CHARS:
        raise ValueError(f"{what} are too long ({len(text):,} characters; at most "
                         f"{MAX_JSON_CHARS:,})")
    depth = deepest = 0
    for token in _JSON_BRACKETS.findall(text):
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    if deepest > MAX_JSON_DEPTH:
        raise ValueError(f"{what} are nested too deeply ({deepest} levels of brackets; at "
                         f"most {MAX_JSON_DEPTH})")


# A JSON string (skipped whole: brackets inside it do not nest) or one bracket.
_JSON_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')
