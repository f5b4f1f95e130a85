"""The objective from plain weights and layers: targets, retargeting, every style loss, TV."""
import pytest
import torch

from nst_core.imaging import images
from nst_core.losses.objective import Objective, tv_loss
from nst_core.losses.style import STYLE_LOSSES
from nst_core.imaging.vgg import FeatureExtractor

CONTENT = {"relu4_2": 1.0}
STYLE = {"relu1_1": 1.0, "relu2_1": 0.5, "relu3_1": 1.0}


@pytest.fixture(scope="module")
def extractor(vgg):
    return FeatureExtractor(vgg, tuple(CONTENT) + tuple(STYLE))


@pytest.fixture(scope="module")
def pictures(content_path, style_path, style2_path):
    def load(path):
        return images.to_tensor(images.resize(images.load_image(path), (48, 48)))
    return load(content_path), load(style_path), load(style2_path)


def objective(extractor, **weights):
    return Objective(extractor, content_layers=CONTENT, style_layers=STYLE, style_weight=10.0,
                     **weights)


def test_terms_are_weighted_and_content_is_zero_at_its_target(extractor, pictures):
    content, style, _ = pictures
    obj = objective(extractor, content_weight=2.0)
    obj.set_content(content)
    obj.set_style_images([style])
    terms = obj(content)
    assert set(terms) == {"content", "style", "tv", "total"}
    assert float(terms["content"]) == 0.0 and float(terms["style"]) > 0
    at_style = obj(style)
    assert float(at_style["content"]) > 0
    torch.testing.assert_close(at_style["total"], at_style["content"] + at_style["style"])
    half = objective(extractor, content_weight=1.0)
    half.set_content(content)
    half.set_style_images([style])
    torch.testing.assert_close(obj(style)["content"], 2 * half(style)["content"])


def test_set_content_retargets(extractor, pictures):
    content, style, other = pictures
    obj = objective(extractor)
    obj.set_content(content)
    obj.set_style_images([style])
    before = float(obj(other)["content"])
    obj.set_content(other)
    assert float(obj(other)["content"]) == 0.0 and before > 0
    assert float(obj(content)["content"]) > 0
    # Retargeting the content leaves the style targets alone.
    torch.testing.assert_close(obj(other)["style"], obj(other)["style"])


def test_forward_without_targets_says_what_is_missing(extractor, pictures):
    obj = objective(extractor)
    with pytest.raises(RuntimeError, match="set_content"):
        obj(pictures[0])


def test_switched_off_terms_need_no_targets(extractor, pictures):
    content, style, _ = pictures
    style_only = Objective(extractor, style_layers=STYLE)
    style_only.set_style_images([style])
    terms = style_only(content)
    assert float(terms["content"]) == 0.0 and float(terms["style"]) > 0
    tv_only = Objective(extractor, tv_weight=1.0)
    assert float(tv_only(content)["total"]) == pytest.approx(float(tv_loss(content)))


@pytest.mark.parametrize("name", list(STYLE_LOSSES))
def test_every_style_loss_is_lowest_at_its_own_style(name, extractor, pictures):
    content, style, _ = pictures
    obj = Objective(extractor, style_layers=STYLE, style_loss=name)
    obj.set_style_images([style])
    at_style, at_content = float(obj(style)["style"]), float(obj(content)["style"])
    assert at_style < 0.05 * at_content, (at_style, at_content)


def test_blended_target_lies_between_the_styles(extractor, pictures):
    content, style, style2 = pictures
    obj = Objective(extractor, style_layers=STYLE)
    obj.set_style_images([style, style2], blend=[1.0, 0.0])
    only_first = float(obj(style)["style"])
    obj.set_style_images([style, style2], blend=[1.0, 1.0])
    mixed = float(obj(style)["style"])
    assert only_first == pytest.approx(0.0, abs=1e-6) and mixed > 0
    assert len(obj.style_losses) == len(STYLE)


def test_tv_is_zero_on_flat_images_and_grows_with_noise():
    flat = torch.full((1, 3, 16, 16), 0.5)
    noisy = flat + 0.1 * torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert float(tv_loss(flat)) < 1e-9 < float(tv_loss(noisy))
    assert float(tv_loss(noisy, 0.5)) > float(tv_loss(noisy, 1.25))
