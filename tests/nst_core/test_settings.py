"""Settings that describe themselves (nst_core.settings): metadata, registries, validation."""
import dataclasses
import json
import math

import pytest

from nst_core.imaging import vgg
from nst_core.optim.registry import OPTIMIZERS
from nst_core.params.registry import PARAMETERIZATIONS
from nst_core.settings import (GROUPS, INITS, KINDS, LUMINANCE_SPACES, PRESERVE_COLORS, PRESETS,
                               FieldInfo, Settings, field_info, field_infos, from_dict,
                               from_json, from_preset, setting, validate)
from nst_core.losses.content import CONTENT_LOSSES
from nst_core.losses.style import STYLE_LOSSES

INFOS = field_infos()


@dataclasses.dataclass(frozen=True)
class Extended(Settings):
    sharpness: float = setting(0.5, label="Sharpness", help="how crisp the strokes are",
                               group="images", minimum=0.0, maximum=1.0)
    brush: str = setting("round", label="Brush", help="brush shape", group="method",
                         choices=("round", "flat"))


def test_every_field_is_described_in_declaration_order():
    names = [f.name for f in dataclasses.fields(Settings)]
    assert [i.name for i in INFOS] == names
    defaults = Settings()
    for info in INFOS:
        assert info.kind in KINDS, info.name
        assert info.group in GROUPS, info.name
        assert info.label.strip() and info.help.strip(), info.name
        assert "\n" not in info.help, info.name
        assert info.default == getattr(defaults, info.name), info.name
        if info.minimum is not None and info.maximum is not None:
            assert info.minimum < info.maximum, info.name
    labels = [i.label for i in INFOS]
    assert len(labels) == len(set(labels))


def test_kinds_and_flags_read_from_the_fields():
    assert field_info("steps").kind == "int" and not field_info("steps").optional
    assert field_info("lr").kind == "float" and field_info("lr").optional
    assert field_info("seed").kind == "int" and field_info("seed").optional
    assert field_info("content_layers").kind == "strs"
    assert field_info("style_blend_weights").kind == "floats"
    assert field_info("level_steps").kind == "ints"
    assert field_info("multiscale").kind == "bool"
    assert field_info("param_options").kind == "mapping"
    assert field_info("param_options").default == {}
    assert field_info("style_weight").log
    # Server fields: the command line sets them, the app's form does not.
    assert not field_info("device").form and not field_info("weights").form
    assert field_info("device").cli and field_info("weights").cli
    with pytest.raises(ValueError, match="unknown setting 'colour'.*style_weight"):
        field_info("colour")


@pytest.mark.parametrize("name, registry", [("param", PARAMETERIZATIONS),
                                            ("optimizer", OPTIMIZERS),
                                            ("style_loss", STYLE_LOSSES),
                                            ("content_loss", CONTENT_LOSSES),
                                            ("init", INITS),
                                            ("preserve_color", PRESERVE_COLORS),
                                            ("luminance_space", LUMINANCE_SPACES),
                                            ("pooling", vgg.POOLINGS),
                                            ("precision", vgg.PRECISIONS),
                                            ("content_layers", vgg.LAYER_NAMES),
                                            ("style_layers", vgg.LAYER_NAMES)])
def test_choices_are_the_registries(name, registry):
    assert field_info(name).choices == tuple(registry)


def test_choices_are_read_when_asked(monkeypatch):
    monkeypatch.setitem(STYLE_LOSSES, "new_loss", STYLE_LOSSES["gram"])
    assert "new_loss" in field_info("style_loss").choices
    validate(Settings(style_loss="new_loss"))


def test_style_losses_and_parameterizations_describe_their_choices():
    assert set(field_info("style_loss").choice_help) == set(STYLE_LOSSES)
    assert set(field_info("param").choice_help) <= set(PARAMETERIZATIONS)


CHOICES = [(i.name, c) for i in INFOS if i.choices is not None and i.kind == "str"
           for c in i.choices]


@pytest.mark.parametrize("name, value", CHOICES)
def test_every_choice_is_valid(name, value):
    validate(Settings(**{name: value}))


@pytest.mark.parametrize("name", [i.name for i in INFOS if i.choices is not None])
def test_an_unknown_choice_names_the_choices(name):
    info = field_info(name)
    bad = ("nope",) if info.kind == "strs" else "nope"
    with pytest.raises(ValueError, match=f"unknown .*'nope'.*choose from: {info.choices[0]}"):
        validate(Settings(**{name: bad}))


BOUNDED = [i for i in INFOS if i.minimum is not None or i.maximum is not None]


@pytest.mark.parametrize("info", BOUNDED, ids=lambda i: i.name)
def test_numbers_outside_the_range_name_the_field(info):
    def value(x):
        x = int(x) if info.kind in ("int", "ints") else float(x)
        return (x,) if info.kind in ("ints", "floats") else x

    # Other fields as a value of this one needs them (averaging is for adam and sgd).
    base = {"optimizer": "adam"} if info.name == "average" else {}
    for edge, step in ((info.minimum, -1), (info.maximum, 1)):
        if edge is None:
            continue
        outside = edge if info.strict else edge + step
        with pytest.raises(ValueError, match=f"{info.name} must be"):
            validate(Settings(**base, **{info.name: value(outside)}))
        if not info.strict and info.name != "tile_size":  # tile_size: 0, or >= 64
            validate(Settings(**base, **{info.name: value(edge)}))


@pytest.mark.parametrize("changes, message", [
    (dict(param="voxels"), "unknown parameterization 'voxels'; choose from: pixels"),
    (dict(optimizer="newton"), "unknown optimizer 'newton'; choose from: lbfgs"),
    (dict(style_loss="nope"), "unknown style loss 'nope'; choose from: gram"),
    (dict(init="zeros"), "unknown init 'zeros'; choose from: content, noise, style"),
    (dict(preserve_color="sepia"), "choose from: none, luminance, histogram"),
    (dict(style_layers=("relu9_1",)), r"unknown VGG19 layer\(s\) \['relu9_1'\]"),
    (dict(steps=0), "steps must be a whole number >= 1, got 0"),
    (dict(steps=2.5), "steps must be a whole number"),
    (dict(size=8), "size must be a whole number of pixels >= 16, got 8"),
    (dict(style_weight=-1.0), "style_weight must be a finite number >= 0, got -1.0"),
    (dict(style_weight=math.inf), "style_weight must be a finite number"),
    (dict(style_weight=math.nan), "style_weight must be a finite number"),
    (dict(content_weight="a lot"), "content_weight must be a finite number"),
    (dict(edge_weight=-1.0), "edge_weight must be"),
    (dict(edge_threshold=1.5), "edge_threshold must be .*between 0 and 1"),
    (dict(edge_blur=-1.0), "edge_blur must be .*between 0 and 64 pixels"),
    (dict(tv_exponent=0.0), "tv_exponent must be .*> 0"),
    (dict(lr=0.0), "lr must be .*> 0"),
    (dict(style_scale=10.0), "style_scale must be .*between 0.05 and 8"),
    (dict(min_size=4), "min_size must be a whole number of pixels >= 16"),
    (dict(level_steps=(3, 0)), r"level_steps must be whole numbers >= 1, got \[3, 0\]"),
    (dict(tile_size=10), r"tile_size must be 0 \(no tiling\) or >= 64 pixels"),
    (dict(tile_overlap=600), "tile_overlap must be between 0 and half the tile size"),
    (dict(report_every=-1), "report_every must be a whole number >= 0"),
    (dict(preview_every=-1), "preview_every must be"),
    (dict(multiscale="yes"), "multiscale must be True or False"),
    (dict(param_options=[1]), "param_options must be a mapping"),
    (dict(content_layers="relu4_2"), "content_layers must be a list"),
    (dict(steps=None), "steps is required"),
    (dict(content_layers=(), style_layers=()), "no content or style layers"),
    (dict(style_layer_weights=(1.0,)), "style_layer_weights has 1 values for 5 layers"),
    (dict(style_blend_weights=(1.0, 2.0)), "style_blend_weights has 2 values for 1 style"),
    (dict(style_blend_weights=(0.0,)), "style_blend_weights must be >= 0 and not all 0"),
])
def test_bad_settings_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        validate(dataclasses.replace(Settings(), **changes))


def test_optional_fields_take_none():
    validate(Settings(lr=None, seed=None, edge_weight=None, level_steps=None,
                      style_blend_weights=None, content_layer_weights=None))


def test_blend_weights_count_the_styles():
    validate(Settings(style_blend_weights=(1.0, 3.0)), n_styles=2)


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_are_valid_and_round_trip(name):
    s = from_preset(name, seed=None, param="fft", param_options={"decay_power": 1.0})
    validate(s)
    assert from_json(s.to_json()) == s
    assert from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_from_dict_and_presets_errors():
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['colour'\]"):
        from_dict({"colour": 1})
    with pytest.raises(ValueError, match="unknown preset 'x'; choose from: gatys"):
        from_preset("x")
    with pytest.raises(ValueError, match="not valid JSON"):
        from_json("{")


def test_settings_stay_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().steps = 3


def test_a_subclass_field_is_described_and_validated():
    infos = field_infos(Extended)
    assert [i.name for i in infos[-2:]] == ["sharpness", "brush"]
    sharp = field_info("sharpness", Extended)
    assert isinstance(sharp, FieldInfo)
    assert (sharp.kind, sharp.label, sharp.group, sharp.minimum, sharp.maximum) == (
        "float", "Sharpness", "images", 0.0, 1.0)
    validate(Extended(sharpness=1.0, brush="flat"))
    with pytest.raises(ValueError, match="sharpness must be .*between 0 and 1"):
        validate(Extended(sharpness=2.0))
    with pytest.raises(ValueError, match="unknown brush 'square'; choose from: round, flat"):
        validate(Extended(brush="square"))
    e = from_dict({"sharpness": 0.25}, base=Extended())
    assert isinstance(e, Extended) and e.sharpness == 0.25
    assert from_json(e.to_json(), base=Extended()) == e


def test_setting_rejects_an_unknown_group():
    with pytest.raises(ValueError, match="unknown settings group 'colours'"):
        setting(1, label="x", help="x", group="colours")


def test_settings_hash_by_value_even_with_parameterization_options():
    # A page keeps Settings in its stored values, and Gradio hashes those.
    a = Settings(param="dip", param_options={"channels": 16})
    assert hash(a) == hash(Settings(param="dip", param_options={"channels": 16}))
    assert hash(a) != hash(Settings(param="dip", param_options={"channels": 32}))
    assert {a: 1}[Settings(param="dip", param_options={"channels": 16})] == 1
