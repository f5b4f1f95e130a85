"""Parameterizations (pixels, fft, dip, and any new registry entry) on small images."""
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from nst_core import Settings, run, stylize
from nst_core.params import dip
from nst_core.imaging import images
from nst_core.params import fft as nfft
from nst_core.params import pyramid
from nst_core.params.dip import SkipNet, make_dip, padded_size
from nst_core.params.registry import PARAMETERIZATIONS, count_parameters, warm_up

ODD = (1, 3, 37, 53)  # divisible by no power of 2: DIP must pad and crop


def target_image(content_path, shape):
    img = images.load_image(content_path).resize((shape[-1], shape[-2]))
    return images.to_tensor(img)


@pytest.mark.parametrize("with_init", [False, True])
@pytest.mark.parametrize("name", list(PARAMETERIZATIONS))
def test_output_shape_and_range(name, with_init, content_path):
    init = target_image(content_path, ODD) if with_init else None
    params, image_fn = PARAMETERIZATIONS[name].make(
        ODD, init, generator=torch.Generator().manual_seed(0))
    image = image_fn().detach()
    assert image.shape == ODD and image.dtype == torch.float32
    assert float(image.min()) >= 0 and float(image.max()) <= 1
    assert count_parameters(params) > 0


@pytest.mark.parametrize("name", list(PARAMETERIZATIONS))
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    params, image_fn = PARAMETERIZATIONS[name].make(
        ODD, None, generator=torch.Generator().manual_seed(0))
    # A loss that depends on every pixel and channel differently.
    weights = torch.linspace(-1, 1, ODD[1] * ODD[2] * ODD[3]).reshape(ODD)
    (image_fn() * weights).sum().backward()
    for p in params:
        assert p.grad is not None and bool(p.grad.abs().sum() > 0)


@pytest.mark.parametrize("name", list(PARAMETERIZATIONS))
def test_each_can_fit_a_small_image_under_mse(name, content_path):
    """Adam on plain MSE from the parameterization's random start reaches a 32 px photo."""
    shape = (1, 3, 24, 24)
    target = target_image(content_path, shape)
    torch.manual_seed(0)
    param = PARAMETERIZATIONS[name]
    params, image_fn = param.make(shape, None, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(params, lr=param.default_lr("adam", shape))
    with torch.no_grad():
        start = float(F.mse_loss(image_fn(), target))
    for _ in range(100):
        opt.zero_grad()
        loss = F.mse_loss(image_fn(), target)
        loss.backward()
        opt.step()
    with torch.no_grad():
        end = float(F.mse_loss(image_fn(), target))
    assert end < 0.01 and end < 0.2 * start, (start, end)


@pytest.mark.parametrize("name", list(PARAMETERIZATIONS))
def test_same_seed_same_image(name):
    def image(seed):
        torch.manual_seed(seed)
        _, fn = PARAMETERIZATIONS[name].make(ODD, None,
                                             generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            return fn().clone()

    assert torch.equal(image(1), image(1))
    assert not torch.equal(image(1), image(2))


# --- FFT ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 3, 64, 64), ODD, (1, 3, 16, 31)])
@pytest.mark.parametrize("options", [{}, {"decay_power": 0.0}, {"decay_power": 2.0},
                                     {"decorrelate": False}])
def test_fft_init_from_content_gives_back_the_content(shape, options, content_path):
    content = target_image(content_path, shape)
    _, image_fn = nfft.make_fft(shape, content, **options)
    with torch.no_grad():
        image = image_fn()
    # Exact up to float32 rounding, except that 0 and 1 are pulled in by the sigmoid's eps.
    expected = content.clamp(nfft.SIGMOID_EPS, 1 - nfft.SIGMOID_EPS)
    torch.testing.assert_close(image, expected, atol=2e-6, rtol=0)
    # ...which is far below 8-bit precision: the saved PNG is the content itself.
    assert torch.equal(images.quantize(image), content)


def test_colour_map_and_its_inverse():
    t = torch.randn(1, 3, 8, 9, dtype=torch.float64) * 3
    torch.testing.assert_close(nfft.rgb_to_decorrelated(nfft.decorrelated_to_rgb(t)), t)
    rgb = torch.rand(1, 3, 8, 9, dtype=torch.float64) * 0.9 + 0.05
    torch.testing.assert_close(nfft.to_valid_rgb(nfft.from_valid_rgb(rgb)), rgb)
    # Lucid's normalization: no column of the colour matrix is longer than 1.
    assert float(nfft.COLOR_CORRELATION_NORMALIZED.norm(dim=0).max()) == pytest.approx(1.0)


@pytest.mark.parametrize("h, w", [(8, 8), (7, 9), (16, 31)])
def test_frequency_grid_matches_torch_rfft(h, w):
    freqs = nfft.rfft2d_freqs(h, w)
    assert freqs.shape == torch.fft.rfft2(torch.zeros(h, w)).shape
    assert float(freqs[0, 0]) == 0 and float(freqs.max()) <= 0.5 * 2 ** 0.5 + 1e-6


def test_fft_decay_makes_low_frequencies_move_more():
    """With decay_power 1, the same change to a coefficient moves the image far more at a low
    frequency than at a high one; with decay_power 0 they move it equally."""
    def change(decay, row, col):
        spatial = nfft.FourierImage((1, 3, 32, 32), decay)
        spatial.coeffs[0, 0, row, col, 0] = 1.0
        return float(spatial.image().square().sum())

    assert change(1.0, 0, 1) > 50 * change(1.0, 16, 16)
    assert change(0.0, 0, 1) == pytest.approx(change(0.0, 5, 7), rel=1e-4)


@pytest.mark.parametrize("options, message", [
    ({"decay": 1}, "unknown fft option"), ({"decay_power": -1}, "decay_power"),
    ({"decay_power": "high"}, "decay_power"), ({"decorrelate": "yes"}, "decorrelate")])
def test_fft_bad_options_are_value_errors(options, message):
    with pytest.raises(ValueError, match=message):
        nfft.make_fft((1, 3, 16, 16), **options)


# --- DIP ---------------------------------------------------------------------------------------

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
    _, cold = make_dip(shape, content, warmup_steps=0)
    torch.manual_seed(0)
    _, warm = make_dip(shape, content, warmup_steps=20)
    assert warm.warm_up.steps == 20
    info = warm_up(warm)
    with torch.no_grad():
        cold_mse = float(F.mse_loss(cold(), content))
        warm_mse = float(F.mse_loss(warm(), content))
    assert warm_mse < 0.5 * cold_mse
    assert info["warmup_steps"] == 20 and info["warmup_seconds"] > 0
    assert info["warmup_mse"] == pytest.approx(warm_mse, rel=1e-5)
    assert warm_up(cold) == {} and warm_up(warm) == {}  # none, and run once


def test_dip_warm_up_stops_when_its_time_is_spent(content_path):
    shape = (1, 3, 32, 32)
    _, image_fn = make_dip(shape, target_image(content_path, shape), warmup_steps=10_000)
    info = warm_up(image_fn, seconds=0.2)
    # 10,000 steps take minutes; it stops at the first step that ends after 0.2 s.
    assert 1 <= info["warmup_steps"] < 10_000 and info["warmup_seconds"] >= 0.2


def test_dip_warms_up_by_itself_when_there_is_an_init_image(content_path, monkeypatch):
    shape = (1, 3, 32, 32)
    content = target_image(content_path, shape)
    monkeypatch.setattr(dip, "WARMUP_STEPS", 15)
    torch.manual_seed(0)
    _, auto = make_dip(shape, content)  # no warmup_steps: the default count
    info = warm_up(auto)
    assert info["warmup_steps"] == 15 and info["warmup_seconds"] > 0
    assert info["warmup_psnr"] == pytest.approx(-10 * math.log10(info["warmup_mse"]))
    torch.manual_seed(0)
    _, cold = make_dip(shape, content, warmup_steps=0)
    with torch.no_grad():
        assert info["warmup_mse"] < 0.5 * float(F.mse_loss(cold(), content))
    # Without an init image there is nothing to fit.
    _, noise = make_dip(shape)
    assert warm_up(noise) == {}


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


def test_engine_rejects_unknown_param_options_clearly(content_path, style_path):
    s = Settings(size=32, steps=1, param="fft", param_options={"decay_powr": 1})
    with pytest.raises(ValueError, match="unknown fft option"):
        run(content_path, style_path, s)


def test_fft_run_from_content_starts_at_the_content_loss(content_path, style_path):
    """Init 'content' through the Fourier map starts where pixels start (same image)."""
    from nst_core import stylize

    s = Settings(size=48, steps=1, preview_every=1)
    first_pixels = next(stylize(content_path, style_path, s))
    first_fft = next(stylize(content_path, style_path, dataclasses.replace(s, param="fft")))
    # Not bit-exact: pure white and black pixels are pulled in by SIGMOID_EPS (0.25/255).
    assert first_fft.losses["total"] == pytest.approx(first_pixels.losses["total"], rel=1e-2)


def test_single_run_cli_takes_param_and_options(tmp_path, content_path, style_path):
    import json

    from nst_core.cli.main import main

    metrics = tmp_path / "m.json"
    code = main(["--content", str(content_path), "--style", str(style_path), "--out",
                 str(tmp_path / "o.png"), "--size", "32", "--steps", "1", "--param", "dip",
                 "--optimizer", "adam", "--param-option", "channels=8",
                 "--param-option", "warmup_steps=2", "--metrics", str(metrics), "--quiet"])
    assert code == 0
    m = json.loads(metrics.read_text())
    assert m["param"] == "dip" and m["parameters"] == count_parameters(
        make_dip((1, 3, 32, 32), channels=8)[0])
    bad = main(["--content", str(content_path), "--style", str(style_path), "--out",
                str(tmp_path / "o.png"), "--size", "32", "--steps", "1", "--param", "fft",
                "--param-option", "decay_power=-2", "--quiet"])
    assert bad == 2


@pytest.mark.parametrize("h, w", [(64, 64), (37, 53), (8, 300), (5, 5)])
def test_pyramid_collapses_back_to_its_image(h, w):
    image = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    sizes = pyramid.band_sizes(h, w, pyramid.LEVELS)
    assert sizes[0] == (h, w) and len(sizes) <= pyramid.LEVELS
    assert all(min(s) >= pyramid.MIN_BAND_SIDE for s in sizes[1:])
    bands = pyramid.decompose(image, sizes)
    assert [tuple(b.shape[-2:]) for b in bands] == sizes
    torch.testing.assert_close(pyramid.collapse(bands), image, atol=1e-5, rtol=0)


def test_pyramid_starts_at_the_init_image_and_moves_coarse_first(content_path):
    content = images.to_tensor(images.resize(images.load_image(content_path), (48, 32)))
    params, image_fn = pyramid.make_pyramid((1, 3, 32, 48), content)
    torch.testing.assert_close(image_fn(), content.clamp(pyramid.EPS, 1 - pyramid.EPS),
                               atol=1e-5, rtol=0)
    assert len(params) == 3  # 48x32 -> 24x16 -> 12x8, the coarsest keeping 8 px
    # One coefficient of a coarser band moves a larger region: coarse structure moves first.
    footprints = []
    for band in params:
        with torch.no_grad():
            centre = (0, 0, band.shape[-2] // 2, band.shape[-1] // 2)
            before = image_fn().clone()
            band[centre] += 1.0
            footprints.append(int(((image_fn() - before).abs() > 1e-4).sum()))
            band[centre] -= 1.0
    assert footprints[0] < footprints[1] < footprints[2], footprints


@pytest.mark.parametrize("options, message", [({"levels": 0}, "levels must be"),
                                              ({"octaves": 2}, "unknown pyramid option")])
def test_pyramid_bad_options_are_value_errors(options, message):
    with pytest.raises(ValueError, match=message):
        pyramid.make_pyramid((1, 3, 32, 32), **options)
