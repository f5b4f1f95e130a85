"""STROTSS's losses (Kolkin et al. 2019) on sampled hypercolumns, the content-loss choice and the
STROTSS preset, on real VGG19 activations at small sizes."""
import dataclasses

import pytest
import torch

from nst_core import Settings, from_preset, run
from nst_core.cli.main import main as cli_main
from nst_core.imaging import images
from nst_core.imaging.vgg import FeatureExtractor
from nst_core.losses import hypercolumns as hc
from nst_core.losses.content import CONTENT_LOSSES
from nst_core.losses.objective import Objective
from nst_core.losses.strotss import (SAMPLES, SelfSimilarityLoss, StrotssLoss,
                                     moment_distance, relaxed_emd)
from nst_core.settings import STROTSS_LAYERS

LAYERS = ("relu1_1", "relu2_1", "relu3_1")


def image_at(path, size):
    img = images.load_image(path)
    return images.to_tensor(images.resize(img, images.fit_size(*img.size, size)))


@pytest.fixture(scope="module")
def feats(vgg, content_path, style_path):
    ex = FeatureExtractor(vgg, LAYERS)
    return ex(image_at(content_path, 48)), ex(image_at(style_path, 48))


def test_relaxed_emd_is_the_larger_nearest_neighbour_mean():
    cost = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    # rows: min 1 and 3 (mean 2); columns: min 1 and 2 (mean 1.5)
    assert float(relaxed_emd(cost, torch.tensor([0.5, 0.5]))) == pytest.approx(2.0)
    # all the weight on one style sample, whose nearest output is 3 away
    assert float(relaxed_emd(cost.T, torch.tensor([0.0, 1.0]))) == pytest.approx(3.0)
    assert float(relaxed_emd(torch.tensor([[0.0, 1.0], [1.0, 0.0]]),
                             torch.tensor([0.5, 0.5]))) == 0.0


def test_moments_are_zero_for_the_same_rows_and_see_the_covariance():
    rows = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    uniform = torch.full((200,), 1 / 200)
    assert float(moment_distance(rows, rows, uniform, torch.tensor(1.0))) < 1e-6
    stretched = rows * torch.tensor([1.0, 1.0, 1.0, 1.0, 3.0])
    assert float(moment_distance(stretched, rows, uniform, torch.tensor(1.0))) > 0.05


def test_positions_follow_the_mask_and_a_uniform_one_is_no_mask():
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:4, 5:7] = 1
    points = hc.sample_positions((8, 8), 500, mask, torch.Generator().manual_seed(0))
    x = ((points[:, 0] + 1) / 2 * 8 - 0.5).round()
    y = ((points[:, 1] + 1) / 2 * 8 - 0.5).round()
    assert set(x.tolist()) <= {5.0, 6.0} and set(y.tolist()) <= {2.0, 3.0}
    plain = hc.sample_positions((8, 8), 50, None, torch.Generator().manual_seed(1))
    flat = hc.sample_positions((8, 8), 50, torch.full((1, 1, 8, 8), 0.3),
                               torch.Generator().manual_seed(1))
    assert torch.equal(plain, flat)


def test_hypercolumns_read_the_maps_at_cell_centres():
    fine = torch.arange(2 * 4 * 6, dtype=torch.float32).view(1, 2, 4, 6)
    points = hc.sample_positions((4, 6), 30, None, torch.Generator().manual_seed(0))
    rows = hc.read({"a": fine}, points)["a"]
    col = ((points[:, 0] + 1) / 2 * 6 - 0.5).round().long()
    row = ((points[:, 1] + 1) / 2 * 4 - 0.5).round().long()
    torch.testing.assert_close(rows, fine[0][:, row, col].T)


def test_silent_positions_are_equal_not_orthogonal():
    a = torch.zeros(2, 4)
    d = hc.cosine_distances(a, a, torch.tensor(1e-3))
    assert float(d.max()) < 1e-6


def test_self_similarity_is_zero_at_the_content_and_blind_to_feature_scale(feats):
    content, style = feats
    loss = SelfSimilarityLoss(content)
    assert float(loss(content)) < 1e-6
    far = float(loss({n: style[n][..., :24, :24] for n in LAYERS}))
    assert far > 0
    # Cosine distances do not change when every activation doubles: the layout is what counts.
    assert float(loss({n: 2 * content[n] for n in LAYERS})) < 1e-3 * far


def test_strotss_style_loss_on_hypercolumns(feats):
    content, style = feats
    loss = StrotssLoss([style], [1.0], {"relu1_1": 1.0, "relu2_1": 2.0, "relu3_1": 1.0})
    assert loss.target.shape == (SAMPLES, 64 + 128 + 256)
    own, other = float(loss(style)), float(loss(content))
    assert own < 1e-4 * other
    blend = StrotssLoss([style, content], [1.0, 1.0])
    assert float(blend(content)) < float(StrotssLoss([style], [1.0])(content))


@pytest.mark.parametrize("make", [
    lambda f: StrotssLoss([f], [1.0]), lambda f: SelfSimilarityLoss(f)])
def test_new_positions_every_step_fixed_ones_when_read(make, feats):
    content, style = feats
    loss = make(style["relu2_1"])
    x = content["relu2_1"][..., :style["relu2_1"].shape[-1]].clone().requires_grad_(True)
    torch.manual_seed(0)
    a, b = loss(x), loss(x)
    assert float(a.detach()) != float(b.detach())
    a.backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0
    with torch.no_grad():
        assert float(loss(x)) == float(loss(x))


def test_masked_positions_outside_do_not_count(feats):
    content, style = feats
    f = content["relu2_1"]
    loss = StrotssLoss([style["relu2_1"]], [1.0])
    mask = torch.zeros(1, 1, *f.shape[-2:])
    mask[..., :, : f.shape[-1] // 2] = 1
    changed = f.clone()
    changed[..., :, f.shape[-1] // 2:] = 0
    assert float(loss(changed, mask)) == pytest.approx(float(loss(f, mask)), rel=1e-6)
    assert float(loss(f, mask)) != pytest.approx(float(loss(f)), rel=1e-3)


def test_objective_takes_every_layer_at_once_for_hypercolumn_losses(vgg, feats,
                                                                    content_path, style_path):
    ex = FeatureExtractor(vgg, LAYERS)
    obj = Objective(ex, content_layers=dict.fromkeys(LAYERS, 1.0),
                    style_layers=dict.fromkeys(LAYERS, 1.0), style_weight=1.0,
                    style_loss="strotss", content_loss="self_similarity")
    content, style = image_at(content_path, 48), image_at(style_path, 48)
    obj.set_content(content)
    obj.set_style_images([style])
    assert list(obj.content_losses) == [hc.HYPERCOLUMNS] == list(obj.style_losses)
    at_content, at_style = obj(content), obj(style)
    assert float(at_content["content"]) < 1e-6 < float(at_style["content"])
    assert float(at_style["style"]) < float(at_content["style"])


def test_content_losses_are_a_registry_and_a_setting(content_path, style_path):
    assert list(CONTENT_LOSSES) == ["mse", "self_similarity"]
    s = Settings(size=32, steps=3, preview_every=0, content_loss="self_similarity")
    final = run(content_path, style_path, s)
    assert final.losses["content"] > 0 and final.step == 3
    with pytest.raises(ValueError, match="unknown content loss 'ssim'.*mse"):
        run(content_path, style_path, dataclasses.replace(s, content_loss="ssim"))


def test_the_strotss_preset_runs_coarse_to_fine_on_the_pyramid(content_path, style_path):
    s = from_preset("strotss", size=64, min_size=32, steps=2, preview_every=0)
    assert (s.param, s.style_loss, s.content_loss, s.multiscale) == \
        ("pyramid", "strotss", "self_similarity", True)
    assert s.style_layers == s.content_layers == STROTSS_LAYERS
    final = run(content_path, style_path, s)
    assert final.info["levels"] == 2 and final.image.size == (64, 64)


def test_cli_takes_the_content_loss_and_the_preset(tmp_path, content_path, style_path):
    base = ["--content", str(content_path), "--style", str(style_path), "--size", "32",
            "--steps", "1", "--quiet"]
    assert cli_main(base + ["--out", str(tmp_path / "a.png"), "--content-loss",
                            "self_similarity", "--style-loss", "strotss"]) == 0
    assert cli_main(base + ["--out", str(tmp_path / "b.png"), "--preset", "strotss",
                            "--min-size", "32"]) == 0
    with pytest.raises(SystemExit) as exited:
        cli_main(base + ["--out", str(tmp_path / "c.png"), "--content-loss", "nope"])
    assert exited.value.code == 2
    assert (tmp_path / "a.png").exists() and (tmp_path / "b.png").exists()
