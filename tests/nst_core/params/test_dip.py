"""The Deep Image Prior generator: any size, its options, input noise, the warm-up record."""
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from nst_core import Settings, run, stylize
from nst_core.params import dip
from nst_core.params.dip import SkipNet, make_dip, padded_size
from nst_core.params.base import count_parameters, warm_up

from conftest import ODD, target_image


@pytest.mark.parametrize("h, w, depth", [(37, 53, 5), (64, 64, 5), (17, 16, 3), (5, 300, 2)])
def test_dip_handles_any_size(h, w, depth):
    ph, pw = padded_size(h, w, depth)
    assert ph % 2 ** depth == 0 and pw % 2 ** depth == 0 and ph >= h and pw >= w
    _, image_fn = make_dip((1, 3, h, w), depth=depth)
    assert image_fn().shape == (1, 3, h, w)


def test_dip_default_size_and_options():
    params, _ = make_dip(ODD)
    n = count_parameters(params)
    assert 150_000 <= n <= 2_000_000  # the range for the default generator
    assert n == sum(p.numel() for p in SkipNet().parameters())
    small, _ = make_dip(ODD, channels=16, depth=3)
    assert count_parameters(small) < n / 10


@pytest.mark.parametrize("options, message", [
    ({"width": 8}, "unknown dip option"), ({"depth": 0}, "depth"), ({"channels": 2.5}, "channels"),
    ({"input_noise": -0.1}, "input_noise"),
    ({"depth": 9}, r"^dip option depth must be a whole number between 1 and 6, got 9$"),
    ({"channels": 10 ** 12}, r"^dip option channels must be a whole number between 1 and 256"),
    ({"warmup_steps": -1}, r"^dip option warmup_steps must be a whole number between 0 and "
                           r"10000 \(or none\), got -1$")])
def test_dip_bad_options_are_value_errors(options, message):
    with pytest.raises(ValueError, match=message):
        make_dip((1, 3, 32, 32), **options)
    # A depth in range can still be too deep for a tiny image.
    with pytest.raises(ValueError, match="dip depth 6 is too deep for a 8x8 image"):
        make_dip((1, 3, 8, 8), depth=6)


def test_dip_input_noise_only_while_optimizing():
    torch.manual_seed(0)
    _, image_fn = make_dip((1, 3, 32, 32), input_noise=1 / 30,
                           generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = image_fn(), image_fn()
    assert torch.equal(a, b)
    assert not torch.equal(image_fn().detach(), image_fn().detach())


def test_dip_warmup_fits_the_content_and_is_reported(content_path):
    shape = (1, 3, 32, 32)
    content = target_image(content_path, shape)
    torch.manual_seed(0)
    cold_made = make_dip(shape, content, warmup_steps=0)
    cold = cold_made.image_fn
    torch.manual_seed(0)
    warm_made = make_dip(shape, content, warmup_steps=20)
    warm = warm_made.image_fn
    assert warm_made.warm_up.steps == 20
    info = warm_up(warm_made)
    with torch.no_grad():
        cold_mse = float(F.mse_loss(cold(), content))
        warm_mse = float(F.mse_loss(warm(), content))
    assert warm_mse < 0.5 * cold_mse
    assert info.steps == 20 and info.seconds > 0
    assert info.mse == pytest.approx(warm_mse, rel=1e-5)
    assert warm_up(cold_made) is None and warm_up(warm_made) is None  # none, and run once


def test_dip_warm_up_stops_when_its_time_is_spent(content_path):
    shape = (1, 3, 32, 32)
    made = make_dip(shape, target_image(content_path, shape), warmup_steps=10_000)
    info = warm_up(made, seconds=0.2)
    # 10,000 steps take minutes; it stops at the first step that ends after 0.2 s.
    assert 1 <= info.steps < 10_000 and info.seconds >= 0.2


def test_dip_warms_up_by_itself_when_there_is_an_init_image(content_path, monkeypatch):
    shape = (1, 3, 32, 32)
    content = target_image(content_path, shape)
    monkeypatch.setattr(dip, "WARMUP_STEPS", 15)
    torch.manual_seed(0)
    auto = make_dip(shape, content)  # no warmup_steps: the default count
    info = warm_up(auto).to_json()
    assert info["warmup_steps"] == 15 and info["warmup_seconds"] > 0
    assert info["warmup_psnr"] == pytest.approx(-10 * math.log10(info["warmup_mse"]))
    torch.manual_seed(0)
    _, cold = make_dip(shape, content, warmup_steps=0)
    with torch.no_grad():
        assert info["warmup_mse"] < 0.5 * float(F.mse_loss(cold(), content))
    # Without an init image there is nothing to fit.
    noise = make_dip(shape)
    assert noise.warm_up is None and warm_up(noise) is None


def test_dip_starts_from_the_content_by_default_and_from_noise_when_asked(content_path,
                                                                          style_path):
    base = Settings(size=32, steps=1, preview_every=0, param="dip", optimizer="sgd", seed=0)
    first = {}
    for init in ("content", "noise"):
        records = list(stylize(content_path, style_path, dataclasses.replace(base, init=init)))
        first[init] = records[0]
        assert ("warmup_steps" in records[-1].info) == (init == "content")
    # The warmed-up generator starts far closer to the content (content loss at step 0).
    assert first["content"].losses["content"] < 0.5 * first["noise"].losses["content"]


def test_engine_reports_dip_parameters_and_warmup(content_path, style_path):
    s = Settings(size=32, steps=2, preview_every=0, param="dip", optimizer="adam",
                 param_options={"warmup_steps": 5})
    final = run(content_path, style_path, s)
    assert final.info["parameters"] == sum(p.numel() for p in SkipNet().parameters())
    assert final.info["warmup_steps"] == 5 and final.step == 2
    assert final.info["warmup_seconds"] > 0


def test_a_dip_warm_up_spends_the_time_budget_first(content_path, style_path):
    s = Settings(size=32, steps=1000, preview_every=0, param="dip", optimizer="adam",
                 time_budget=0.5, param_options={"warmup_steps": 10_000})
    final = run(content_path, style_path, s)
    assert 1 <= final.info["warmup_steps"] < 10_000
    assert final.info["stopped_by"] == "time_budget" and final.step == 1
    assert final.info["seconds"] >= 0.5
