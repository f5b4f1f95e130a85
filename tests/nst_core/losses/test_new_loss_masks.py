"""The sliced Wasserstein and STROTSS losses under a mask, through the engine, as the Gram
loss is in test_spatial.py: the area the mask leaves out gets no style."""
import pytest

from nst_core import Settings, run
from nst_core.imaging import images

from conftest import half_masks, tensor_at


@pytest.mark.parametrize("style_loss", ["sliced", "strotss"])
def test_area_without_a_mask_gets_no_style(style_loss, content_path, style_path):
    left, _ = half_masks()
    # L-BFGS, as the Gram loss's test: Adam moves every pixel by about its rate whatever the
    # size of its gradient, so the little that leaks through VGG19's receptive fields would
    # move the unmasked half as far.
    s = Settings(size=64, steps=15, preview_every=0, style_weight=1e3, style_loss=style_loss)
    out = images.to_tensor(run(content_path, style_path, s, masks=[left]).image)
    content = tensor_at(content_path, 64)
    err_left = float((out - content)[..., :, :28].square().mean())
    err_right = float((out - content)[..., :, 36:].square().mean())
    assert err_right < 0.25 * err_left, (err_left, err_right)
