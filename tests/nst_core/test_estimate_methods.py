"""The time estimate covers the brushstroke and CPPN parameterizations, the sliced Wasserstein
and STROTSS losses and the strotss preset: each measured against the base method like the
others, its warm-up counted, and its key apart from the Gram loss's."""
from __future__ import annotations

import math

import pytest

from nst_core import estimate
from nst_core.params import dip
from nst_core.settings import Settings, from_preset


@pytest.fixture(scope="module")
def measured():
    return estimate.calibrate("cpu", sides=(32, 64), steps=2)


NEW = {
    "brushstrokes": Settings(optimizer="adam", param="brushstrokes"),
    "cppn": Settings(optimizer="lbfgs", param="cppn"),
    "sliced": Settings(style_loss="sliced"),
    "strotss": from_preset("strotss"),
}


@pytest.fixture(scope="module")
def methods(measured):
    return {name: estimate.measure_method(measured, s, steps=2, side=32)
            for name, s in NEW.items()}


@pytest.mark.parametrize("name", list(NEW))
def test_each_new_method_is_measured_against_the_base(name, methods):
    method = methods[name]
    assert method.time > 0 and method.saved > 0
    if name == "cppn":
        # A start image is first fitted: the warm-up step is measured, its count counted.
        assert method.warmup_step > 0 and method.parameters_per_pixel == 0
    if name == "brushstrokes":
        # Strokes are capped at one per 4 px^2 on a small image: more pixels, more strokes.
        assert method.parameters_per_pixel > 0


def test_their_keys_differ_from_the_gram_losss():
    keys = {estimate.method_key(s) for s in NEW.values()}
    assert len(keys) == len(NEW) and estimate.BASE_KEY not in keys
    assert estimate.method_key(Settings(content_loss="self_similarity")) != estimate.BASE_KEY


@pytest.mark.parametrize("name", list(NEW))
def test_an_estimate_for_each(name, measured, methods):
    s = NEW[name]
    got = estimate.estimate_with(measured, methods[name], s, 64, 64)
    base = estimate.estimate_with(measured, measured.methods[estimate.BASE_METHOD],
                                  Settings(), 64, 64)
    assert math.isfinite(got.seconds) and got.seconds > 0 and got.seconds != base.seconds
    if name == "cppn":
        assert estimate.work(s, 64, 64).warmup_steps == dip.WARMUP_STEPS > 0
