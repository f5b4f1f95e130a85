"""nst_studio.web.forms: the form's codec, form values <-> Settings (the controls, settings
files and the API's JSON, admission and the compare budget have their own test files)."""
from __future__ import annotations

import dataclasses

import pytest

from nst_core.methods import available_methods
from nst_core.optim.registry import OPTIMIZERS
from nst_core.params.registry import PARAMETERIZATIONS
from nst_core.settings import PRESETS, Settings
from nst_studio.web import forms
from nst_studio.web import controls as schema

from conftest import FORM_LIMITS as LIMITS, form


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
    assert values["edge_preserve"] is False and values["edge_weight"] == schema.EDGE_WEIGHT_ON


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


@pytest.mark.parametrize("param", list(PARAMETERIZATIONS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_registry_pair_with_a_default_lr_is_a_method(param, optimizer):
    values = [v for _, v in available_methods()]
    assert (f"{optimizer}:{param}" in values) == (optimizer in PARAMETERIZATIONS[param].lr)
    if optimizer in PARAMETERIZATIONS[param].lr:
        settings = forms.settings_from_form(form(method=f"{optimizer}:{param}"), limits=LIMITS)
        assert (settings.optimizer, settings.param) == (optimizer, param)
