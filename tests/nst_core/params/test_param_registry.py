"""Parameterizations (pixels, fft, dip, and any new registry entry) on small images."""

import pytest
import torch
import torch.nn.functional as F

from nst_core import Settings, run
from nst_core.params.registry import PARAMETERIZATIONS
from nst_core.params.base import count_parameters

from conftest import ODD, target_image

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

# --- DIP ---------------------------------------------------------------------------------------

def test_engine_rejects_unknown_param_options_clearly(content_path, style_path):
    s = Settings(size=32, steps=1, param="fft", param_options={"decay_powr": 1})
    with pytest.raises(ValueError, match="unknown fft option"):
        run(content_path, style_path, s)

