"""Tiled optimization at tiny sizes: tile layout, blending, global style targets, seams."""
import dataclasses

import pytest
import torch

from nst_core import Settings, stylize
from nst_core.imaging import images
from nst_core.engine.prepare import prepare
from nst_core.losses.style import STYLE_LOSSES
from nst_core.losses.base import gram
from nst_core.engine.schedule import tiled_level
from nst_core.engine.tiling import (TILE_ALIGN, blend_weights, global_style_features, seam_ratio,
                                    tile_boxes, tile_starts)

def stylize_tiled(content, style, settings, init_image=None):
    """One tiled level, as the schedule runs it."""
    return tiled_level(prepare(content, style, settings, init_image=init_image, tiled=True))


# 112 px in tiles of 64 with >= 16 px overlap: 2 x 2 tiles.
TILED = Settings(size=112, steps=2, preview_every=0, tile_size=64, tile_overlap=16,
                 optimizer="adam")


@pytest.mark.parametrize("length,tile,overlap", [(100, 64, 16), (128, 64, 24), (4096, 1152, 128),
                                                 (2048, 1024, 128), (64, 64, 8), (50, 64, 8)])
def test_tile_starts_cover_with_the_minimum_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length
    assert all(s % TILE_ALIGN == 0 for s in starts[:-1])
    assert all(tile - (b - a) >= overlap for a, b in zip(starts, starts[1:]))
    assert all(b > a for a, b in zip(starts, starts[1:]))


def test_blend_weights_ramp_only_towards_written_tiles():
    boxes = tile_boxes(128, 128, 64, 24)
    assert len(boxes) == 9
    first = blend_weights(boxes[0], [])
    assert torch.equal(first, torch.ones(64, 64))
    second = blend_weights(boxes[1], boxes[:1])  # left neighbour written
    overlap = boxes[0][3] - boxes[1][2]
    assert second[:, :overlap].max() < 1 and second[:, overlap:].min() == 1
    assert torch.all(second[0, 1:overlap] > second[0, :overlap - 1])  # rises monotonically
    centre = blend_weights(boxes[4], boxes[:4])  # top and left written
    assert centre[0, 0] < 0.01 and centre[-1, -1] == 1


def test_seam_ratio_sees_a_seam():
    torch.manual_seed(0)
    smooth = torch.rand(1, 3, 1, 1) + torch.linspace(0, 0.3, 96).view(1, 1, 1, 96) + \
        0.05 * torch.rand(1, 3, 96, 96)
    boxes = tile_boxes(96, 96, 64, 16)
    assert seam_ratio(smooth, boxes) < 1.2
    seamed = smooth.clone()
    seamed[..., :, boxes[1][2]:] += 0.2  # a step where the second tile starts
    assert seam_ratio(seamed, boxes) > 3


def test_global_style_features_match_the_whole_image(vgg, style_path):
    """Chunked features give the whole image's Gram matrices (exactly where the halo covers the
    receptive field, closely elsewhere)."""
    from nst_core.imaging.vgg import FeatureExtractor

    style = images.to_tensor(images.resize(images.load_image(style_path), (240, 192)))
    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    extractor = FeatureExtractor(vgg, layers)
    whole = extractor(style, layers)
    strips = global_style_features(extractor, style, layers, chunk=96,
                                   generator=torch.Generator().manual_seed(0),
                                   max_positions=10 ** 9)
    for name in layers:
        assert strips[name].shape[-1] == whole[name].shape[-1] * whole[name].shape[-2]
        err = (gram(strips[name]) - gram(whole[name])).norm() / gram(whole[name]).norm()
        assert err < (1e-4 if name in ("relu1_1", "relu2_1") else 0.05), name
    # Sampled: fewer positions, still close to the whole image's statistics.
    sampled = global_style_features(extractor, style, layers, chunk=96,
                                    generator=torch.Generator().manual_seed(0),
                                    max_positions=2000)
    assert sampled["relu1_1"].shape[-1] <= 2000 + 16
    err = (gram(sampled["relu1_1"]) - gram(whole["relu1_1"])).norm() / gram(
        whole["relu1_1"]).norm()
    assert err < 0.05


@pytest.fixture(scope="module")
def start_image(content_path, style_path):
    """A stylized 64 px result upsampled to 128: what a multi-scale run hands a tiled level."""
    final = list(stylize(content_path, style_path, TINY_START))[-1]
    return final.image


TINY_START = Settings(size=56, steps=3, preview_every=0)


def test_tiled_level_has_the_size_and_no_seams(content_path, style_path, start_image):
    records = list(stylize_tiled(content_path, style_path, TILED, init_image=start_image))
    boxes = tile_boxes(112, 112, 64, 16)
    assert len(boxes) == 4
    assert [r.step for r in records] == list(range(0, 2 * 4 + 1)) + [8]
    assert records[-1].done and records[-1].image.size == (112, 112)
    assert [r.info["tile"] for r in records[1:-1]] == [i // 2 for i in range(8)]
    out = images.to_tensor(records[-1].image)
    start = torch.nn.functional.interpolate(images.to_tensor(start_image), size=(112, 112),
                                            mode="bicubic", align_corners=False).clamp(0, 1)
    assert (out - start).abs().mean() > 1e-3  # the tiles were optimized
    ratio = seam_ratio(out, boxes)
    assert ratio < 1.5, ratio
    # Without the ramp (every tile pasted whole) the tile edges are no smoother than this.
    assert seam_ratio(start, boxes) < 1.5


@pytest.mark.parametrize("style_loss", list(STYLE_LOSSES))
def test_every_style_loss_runs_tiled(style_loss, style_path):
    from conftest import EXAMPLES

    # coffee.png (600x400) at 96 px is 96x64: two 64 px tiles side by side.
    s = dataclasses.replace(TILED, size=96, steps=1, style_loss=style_loss)
    final = list(stylize_tiled(EXAMPLES / "coffee.png", style_path, s))[-1]
    assert final.image.size == (96, 64) and final.info["tiles"] == 2
    assert all(v == v and abs(v) != float("inf") for v in final.losses.values())


def test_engine_tiles_large_sizes_and_refuses_what_tiles_cannot_do(style_path):
    from conftest import EXAMPLES

    content_path = EXAMPLES / "coffee.png"
    s = dataclasses.replace(TILED, size=96, steps=1)
    records = list(stylize(content_path, style_path, s))  # size > tile_size: tiled, one level
    assert records[-1].image.size == (96, 64) and records[-1].info["tiles"] == 2
    assert records[0].step == 0 and records[0].info["level"] == 0
    if "edge_weight" in {f.name for f in dataclasses.fields(Settings)}:
        with pytest.raises(ValueError, match="tiled levels"):
            list(stylize(content_path, style_path, s, edge_weight=0.5))
    with pytest.raises(ValueError, match="tile_size"):
        list(stylize(content_path, style_path, s, tile_size=10))
    with pytest.raises(ValueError, match="tile_overlap"):
        list(stylize(content_path, style_path, s, tile_overlap=40))
    with pytest.raises(ValueError, match="tiled levels"):
        list(stylize(content_path, style_path, s, masks=[images.to_tensor(
            images.load_image(content_path))]))


def test_tiled_run_closes_promptly(content_path, style_path):
    import time

    gen = stylize_tiled(content_path, style_path, dataclasses.replace(TILED, steps=10_000))
    next(gen)
    next(gen)
    start = time.perf_counter()
    gen.close()
    assert time.perf_counter() - start < 1.0


def test_tiles_run_the_engine_loop_with_the_normalized_objective(objective_values, content_path,
                                                                 style_path):
    """Each tile is an engine run: L-BFGS sees the objective divided by its starting value
    (optim.NORMALIZED_OBJECTIVE), so its first evaluation on every tile is exactly 1."""
    seen = objective_values
    s = dataclasses.replace(TILED, optimizer="lbfgs", steps=2)
    final = list(stylize(content_path, style_path, s))[-1]
    assert final.info["tiles"] == 4 and len(seen) == 4
    for values in seen:
        assert len(values) == 2 and values[0] == pytest.approx(1.0)
