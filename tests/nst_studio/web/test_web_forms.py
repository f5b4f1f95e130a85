"""nst_studio.web.forms: the settings form generated from the settings' field metadata, form
values <-> Settings, settings from files and from the API's JSON."""
from __future__ import annotations

import dataclasses
import json

import pytest
from PIL import Image

from nst_core.optim.registry import OPTIMIZERS
from nst_core.params.registry import PARAMETERIZATIONS
from nst_core.settings import PRESETS, Settings, field_infos, setting
from nst_studio.web import files, forms
from nst_studio.web.limits import Limits

LIMITS = Limits(max_steps=500, max_size=256, default_size=32, default_steps=4)


def form(**changes):
    values = forms.default_values(LIMITS)
    values.update(changes)
    return values


@dataclasses.dataclass(frozen=True)
class Extended(Settings):
    """A setting added the way every setting is: one field with its description."""

    sharpness: float = setting(0.5, label="Sharpness", help="how crisp the strokes are",
                               group="images", minimum=0.0, maximum=2.0)


def test_a_new_setting_appears_in_the_form_with_no_other_edits():
    control = {c.name: c for c in forms.form_controls(LIMITS, cls=Extended)}["sharpness"]
    assert (control.widget, control.label, control.info) == ("slider", "Sharpness",
                                                             "how crisp the strokes are")
    assert (control.minimum, control.maximum, control.group) == (0.0, 2.0, "images")
    assert "sharpness" not in forms.form_names(LIMITS)  # only where the class has it
    values = forms.default_values(LIMITS, cls=Extended)
    assert values["sharpness"] == 0.5
    settings = forms.settings_from_form(dict(values, sharpness=1.5), limits=LIMITS,
                                        cls=Extended)
    assert isinstance(settings, Extended) and settings.sharpness == 1.5
    assert forms.form_values(settings, LIMITS)[0]["sharpness"] == 1.5
    with pytest.raises(ValueError, match="sharpness must be a finite number between 0 and 2"):
        forms.settings_from_form(dict(values, sharpness=3), limits=LIMITS, cls=Extended)


def test_every_form_field_has_a_control_and_a_value():
    names = forms.form_names(LIMITS)
    assert set(names) == set(forms.default_values(LIMITS))
    shown = {i.name if not i.log else f"{i.name}_log10" for i in field_infos() if i.form}
    shown -= set(forms.COMBINED)
    assert shown <= set(names) and {"method", "preset", "style_weight_log10",
                                    "edge_preserve"} <= set(names)
    controls = {c.name: c for c in forms.form_controls(LIMITS)}
    assert (controls["steps"].maximum, controls["size"].maximum) == (500, 256)
    assert controls["style_loss"].choices[0][0].startswith("gram: ")  # with its description
    assert controls["content_layers"].widget == "multiselect"


@pytest.mark.parametrize("param", list(PARAMETERIZATIONS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_registry_pair_with_a_default_lr_is_a_method(param, optimizer):
    values = [v for _, v in forms.methods()]
    assert (f"{optimizer}:{param}" in values) == (optimizer in PARAMETERIZATIONS[param].lr)
    if optimizer in PARAMETERIZATIONS[param].lr:
        settings = forms.settings_from_form(form(method=f"{optimizer}:{param}"), limits=LIMITS)
        assert (settings.optimizer, settings.param) == (optimizer, param)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_form_values_round_trip_for_every_preset(preset):
    original = dataclasses.replace(PRESETS[preset], size=64, steps=20, seed=7, tv_weight=1e5,
                                   style_weight=3e3, preserve_color="luminance", lr=0.5)
    values, notes = forms.form_values(original, LIMITS)
    assert notes == [] and values["preset"] == preset
    back = forms.settings_from_form(values, limits=LIMITS)
    assert back.style_weight == pytest.approx(3e3, rel=1e-12)
    assert back == dataclasses.replace(original, style_weight=back.style_weight)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_values_set_the_presets_layers(preset):
    values = forms.preset_values(preset, LIMITS)
    settings = forms.settings_from_form(form(**values), limits=LIMITS)
    assert settings.content_layers == PRESETS[preset].content_layers
    assert settings.style_layers == PRESETS[preset].style_layers


@pytest.mark.parametrize("changes, message", [
    (dict(steps=None), "Steps is empty"),
    (dict(steps=2.5), "Steps must be a whole number"),
    (dict(steps=501), "over this server's limit of 500"),
    (dict(size=300), "over this server's limit of 256"),
    (dict(content_weight="abc"), "Content weight must be a number"),
    (dict(method="adam:nothing"), "unknown parameterization 'nothing'"),
    (dict(param_options="{oops"), "not valid JSON"),
    (dict(param_options='{"no_such_option": 1}'), "has no option"),
    (dict(style_layers=["relu9_9"]), "unknown VGG19 layer"),
    (dict(style_layers=5), "^Style layers must be a list of values, got 5$"),
    (dict(method="adam:dip", param_options='{"channels": 1000000000000}'),
     "^dip option channels must be a whole number between 1 and 256, got 1000000000000$"),
    (dict(param_options="[" * 40 + "]" * 40),
     r"^parameterization options are nested too deeply \(40 levels"),
    (dict(preview_every=0), "at least 1 step"),
    (dict(preset="nope"), "unknown preset 'nope'"),
])
def test_bad_form_values_raise_clear_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        forms.settings_from_form(form(**changes), limits=LIMITS)


def test_seed_and_lr_blanks_mean_random_and_default():
    s = forms.settings_from_form(form(seed=-1, lr=0), limits=LIMITS)
    assert s.seed is None and s.lr is None
    s = forms.settings_from_form(form(seed=5, lr=0.1), limits=LIMITS)
    assert s.seed == 5 and s.lr == 0.1
    values, _ = forms.form_values(s.__class__(seed=None, lr=None), LIMITS)
    assert (values["seed"], values["lr"]) == (-1, 0)


def test_edge_preserve_switches_the_edge_weight():
    assert forms.settings_from_form(form(edge_preserve=False, edge_weight=0.5),
                                    limits=LIMITS).edge_weight is None
    assert forms.settings_from_form(form(edge_preserve=True, edge_weight=0.5),
                                    limits=LIMITS).edge_weight == 0.5
    values, _ = forms.form_values(Settings(), LIMITS)
    assert values["edge_preserve"] is False and values["edge_weight"] == forms.EDGE_WEIGHT_ON


def test_values_over_this_servers_limits_are_lowered_with_a_note():
    values, notes = forms.form_values(dataclasses.replace(Settings(), steps=900, size=2048),
                                      LIMITS)
    assert (values["steps"], values["size"]) == (500, 256)
    assert any("steps 900 lowered" in n for n in notes)
    assert any("size 2048 px lowered" in n for n in notes)


def test_blend_weights_and_a_missing_style():
    s = forms.settings_from_form(form(), limits=LIMITS, n_styles=2, blend=[2.0, 0.5])
    assert s.style_blend_weights == (2.0, 0.5)
    with pytest.raises(ValueError, match="no style image"):
        forms.settings_from_form(form(), limits=LIMITS, n_styles=0)
    assert forms.settings_from_form(form(), limits=LIMITS, n_styles=0,
                                    need_style=False).style_blend_weights is None


def test_fields_the_form_lacks_survive_from_a_loaded_file_unless_layers_change():
    base = dataclasses.replace(Settings(), style_layer_weights=(1, 2, 3, 4, 5), tv_exponent=0.5,
                               content_layer_weights=(2.0,))
    s = forms.settings_from_form(form(), limits=LIMITS, base=base)
    assert s.style_layer_weights == (1, 2, 3, 4, 5) and s.content_layer_weights == (2.0,)
    assert s.tv_exponent == 1.25  # a form field: the form wins
    s = forms.settings_from_form(form(style_layers=["relu1_1"]), limits=LIMITS, base=base)
    assert s.style_layer_weights is None


def test_settings_files_round_trip(tmp_path):
    settings = dataclasses.replace(Settings(), size=48, steps=9, seed=3, device="cpu")
    meta = {"settings": settings.to_dict(), "losses": {"total": 1.0}}
    png, js = files.save_result(Image.new("RGB", (8, 8), "red"), meta)
    for path in (png, js):
        loaded = forms.load_settings_file(path)
        assert loaded.size == 48 and loaded.steps == 9 and loaded.seed == 3
        assert loaded.device == Settings().device  # the server's own device, not the file's
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    with pytest.raises(ValueError, match="holds no settings"):
        forms.load_settings_file(plain)
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    with pytest.raises(ValueError, match="neither a PNG made by this tool nor"):
        forms.load_settings_file(junk)


def test_settings_from_json_for_the_api():
    s = forms.settings_from_json('{"steps": 7, "size": 40}', LIMITS, n_styles=1)
    assert (s.steps, s.size) == (7, 40)
    assert forms.settings_from_json("", LIMITS, 1).size == LIMITS.default_size
    with pytest.raises(ValueError, match="NST_MAX_STEPS"):
        forms.settings_from_json('{"steps": 9999}', LIMITS, 1)
    with pytest.raises(ValueError, match="unknown setting"):
        forms.settings_from_json('{"stpes": 3}', LIMITS, 1)
    with pytest.raises(ValueError, match="not valid JSON"):
        forms.settings_from_json("{", LIMITS, 1)
    with pytest.raises(ValueError, match="must be a JSON object"):
        forms.settings_from_json("[1]", LIMITS, 1)


def test_the_pages_controls_for_a_new_setting(content_path, style_path):
    """The page builds its form for the settings class it is given: the new field is a slider
    with its label, help and range, and the page's values for it reach the Settings."""
    gr = pytest.importorskip("gradio")
    from nst_studio.ui import panel as panel_module

    with gr.Blocks():
        panel = panel_module.build(LIMITS, cls=Extended)
    slider = panel.form["sharpness"]
    assert isinstance(slider, gr.Slider)
    assert (slider.label, slider.info, slider.minimum, slider.maximum, slider.value) == (
        "Sharpness", "how crisp the strokes are", 0.0, 2.0, 0.5)
    data = {component: component.value for component in panel.event_inputs()}
    data.update({panel.content: str(content_path), panel.styles[0]: str(style_path),
                 panel.base: None, slider: 1.25})
    read, settings = panel.read(data)
    assert isinstance(settings, Extended) and settings.sharpness == 1.25
    assert read.content is not None and len(read.styles) == 1 and read.masks is None


@pytest.mark.parametrize("changes, n_styles, message", [
    ({"seed": 2 ** 63}, 1, "seed must be a whole number between 0 and "
                           "9223372036854775807 (or none), got 9223372036854775808"),
    ({"param_options": {"octaves": 2}}, 1,
     "parameterization 'pixels' has no option(s) ['octaves']; it takes: none"),
    ({}, 4, "4 style images is over this server's limit of 3 (NST_MAX_STYLES)"),
])
def test_every_job_passes_one_check_from_the_page_and_the_api(changes, n_styles, message):
    """The page (settings_from_form) and the API (settings_from_json) end in check_job."""
    settings = dataclasses.replace(Settings(), size=32, steps=2, **changes)
    with pytest.raises(ValueError) as exc:
        forms.check_job(settings, LIMITS, n_styles)
    assert str(exc.value) == message
    with pytest.raises(ValueError) as exc:
        forms.settings_from_json(json.dumps(settings.to_dict()), LIMITS, n_styles)
    assert str(exc.value) == message
    forms.check_job(dataclasses.replace(Settings(), size=32, steps=2, seed=2 ** 63 - 1),
                    LIMITS, 1)


def test_compare_settings_share_steps_or_time():
    s = Settings(steps=40)
    assert forms.compare_settings(s, "steps", 5, LIMITS) is s
    timed = forms.compare_settings(s, "time", "2.5", LIMITS)
    assert timed.time_budget == 2.5 and timed.steps == LIMITS.max_steps
    for seconds, message in ((0, "must be > 0"), ("", "is empty"), ("x", "must be a number"),
                             (float("nan"), "finite")):
        with pytest.raises(ValueError, match=message):
            forms.compare_settings(s, "time", seconds, LIMITS)
    with pytest.raises(ValueError, match="unknown budget 'hours'"):
        forms.compare_settings(s, "hours", 1, LIMITS)


def test_every_layer_preset_is_offered_in_words_with_its_name():
    control = next(c for c in forms.form_controls(Limits()) if c.name == "preset")
    assert [value for _, value in control.choices] == list(PRESETS)
    for label, value in control.choices:
        assert label.endswith(f"({value})") and ":" in label  # words first, then the name
