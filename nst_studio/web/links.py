"""Links that reproduce a run: the form's settings, the example images and the tab as URL query
parameters (``/?example=2&method=adam:fft&size=256&tab=compare``), and back.

The parameter names are generated from the settings' description
(:func:`nst_core.settings.field_infos`): every field the form shows is one parameter under its
own name (``size``, ``steps``, ``style_weight``, ...), except the optimizer and the
parameterization, which are one, ``method`` (``"optimizer:param"``), as on the form. Besides
the settings:

- ``example``: the number of an example pair (1 = the first), sets both images;
- ``content`` / ``style``: an example file by name (``astronaut.png``), for other pairings;
- ``tab``: the tab to open (:data:`TABS`);
- ``methods``, ``budget``, ``seconds``: the Compare tab's methods, budget and seconds.

Values are written as text: numbers as numbers, yes/no as ``1``/``0``, lists comma-separated,
an option's "none" as ``none``, a mapping as JSON. Reading a link checks every parameter on its
own, with the form's own checks: an unknown name or a bad value gives a message naming it, and
the others still apply. Links are uploads-free: an uploaded image cannot travel in a URL.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

from nst_core.methods import available_methods, method_value
from nst_core.settings import FieldInfo, Settings, field_infos
from . import defaults, forms
from . import controls
from . import budget
from .limits import Limits

TABS = ("stylize", "compare", "explore")
IMAGE_PARAMS = ("example", "content", "style")
COMPARE_PARAMS = ("methods", "budget", "seconds")
# Gradio's own query parameters (a Space's session deep link, the colour theme, the API page):
# not the form's, and not a mistake.
GRADIO_PARAMS = ("deep_link", "__theme", "view")
NONE_TEXT = "none"
TRUE_TEXTS, FALSE_TEXTS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Always written, whatever their value: a server's starting size and steps depend on its
# hardware and limits, so a link that left them out would open differently elsewhere.
ALWAYS = ("size", "steps")


def setting_params(cls: type = Settings) -> dict[str, FieldInfo | None]:
    """Parameter name -> the field it sets (None for ``method``), in the form's order."""
    names: dict[str, FieldInfo | None] = {}
    for info in field_infos(cls):
        if not info.form:
            continue
        if info.name in controls.COMBINED:
            names.setdefault("method", None)
        else:
            names[info.name] = info
    return names


def param_names(cls: type = Settings) -> tuple[str, ...]:
    """Every parameter a link may hold."""
    return (*setting_params(cls), *IMAGE_PARAMS, "tab", *COMPARE_PARAMS)


# ----------------------------------------------------------------------------- writing


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.10g}"


def value_text(info: FieldInfo, value: Any) -> str:
    """A field's value as a link writes it."""
    if value is None:
        return NONE_TEXT
    if info.kind == "bool":
        return "1" if value else "0"
    if info.kind in ("int", "float"):
        return _number_text(value)
    if info.kind in ("ints", "floats", "strs"):
        return ",".join(str(v) if info.kind == "strs" else _number_text(v) for v in value)
    if info.kind == "mapping":
        return json.dumps(dict(value), separators=(",", ":"))
    return str(value)


def settings_params(settings: Settings, start: Settings | None = None) -> dict[str, str]:
    """The parameters of ``settings``: ``method``, the fields that differ from the defaults of
    its class or from ``start`` (the server's starting values, which a link is read over), and
    :data:`ALWAYS`."""
    bases = [type(settings)()] + ([start] if start is not None else [])
    out = {"method": method_value(settings)}
    for name, info in setting_params(type(settings)).items():
        if info is None:
            continue
        value = getattr(settings, name)
        if name in ALWAYS or any(value != getattr(b, name) for b in bases):
            out[name] = value_text(info, value)
    return out


def query(settings: Settings | None = None, *, example: int | None = None,
          content: str | None = None, style: str | None = None, tab: str | None = None,
          compare: Mapping[str, Any] | None = None, start: Settings | None = None) -> str:
    """The query string (with its ``?``) of a link; parameters that are None are left out.
    ``start``: the server's starting values (see :func:`settings_params`)."""
    params: dict[str, str] = {}
    if tab:
        params["tab"] = tab
    if example is not None:
        params["example"] = str(example)
    else:
        params.update({k: v for k, v in (("content", content), ("style", style)) if v})
    if settings is not None:
        params.update(settings_params(settings, start))
    for name, value in (compare or {}).items():
        if value is None:
            continue
        params[name] = (",".join(value) if isinstance(value, (list, tuple))
                        else _number_text(value) if isinstance(value, (int, float)) else value)
    return "?" + urlencode(params, safe=":,")


# ----------------------------------------------------------------------------- examples


def _digest(path: str | Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def example_names(pairs: Sequence[tuple[str | Path, str | Path]]) -> dict[str, Path]:
    """Every example file of ``pairs`` by its file name."""
    return {Path(p).name: Path(p) for pair in pairs for p in pair}


def which_examples(content: str | None, style: str | None,
                   pairs: Sequence[tuple[str | Path, str | Path]]
                   ) -> tuple[int | None, str | None, str | None]:
    """What a link can say of the images in the form: the example pair's number when both are
    one pair's, else each image's example file name (None for an upload that is no example).
    Images are recognised by their bytes (the page holds copies of the example files)."""
    by_digest = {_digest(p): name for name, p in example_names(pairs).items()}
    by_digest.pop(None, None)
    names = [by_digest.get(_digest(p)) if p else None for p in (content, style)]
    for number, (c, s) in enumerate(pairs, start=1):
        if names == [Path(c).name, Path(s).name]:
            return number, names[0], names[1]
    return None, names[0], names[1]


# ----------------------------------------------------------------------------- reading


@dataclass
class LinkRequest:
    """What a link asks for; ``problems`` holds one message per parameter left out."""

    settings: Settings | None = None
    content: Path | None = None
    style: Path | None = None
    tab: str | None = None
    compare: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return (self.settings is None and self.content is None and self.style is None
                and self.tab is None and not self.compare and not self.problems)


def _form_value(info: FieldInfo | None, name: str, text: str) -> dict[str, Any]:
    """A parameter's text as the form values :func:`forms.settings_from_form` reads."""
    if info is None:  # method
        return {"method": text}
    low = text.strip().lower()
    if info.kind == "bool":
        if low not in TRUE_TEXTS + FALSE_TEXTS:
            raise ValueError(f"{name} must be 1 or 0, got {text!r}")
        return {name: low in TRUE_TEXTS}
    if name in controls.TOGGLED:
        off = low == NONE_TEXT
        return {controls.TOGGLED[name]: not off, **({} if off else {name: text})}
    if low == NONE_TEXT and info.optional:
        return {name: None if info.kind not in ("int", "float") else controls.none_value(info)}
    if info.log:
        number = forms.read_number(text, controls.short_label(info))
        if number <= 0:
            raise ValueError(f"{name} must be > 0, got {text!r}")
        return {f"{name}_log10": math.log10(number)}
    if info.kind == "mapping" or info.kind in ("ints", "floats", "strs"):
        return {name: text}
    if info.choices is not None and text not in info.choices:
        raise ValueError(f"unknown {name} {text!r}; choose from: "
                         f"{', '.join(map(str, info.choices))}")
    return {name: text}


def _apply(settings: Settings, name: str, text: str, known: Mapping[str, FieldInfo | None],
           limits: Limits) -> Settings:
    # The method already read goes along: the parameterization's options are checked against it.
    values = {"method": method_value(settings), **_form_value(known[name], name, text)}
    if name == "method":
        offered = [v for _, v in available_methods()]
        if text not in offered:
            raise ValueError(f"unknown method {text!r}; choose from: {', '.join(offered)}")
    return forms.settings_from_form(values, limits=limits, base=settings, need_style=False,
                                    cls=type(settings))


def _compare_value(name: str, text: str) -> Any:
    if name == "methods":
        offered = [v for _, v in available_methods()]
        chosen = [m.strip() for m in text.split(",") if m.strip()]
        wrong = [m for m in chosen if m not in offered]
        if wrong or not chosen:
            raise ValueError(f"unknown method(s) {', '.join(wrong) or '(none)'}; choose from: "
                             f"{', '.join(offered)}")
        return chosen
    if name == "budget":
        budgets = [v for _, v in budget.COMPARE_BUDGETS]
        if text not in budgets:
            raise ValueError(f"unknown budget {text!r}; choose from: {', '.join(budgets)}")
        return text
    seconds = forms.read_number(text, "seconds")
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {text!r}")
    return seconds


def _images(params: Mapping[str, str], pairs: Sequence[tuple[str | Path, str | Path]],
            link: LinkRequest) -> None:
    names = example_names(pairs)
    if "example" in params:
        text = params["example"]
        if text.isdigit() and 1 <= int(text) <= len(pairs):
            link.content, link.style = (Path(p) for p in pairs[int(text) - 1])
        else:
            link.problems.append(f"example={text}: there are examples 1 to {len(pairs)}")
    for slot in ("content", "style"):
        if slot in params:
            if params[slot] in names:
                setattr(link, slot, names[params[slot]])
            else:
                link.problems.append(f"{slot}={params[slot]}: not an example image; choose "
                                     f"from: {', '.join(names)}")


def read_query(params: Mapping[str, str], limits: Limits,
               pairs: Sequence[tuple[str | Path, str | Path]], cls: type = Settings
               ) -> LinkRequest:
    """A link's query parameters -> what the page fills in. The settings start from this
    server's starting values (its default size and steps) like the form does."""
    known = setting_params(cls)
    link = LinkRequest()
    unknown = [n for n in params if n not in param_names(cls) and n not in GRADIO_PARAMS]
    if unknown:
        link.problems.append(f"unknown link parameter(s) {', '.join(unknown)}; known: "
                             f"{', '.join(param_names(cls))}")
    _images(params, pairs, link)
    if "tab" in params:
        if params["tab"] in TABS:
            link.tab = params["tab"]
        else:
            link.problems.append(f"tab={params['tab']}: choose from: {', '.join(TABS)}")
    # A link's settings are read over the server's starting values (its device's defaults).
    settings = defaults.start_settings(limits, cls)
    asked = [n for n in known if n in params]
    # The method first: the parameterization's options are checked against it.
    for name in sorted(asked, key=lambda n: n != "method"):
        try:
            settings = _apply(settings, name, params[name], known, limits)
        except ValueError as exc:
            link.problems.append(f"{name}={params[name]}: {exc}")
    link.settings = settings if asked else None
    for name in COMPARE_PARAMS:
        if name in params:
            try:
                link.compare[name] = _compare_value(name, params[name])
            except ValueError as exc:
                link.problems.append(f"{name}={params[name]}: {exc}")
    return link
