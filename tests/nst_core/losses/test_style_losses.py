"""Style-loss variants and blends at tiny sizes (masks and the edge-preserving loss:
test_spatial.py; explore modes and sweep grids: test_sweep.py)."""
import dataclasses

import numpy as np
import pytest
import torch

from nst_core import stylize
from nst_core.engine.loop import evaluate
from nst_core.engine.prepare import prepare
from nst_core.losses.style import STYLE_LOSSES
from nst_core.losses.style import MMDPolyLoss

from conftest import TINY, tensor_at

@pytest.mark.parametrize("name", list(STYLE_LOSSES))
def test_each_style_loss_lowers_its_own_loss(name, content_path, style_path):
    records = list(stylize(content_path, style_path, TINY, style_loss=name))
    first, final = records[0].losses, records[-1].losses
    assert final["style"] < 0.7 * first["style"], (first, final)
    assert all(np.isfinite(v) for v in final.values())


@pytest.mark.parametrize("name", list(STYLE_LOSSES))
def test_style_loss_is_zero_on_the_style_itself(name, vgg, style_path, content_path):
    from nst_core.imaging.vgg import FeatureExtractor

    ex = FeatureExtractor(vgg, ("relu1_1", "relu3_1", "relu5_1"))
    style_f = ex(tensor_at(style_path, 48))
    content_f = ex(tensor_at(content_path, 48))
    for layer in ex.layers:
        loss = STYLE_LOSSES[name]([style_f[layer]], [1.0])
        own, other = float(loss(style_f[layer])), float(loss(content_f[layer]))
        assert own < 1e-3 * other, (layer, own, other)


@pytest.mark.parametrize("name", list(STYLE_LOSSES))
def test_blend_one_zero_equals_the_single_style(name, content_path, style_path, style2_path):
    s = dataclasses.replace(TINY, style_loss=name)
    one = prepare(content_path, style_path, s)
    both = prepare(content_path, [style_path, style2_path],
                   dataclasses.replace(s, style_blend_weights=(1.0, 0.0)))
    mixed = prepare(content_path, [style_path, style2_path], s)
    for layer, loss in one.objective.style_losses.items():
        torch.testing.assert_close(both.objective.style_losses[layer].target, loss.target)
    image = torch.rand_like(one.content, generator=torch.Generator().manual_seed(0))
    assert evaluate(both, image)["style"] == pytest.approx(evaluate(one, image)["style"],
                                                           rel=1e-5)
    assert evaluate(mixed, image)["style"] != pytest.approx(evaluate(one, image)["style"],
                                                            rel=1e-3)


@pytest.mark.parametrize("name", list(STYLE_LOSSES))
def test_uniform_weights_give_the_unweighted_loss(name, vgg, style_path, content_path):
    """The masked code path with an all-white mask is the plain loss."""
    from nst_core.imaging.vgg import FeatureExtractor

    ex = FeatureExtractor(vgg, ("relu2_1",))
    s, c = ex(tensor_at(style_path, 48))["relu2_1"], ex(tensor_at(content_path, 48))["relu2_1"]
    loss = STYLE_LOSSES[name]([s], [1.0])
    ones = torch.full((1, 1, *c.shape[-2:]), 0.37)
    torch.testing.assert_close(loss(c, ones), loss(c), rtol=1e-4, atol=0)


def test_mmd_poly_with_c_zero_is_the_gram_loss(vgg, style_path, content_path, monkeypatch):
    """Li et al. 2017: Gram matching is MMD with the kernel (x.y)^2."""
    from nst_core.imaging.vgg import FeatureExtractor

    monkeypatch.setattr(MMDPolyLoss, "C_FACTOR", 0.0)
    monkeypatch.setattr(MMDPolyLoss, "SCALE", 1.0)
    ex = FeatureExtractor(vgg, ("relu3_1",))
    s, c = ex(tensor_at(style_path, 48))["relu3_1"], ex(tensor_at(content_path, 48))["relu3_1"]
    torch.testing.assert_close(MMDPolyLoss([s], [1.0])(c), STYLE_LOSSES["gram"]([s], [1.0])(c),
                               rtol=1e-4, atol=0)


def test_histogram_blend_is_the_mixture(vgg, style_path, style2_path):
    """Equal weights: the target quantiles are those of the two styles' pooled activations."""
    from nst_core.losses.style import HistogramLoss
    from nst_core.losses.base import HIST_LEVELS, weighted_quantiles
    from nst_core.imaging.vgg import FeatureExtractor

    ex = FeatureExtractor(vgg, ("relu1_1",))
    a, b = ex(tensor_at(style_path, 48))["relu1_1"], ex(tensor_at(style2_path, 48))["relu1_1"]
    a, b = a[..., :32, :32], b[..., :32, :32]  # same number of positions
    pooled = torch.cat([a.reshape(64, -1), b.reshape(64, -1)], dim=1)
    expected = weighted_quantiles(pooled, torch.ones(1, pooled.shape[1]), HIST_LEVELS)
    got = HistogramLoss([a, b], [1.0, 1.0]).target
    # Each style is kept as 256 quantiles, so only the extreme tail can differ noticeably.
    assert float((got - expected).abs().mean()) < 0.03 * float(expected.abs().mean())
    assert float((got - HistogramLoss([a], [1.0]).target).abs().mean()) > \
        0.05 * float(expected.abs().mean())



# ------------------------------------------------------------------------ edge preservation
