"""The CPPN parameterization: coordinates, the network, what init means, options."""
import pytest
import torch
import torch.nn.functional as F

from nst_core import Settings, stylize
from nst_core.imaging import images
from nst_core.params import dip
from nst_core.params.base import warm_up
from nst_core.params.cppn import COORD_RANGE, CPPN, coordinates, make_cppn
from nst_core.params.registry import PARAMETERIZATIONS


def test_coordinates_keep_the_aspect_ratio():
    xy = coordinates(4, 8)
    assert xy.shape == (32, 2)
    assert float(xy[:, 0].abs().max()) < COORD_RANGE < float(xy[:, 0].abs().max()) * 1.2
    # The short side spans half the range: a square pattern stays square.
    assert float(xy[:, 1].abs().max()) == pytest.approx(float(xy[:, 0].abs().max()) / 2,
                                                        rel=0.2)


def test_network_maps_coordinates_to_colours_and_starts_near_grey():
    torch.manual_seed(0)
    rgb = CPPN()(coordinates(16, 16)).detach()
    assert rgb.shape == (256, 3) and float(rgb.min()) > 0 and float(rgb.max()) < 1
    assert abs(float(rgb.mean()) - 0.5) < 0.1 and float(rgb.std()) > 1e-3


def test_the_same_network_draws_any_size():
    torch.manual_seed(0)
    _, small = make_cppn((1, 3, 16, 16))
    torch.manual_seed(0)
    _, large = make_cppn((1, 3, 64, 64))
    with torch.no_grad():
        down = F.avg_pool2d(large(), 4)
        assert float((down - small()).abs().mean()) < 0.02


def test_init_is_a_warm_up_fit_to_the_start_image(content_path):
    shape = (1, 3, 32, 32)
    content = images.to_tensor(images.load_image(content_path).resize((32, 32)))
    torch.manual_seed(0)
    cold = make_cppn(shape, content, warmup_steps=0)
    torch.manual_seed(0)
    warm = make_cppn(shape, content, warmup_steps=60)
    assert cold.warm_up is None and warm.warm_up.steps == 60
    facts = warm_up(warm)
    with torch.no_grad():
        cold_mse, warm_mse = (float(F.mse_loss(m.image_fn(), content)) for m in (cold, warm))
    assert warm_mse < 0.5 * cold_mse
    assert facts.steps == 60 and facts.mse == pytest.approx(warm_mse, rel=1e-5)


def test_the_warm_up_is_dips_with_its_default_count(content_path, monkeypatch):
    monkeypatch.setattr(dip, "WARMUP_STEPS", 7)
    content = images.to_tensor(images.load_image(content_path).resize((16, 16)))
    assert make_cppn((1, 3, 16, 16), content).warm_up.steps == 7
    assert make_cppn((1, 3, 16, 16)).warm_up is None
    entry = PARAMETERIZATIONS["cppn"]
    assert entry.warmup_steps({}) == 7 and entry.warmup_steps({"warmup_steps": 4}) == 4


def test_a_run_from_the_content_starts_closer_to_it_than_from_noise(content_path, style_path):
    s = Settings(size=32, steps=1, preview_every=0, param="cppn", optimizer="adam",
                 param_options={"warmup_steps": 60})
    first = {init: next(stylize(content_path, style_path, s, init=init))
             for init in ("content", "noise")}
    assert first["content"].losses["content"] < 0.7 * first["noise"].losses["content"]
    assert "cppn" in PARAMETERIZATIONS and "warm" in PARAMETERIZATIONS["cppn"].description


@pytest.mark.parametrize("options, message", [
    ({"depth": 3}, "unknown cppn option"), ({"layers": 0}, "layers must be"),
    ({"layers": 2.0}, "layers must be"),
    ({"channels": 2.5}, "channels must be"), ({"channels": True}, "channels must be"),
    ({"warmup_steps": -1}, "warmup_steps must be"), ({"layers": 33}, "between 1 and 32"),
    ({"fourier": -1}, "fourier must be"), ({"fourier_scale": "big"}, "fourier_scale must be"),
    ({"fourier_scale": 1e3}, "between 0 and 100")])
def test_bad_options_are_value_errors(options, message):
    with pytest.raises(ValueError, match=message):
        make_cppn((1, 3, 16, 16), **options)


def test_options_change_the_network():
    params, _ = make_cppn((1, 3, 8, 8), layers=2, channels=4, fourier=0)
    # 2 -> 4 (x2 by the activation) -> 4 -> 3, weights and biases
    plain = (2 * 4 + 4) + (8 * 4 + 4) + (8 * 3 + 3)
    assert sum(p.numel() for p in params) == plain
    params, _ = make_cppn((1, 3, 8, 8), layers=2, channels=4, fourier=5)
    # sin and cos of 5 projections join the 2 coordinates at the input
    assert sum(p.numel() for p in params) == plain + 2 * 5 * 4


def test_fourier_features_let_it_hold_detail(content_path):
    """Fitted for the same steps, the network with Fourier features holds far more of a photo
    (Tancik et al. 2020); lucent's plain CPPN only a blurred silhouette."""
    content = images.to_tensor(images.load_image(content_path).resize((48, 48)))
    mse = {}
    for fourier in (0, 32):
        torch.manual_seed(0)
        mse[fourier] = warm_up(make_cppn((1, 3, 48, 48), content, fourier=fourier,
                                         warmup_steps=100)).mse
    assert mse[32] < 0.5 * mse[0]


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam", "sgd"])
def test_a_few_steps_under_every_optimizer(optimizer, content_path, style_path):
    assert optimizer in PARAMETERIZATIONS["cppn"].lr
    s = Settings(size=32, steps=3, preview_every=0, param="cppn", optimizer=optimizer,
                 param_options={"warmup_steps": 10})
    records = list(stylize(content_path, style_path, s))
    first, final = records[0].losses, records[-1].losses
    assert final["total"] < first["total"], (first, final)
    assert records[-1].image.size == (32, 32)
