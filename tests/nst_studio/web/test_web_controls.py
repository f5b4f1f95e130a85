"""The form's controls, generated from the settings' descriptions: a new setting appears by
itself; every preset is offered in words."""
from __future__ import annotations


import pytest

from nst_core.settings import PRESETS, field_infos
from nst_studio.web import forms
from nst_studio.web import controls as schema
from nst_studio.web.limits import Limits

from conftest import FORM_LIMITS as LIMITS, FormExtended as Extended


def test_a_new_setting_appears_in_the_form_with_no_other_edits():
    control = {c.name: c for c in schema.form_controls(LIMITS, cls=Extended)}["sharpness"]
    assert (control.widget, control.label, control.info) == ("slider", "Sharpness",
                                                             "how crisp the strokes are")
    assert (control.minimum, control.maximum, control.group) == (0.0, 2.0, "images")
    assert "sharpness" not in schema.form_names(LIMITS)  # only where the class has it
    values = forms.default_values(LIMITS, cls=Extended)
    assert values["sharpness"] == 0.5
    settings = forms.settings_from_form(dict(values, sharpness=1.5), limits=LIMITS,
                                        cls=Extended)
    assert isinstance(settings, Extended) and settings.sharpness == 1.5
    assert forms.form_values(settings, LIMITS)[0]["sharpness"] == 1.5
    with pytest.raises(ValueError, match="sharpness must be a finite number between 0 and 2"):
        forms.settings_from_form(dict(values, sharpness=3), limits=LIMITS, cls=Extended)


def test_every_form_field_has_a_control_and_a_value():
    names = schema.form_names(LIMITS)
    assert set(names) == set(forms.default_values(LIMITS))
    shown = {i.name if not i.log else f"{i.name}_log10" for i in field_infos() if i.form}
    shown -= set(schema.COMBINED)
    assert shown <= set(names) and {"method", "preset", "style_weight_log10",
                                    "edge_preserve"} <= set(names)
    controls = {c.name: c for c in schema.form_controls(LIMITS)}
    assert (controls["steps"].maximum, controls["size"].maximum) == (500, 256)
    assert controls["style_loss"].choices[0][0].startswith("gram: ")  # with its description
    assert controls["content_layers"].widget == "multiselect"


def test_every_layer_preset_is_offered_in_words_with_its_name():
    control = next(c for c in schema.form_controls(Limits()) if c.name == "preset")
    assert [value for _, value in control.choices] == list(PRESETS)
    for label, value in control.choices:
        assert label.endswith(f"({value})") and ":" in label  # words first, then the name
