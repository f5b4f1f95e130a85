"""The fixed scorer: one yardstick whatever a method optimized."""
import dataclasses

import pytest
import torch

from nst_core import Settings, stylize
from nst_core.imaging import images
from nst_core.params.registry import PARAMETERIZATIONS
from nst_core.experiments.scoring import SCORE_SETTINGS, make_scorer, ssim

SIZE = 48
# Each parameterization with the optimizer it is shown with by default.
BEST = {"pixels": "lbfgs", "fft": "lbfgs", "dip": "adam", "pyramid": "adam"}


@pytest.fixture(scope="module")
def scorer(content_path, style_path):
    return make_scorer(content_path, style_path, SIZE, device="cpu")


def test_ssim_is_one_for_the_same_image_and_falls_with_noise():
    a = torch.rand(1, 1, 24, 24, generator=torch.Generator().manual_seed(0))
    noisy = (a + 0.3 * torch.randn(a.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    assert ssim(a, noisy) < 0.9 and ssim(a, torch.zeros_like(a)) < ssim(a, noisy)


def test_score_of_the_content_is_its_style_term_and_ssim_one(scorer, content_path):
    content = images.resize(images.load_image(content_path), scorer.size)
    numbers = scorer(content)
    assert numbers["content"] == 0.0 and numbers["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert numbers["score"] == pytest.approx(numbers["style"]) and numbers["style_distance"] > 0
    with pytest.raises(ValueError, match="48x48"):
        scorer(images.resize(content, (32, 32)))


@pytest.mark.parametrize("param", list(PARAMETERIZATIONS))
def test_each_parameterization_lowers_the_fixed_score(param, scorer, content_path, style_path):
    options = {"warmup_steps": 30} if param == "dip" else {}
    s = Settings(size=SIZE, steps=15, preview_every=15, param=param,
                 optimizer=BEST.get(param, "adam"), param_options=options)
    records = list(stylize(content_path, style_path, s))
    start, final = records[0].preview, records[-1].image
    assert scorer(final)["score"] < scorer(start)["score"]


def test_the_score_ignores_the_method_own_loss_settings(scorer, content_path, style_path):
    own = dict(style_loss="mean_cov", style_weight=1e4, content_layers=("relu2_1",),
               preserve_color="luminance", tv_weight=1e3)
    final = list(stylize(content_path, style_path, Settings(size=SIZE, steps=4, **own)))[-1]
    plain = list(stylize(content_path, style_path, Settings(size=SIZE, steps=4)))[-1]
    again = make_scorer(content_path, style_path, SIZE, device="cpu")
    # Same image, same numbers, from any scorer of the pair; the method's own losses differ.
    assert scorer(final.image) == again(final.image)
    assert scorer(plain.image)["score"] == pytest.approx(plain.losses["total"], rel=1e-4)
    assert final.losses["total"] != pytest.approx(scorer(final.image)["score"], rel=0.05)
    assert SCORE_SETTINGS.style_loss == "gram" and SCORE_SETTINGS.precision == "fp32"
    assert dataclasses.replace(SCORE_SETTINGS, size=SIZE).tv_weight == 0.0
