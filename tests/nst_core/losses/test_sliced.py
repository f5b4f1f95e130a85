"""The sliced Wasserstein style loss (Heitz et al. 2021) on real VGG19 activations."""
import pytest
import torch
import torch.nn.functional as F

from nst_core import Settings, run
from nst_core.imaging import images
from nst_core.imaging.vgg import FeatureExtractor
from nst_core.losses.sliced import SlicedWassersteinLoss, random_directions


def features(vgg, path, size, layer="relu2_1"):
    img = images.load_image(path)
    t = images.to_tensor(images.resize(img, images.fit_size(*img.size, size)))
    return FeatureExtractor(vgg, (layer,))(t)[layer]


@pytest.fixture(scope="module")
def style_and_content(vgg, style_path, content_path):
    return features(vgg, style_path, 48), features(vgg, content_path, 48)


def test_directions_are_unit_columns_as_many_as_channels():
    d = random_directions(64, torch.Generator().manual_seed(3))
    assert d.shape == (64, 64)
    torch.testing.assert_close(d.norm(dim=0), torch.ones(64))


def test_equal_counts_are_sorted_projections_subtracted(style_and_content):
    """With as many positions as the style, the loss is Heitz et al.'s: project, sort both,
    mean squared difference (here on the fixed directions a read uses)."""
    style, content = style_and_content
    content = F.interpolate(content, size=style.shape[-2:], mode="bilinear")
    loss = SlicedWassersteinLoss([style], [1.0])
    d = loss.directions
    ys = (d.T @ style.reshape(style.shape[1], -1)).sort(-1).values
    xs = (d.T @ content.reshape(content.shape[1], -1)).sort(-1).values
    expected = loss.SCALE * (xs - ys).square().mean() / style.square().mean()
    torch.testing.assert_close(loss(content), expected, rtol=1e-4, atol=0)


def test_other_position_counts_are_matched_by_quantiles(style_and_content):
    """The style's own activations twice over (twice the positions, the same distribution)
    are close to zero; the content is far."""
    style, content = style_and_content
    loss = SlicedWassersteinLoss([style], [1.0])
    doubled = torch.cat([style, style], dim=-1)
    assert float(loss(doubled)) < 0.02 * float(loss(content))


def test_new_directions_every_step_fixed_ones_when_read(style_and_content):
    style, content = style_and_content
    loss = SlicedWassersteinLoss([style], [1.0])
    x = content.clone().requires_grad_(True)
    torch.manual_seed(0)
    a, b = loss(x), loss(x)
    assert float(a.detach()) != float(b.detach())
    with torch.no_grad():
        assert float(loss(x)) == float(loss(x)) == float(loss(content))
    a.backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0


def test_masked_positions_outside_do_not_count(style_and_content):
    style, content = style_and_content
    loss = SlicedWassersteinLoss([style], [1.0])
    mask = torch.zeros(1, 1, *content.shape[-2:])
    mask[..., :, : content.shape[-1] // 2] = 1
    changed = content.clone()
    changed[..., :, content.shape[-1] // 2:] = 0  # only outside the mask
    assert float(loss(changed, mask)) == pytest.approx(float(loss(content, mask)), rel=1e-6)
    assert float(loss(content, mask)) != pytest.approx(float(loss(content)), rel=1e-3)


def test_a_run_with_it_and_a_blend_of_two_styles(content_path, style_path, style2_path):
    s = Settings(size=32, steps=3, preview_every=0, style_loss="sliced")
    one = run(content_path, style_path, s)
    both = run(content_path, [style_path, style2_path], s)
    assert one.losses["style"] != pytest.approx(both.losses["style"], rel=1e-3)
    assert all(v == v for v in both.losses.values())
