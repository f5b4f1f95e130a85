"""The settings form's components, generated from :func:`nst_studio.web.controls.form_controls`
(label, help as info, slider bounds, choices, checkbox for yes/no), laid out by group:
everyday settings in rows, advanced ones under the group's heading in the caller's accordion."""
from __future__ import annotations

from typing import Any

import gradio as gr

from nst_core.settings import GROUPS, Settings
from nst_studio.web import forms
from nst_studio.web import controls as schema
from nst_studio.web.limits import Limits

ROW_WIDTH = 4  # controls per row


def component(control: schema.Control, value: Any) -> gr.components.Component:
    """One control as a Gradio component (its elem_id is the form value's name)."""
    common = dict(label=control.label, info=control.info or None, elem_id=control.name)
    widget = control.widget
    if widget == "slider":
        return gr.Slider(control.minimum, control.maximum, value, step=control.step, **common)
    if widget == "number":
        return gr.Number(value, minimum=control.minimum, precision=0 if control.whole else None,
                         **common)
    if widget == "checkbox":
        return gr.Checkbox(value, **common)
    if widget == "radio":
        return gr.Radio(list(control.choices), value=value, **common)
    if widget in ("dropdown", "multiselect"):
        return gr.Dropdown(list(control.choices), value=value,
                           multiselect=widget == "multiselect", **common)
    return gr.Textbox(value, **common)


def _rows(controls: list[schema.Control], defaults: dict[str, Any]
          ) -> dict[str, gr.components.Component]:
    made = {}
    for start in range(0, len(controls), ROW_WIDTH):
        with gr.Row():
            for control in controls[start:start + ROW_WIDTH]:
                made[control.name] = component(control, defaults[control.name])
    return made


def _switched(controls: list[schema.Control], defaults: dict[str, Any]
              ) -> tuple[list[schema.Control], dict[str, gr.components.Component]]:
    """An on/off switch (schema.TOGGLED) and the controls it governs (those named like the
    field it switches, e.g. edge_*): the switch on a line of its own, the others in a row
    below it, usable only while it is on. Returns the other controls, and these made."""
    made: dict[str, gr.components.Component] = {}
    rest = list(controls)
    for field, switch_name in schema.TOGGLED.items():
        switch = next((c for c in rest if c.name == switch_name), None)
        if switch is None:
            continue
        prefix = field.split("_")[0] + "_"
        governed = [c for c in rest if c.name.startswith(prefix) and c is not switch]
        rest = [c for c in rest if c is not switch and c not in governed]
        made[switch.name] = toggle = component(switch, defaults[switch.name])
        on = bool(defaults[switch.name])
        with gr.Row(elem_id=f"{switch_name}_row"):
            parts = [component(c, defaults[c.name]) for c in governed]
        for c, part in zip(governed, parts):
            part.interactive = on
            made[c.name] = part
        toggle.change(lambda value, n=len(parts): [gr.update(interactive=bool(value))] * n,
                      toggle, parts, api_visibility="private", queue=False)
    return rest, made


def settings_form(limits: Limits, *, advanced: bool, cls: type = Settings
                  ) -> dict[str, gr.components.Component]:
    """The form's everyday (``advanced=False``) or advanced controls for ``cls``, group by
    group in :data:`nst_core.settings.GROUPS` order; advanced groups get a heading."""
    defaults = forms.default_values(limits, cls)
    chosen = [c for c in schema.form_controls(limits, cls) if c.advanced == advanced]
    made: dict[str, gr.components.Component] = {}
    if not advanced:  # the everyday settings fill rows together
        ordered = [c for group in GROUPS for c in chosen if c.group == group]
        return _rows(ordered, defaults)
    for group, heading in GROUPS.items():
        in_group = [c for c in chosen if c.group == group]
        if in_group:
            gr.Markdown(f"**{heading}**")
            in_group, switched = _switched(in_group, defaults)
            made.update(_rows(in_group, defaults))
            made.update(switched)
    return made
