"""Techniques at tiny sizes: style-loss variants, blends, masks, edge-preserving loss
(explore modes and sweep grids: test_sweep.py)."""
import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from nst_core import Settings, run, stylize
from nst_core.imaging import images
from nst_core.losses import spatial
from nst_core.cli.main import main as cli_main
from nst_core.engine.loop import evaluate, prepare
from nst_core.losses.objective import STYLE_LOSSES, gram
from nst_core.losses.style import MMDPolyLoss

TINY = Settings(size=48, steps=8, preview_every=0)


def tensor_at(path, size):
    img = images.load_image(path)
    return images.to_tensor(images.resize(img, images.fit_size(*img.size, size)))


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
    from nst_core.losses.style import HIST_LEVELS, HistogramLoss, weighted_quantiles
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


# ------------------------------------------------------------------------------------ masks

def half_masks(size=64):
    left = np.zeros((size, size), np.uint8)
    left[:, : size // 2] = 255
    return Image.fromarray(left), Image.fromarray(255 - left)


def gram_distance(ex, image, style):
    """Mean over relu1_1 and relu2_1 of the relative Gram distance of two images."""
    fa, fb = ex(image), ex(style)
    return sum(float(torch.linalg.norm(gram(fa[n]) - gram(fb[n])) / torch.linalg.norm(gram(fb[n])))
               for n in ex.layers) / len(ex.layers)


def test_masks_confine_each_style_to_its_region(vgg, content_path, style_path, style2_path):
    from nst_core.imaging.vgg import FeatureExtractor

    left, right = half_masks()
    s = Settings(size=64, steps=25, preview_every=0, style_weight=1e3)
    out = images.to_tensor(run(content_path, [style_path, style2_path], s,
                               masks=[left, right]).image)
    ex = FeatureExtractor(vgg, ("relu1_1", "relu2_1"))
    s1, s2 = tensor_at(style_path, 64), tensor_at(style2_path, 64)
    # Crops away from the seam: region statistics against each style.
    lo, ro = out[..., :, 4:28], out[..., :, 36:60]
    d = {(r, k): gram_distance(ex, crop, st) for r, crop in (("L", lo), ("R", ro))
         for k, st in (("s1", s1), ("s2", s2))}
    assert d["L", "s1"] < d["L", "s2"], d
    assert d["R", "s2"] < d["R", "s1"], d


def test_area_without_a_mask_gets_no_style(content_path, style_path):
    left, _ = half_masks()
    s = Settings(size=64, steps=15, preview_every=0, style_weight=1e3)
    out = images.to_tensor(run(content_path, style_path, s, masks=[left]).image)
    content = tensor_at(content_path, 64)
    err_left = float((out - content)[..., :, :28].square().mean())
    err_right = float((out - content)[..., :, 36:].square().mean())
    assert err_right < 0.2 * err_left, (err_left, err_right)


def test_mask_validation(content_path, style_path, style2_path, tmp_path):
    left, right = half_masks()
    with pytest.raises(ValueError, match="1 mask\\(s\\) for 2 style"):
        next(stylize(content_path, [style_path, style2_path], TINY, masks=[left]))
    with pytest.raises(images.ImageError, match="mask 2: the mask is empty"):
        next(stylize(content_path, [style_path, style2_path], TINY,
                     masks=[left, Image.new("L", (64, 64), 0)]))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(images.ImageError, match="mask: not an image"):
        next(stylize(content_path, style_path, TINY, masks=[bad]))
    with pytest.raises(images.ImageError, match="aspect ratio"):
        next(stylize(content_path, style_path, TINY, masks=[Image.new("L", (64, 32), 255)]))


def test_painted_layer_uses_its_alpha(tmp_path):
    """A transparent layer with opaque strokes (an image editor's paint layer) is a mask."""
    layer = np.zeros((32, 32, 4), np.uint8)
    layer[:, :16] = (255, 0, 0, 255)  # red strokes on the left, transparent elsewhere
    path = tmp_path / "paint.png"
    Image.fromarray(layer, "RGBA").save(path)
    for src in (path, layer, Image.open(path)):
        m = spatial.load_mask(src, (32, 32))
        assert float(m[..., :16].mean()) == pytest.approx(1.0)
        assert float(m[..., 16:].mean()) == pytest.approx(0.0)


# ------------------------------------------------------------------------ edge preservation

def edge_error(result, content):
    """Mean |Sobel(result) - Sobel(content)| on the content's strong edges (E > 0.5)."""
    e = spatial.edge_mask(content, Settings().edge_threshold, Settings().edge_blur) > 0.5
    diff = (spatial.sobel_magnitude(result) - spatial.sobel_magnitude(content)).abs()
    return float(diff[e].mean())


def test_edge_term_preserves_content_edges(content_path, style_path):
    s = Settings(size=64, steps=20, preview_every=0, style_weight=1e3)
    content = tensor_at(content_path, 64)
    plain = images.to_tensor(run(content_path, style_path, s).image)
    kept = images.to_tensor(run(content_path, style_path, s, edge_weight=0.0).image)
    # Measured at these settings: 0.064 vs 0.072 (11% less edge change).
    assert edge_error(kept, content) < 0.95 * edge_error(plain, content)


def test_edge_mask_marks_edges_not_flat_areas():
    img = torch.zeros(1, 3, 40, 40)
    img[..., :, 20:] = 1.0  # one vertical step edge
    e = spatial.edge_mask(img, 0.2, 1.0)
    assert float(e[..., 18:22].mean()) > 0.5
    assert float(e[..., :8].max()) == 0 and float(e[..., 32:].max()) == 0


@pytest.mark.parametrize("field, value, message", [
    ("edge_weight", -1.0, "edge_weight"),
    ("edge_threshold", 1.5, "edge_threshold"),
    ("edge_blur", -1.0, "edge_blur"),
])
def test_bad_edge_settings(field, value, message, content_path, style_path):
    with pytest.raises(ValueError, match=message):
        next(stylize(content_path, style_path, TINY, **{field: value}))


def test_cli_masks_and_edge_options(tmp_path, content_path, style_path, style2_path, capsys):
    left, right = half_masks(32)
    lp, rp = tmp_path / "l.png", tmp_path / "r.png"
    left.save(lp)
    right.save(rp)
    out = tmp_path / "o.png"
    common = ["--content", str(content_path), "--out", str(out), "--size", "32", "--steps", "2",
              "--quiet"]
    assert cli_main(["--style", str(style_path), "--style", str(style2_path), "--mask", str(lp),
                     *common]) == 2
    assert "1 mask(s) for 2 style" in capsys.readouterr().err
    assert cli_main(["--style", str(style_path), "--style", str(style2_path), "--mask", str(lp),
                     "--mask", str(rp), "--edge-weight", "0.5", *common]) == 0
    assert images.read_png_settings(out)["settings"]["edge_weight"] == 0.5
