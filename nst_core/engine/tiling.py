"""Tiles: outputs whose size is bounded by time, not by memory (geometry and style statistics).

The patch scheme of the "Improved Image Style Transfer" seed: a high-resolution level is cut into
overlapping tiles, each tile is optimized on its own (VGG19 only ever sees one tile, so memory
is set by ``tile_size``), and the tiles are blended back into one canvas. This module holds the
pieces of that scheme; :func:`nst_core.engine.schedule.tiled_level` runs it, each tile an ordinary
run of the engine on a crop (:func:`nst_core.engine.prepare_tile`).

Two choices keep the tiles one picture:

* **Global style targets.** The style statistics are computed once for the whole level, over
  the whole style image at the scale an untiled run would use (area = output area x
  ``style_scale``^2), not per tile. The statistics the losses match (Gram, mean/covariance,
  per-channel moments, histograms) are averages over positions, and a whole-image average is
  the area-weighted mean of tile averages, so a canvas whose every tile matches the target
  matches it as a whole. Content targets are per tile (the content crop under the tile).
* **Sequential, feathered write-back.** Tiles are visited in raster order; each starts from the
  current canvas (so it sees its already-optimized neighbours in the overlaps) and is written
  back with a raised-cosine ramp on the sides that border already-written tiles, weight 1
  elsewhere. Every overlap ends as a smooth blend of two optimized tiles, never of a tile and
  the un-optimized start, and the band next to a tile's edge, where VGG's zero padding makes
  its features unlike the whole image's, is overwritten by the next tile's interior.

The style image itself can be far larger than what fits through VGG19 at once (a 4096x4096
output with style_scale 1 means a 4096x4096 style image), so its features are also computed in
tiles with a halo, and each layer's statistics are taken over a uniform random sample of at most
:data:`STYLE_SAMPLE_POSITIONS` positions of the whole image (see :func:`global_style_features`).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ..imaging import vgg

# Tile corners sit on multiples of VGG19's coarsest stride (4 poolings before relu5_1: 16 px), so
# overlapping tiles share one pooling grid and compute the same features where they overlap.
TILE_ALIGN = 16
# Context kept around each style-image tile when its features are computed; cropped off after.
# VGG19's receptive field at relu5_1 is larger, so features near a style tile's edge still
# differ a little from the whole image's; 64 px keeps that to the outer ring of coarse layers.
STYLE_HALO = 64
# Side of the style-image pieces that go through VGG19 (no gradients, so about a quarter of a
# training step's memory per pixel): 1024 px of interior plus the halo on each side.
STYLE_CHUNK = 1024
# At most this many positions per layer enter the global style statistics (a uniform random
# sample, fixed by the run's seed). 2^18 positions of 512 channels is 0.5 GB; a statistic that
# is a mean over positions is then estimated to about 1/sqrt(2^18) = 0.2% relative error.
STYLE_SAMPLE_POSITIONS = 2 ** 18


def tile_starts(length: int, tile: int, overlap: int, align: int = TILE_ALIGN) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px with at least ``overlap``.

    The fewest tiles that keep every overlap >= ``overlap``, spread evenly, starts rounded down
    to ``align`` (the last tile ends exactly at ``length``).
    """
    if tile >= length:
        return [0]
    if not 0 <= overlap < tile:
        raise ValueError(f"tile overlap must be between 0 and the tile size, got {overlap}")
    n = 1 + math.ceil((length - tile) / (tile - overlap))
    while True:
        starts = [round(i * (length - tile) / (n - 1)) // align * align for i in range(n)]
        starts[-1] = length - tile
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        if all(tile - g >= overlap for g in gaps):
            return starts
        n += 1  # rounding to the grid shrank an overlap below the minimum


def tile_boxes(height: int, width: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each tile, in raster order."""
    return [(y, min(y + tile, height), x, min(x + tile, width))
            for y in tile_starts(height, tile, overlap)
            for x in tile_starts(width, tile, overlap)]


def _ramp(n: int) -> torch.Tensor:
    """Raised cosine rising from ~0 to ~1 over n samples (a Hann window's half)."""
    i = torch.arange(n, dtype=torch.float32) + 0.5
    return 0.5 - 0.5 * torch.cos(math.pi * i / n)


def blend_weights(box: tuple[int, int, int, int], done: Sequence[tuple[int, int, int, int]]
                  ) -> torch.Tensor:
    """HxW write-back weight of a tile: ramps over its overlap with already-written tiles.

    The ramp on a side is as long as the overlap with the written tiles on that side; sides
    facing unwritten tiles or the image border keep weight 1 (what is written there now is
    either final or overwritten by a later tile's ramp).
    """
    y0, y1, x0, x1 = box
    wy = torch.ones(y1 - y0)
    wx = torch.ones(x1 - x0)
    top = max((b[1] - y0 for b in done if b[0] < y0 < b[1] and b[2] < x1 and x0 < b[3]),
              default=0)
    left = max((b[3] - x0 for b in done if b[2] < x0 < b[3] and b[0] < y1 and y0 < b[1]),
               default=0)
    if top:
        wy[:top] = _ramp(top)
    if left:
        wx[:left] = _ramp(left)
    return wy[:, None] * wx[None, :]


def seam_ratio(image: torch.Tensor, boxes: Sequence[tuple[int, int, int, int]]) -> float:
    """Mean absolute step across tile edges / mean absolute step everywhere (1 = invisible).

    ``image`` is NCHW. The steps counted are the pixel differences that straddle a tile edge
    lying inside the image (horizontal differences at vertical edges and vice versa); a seam
    shows as a ratio well above 1.
    """
    _, _, h, w = image.shape
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(dim=(0, 1, 2))  # per column gap
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(dim=(0, 1, 3))  # per row gap
    cols = sorted({e for b in boxes for e in (b[2], b[3]) if 0 < e < w})
    rows = sorted({e for b in boxes for e in (b[0], b[1]) if 0 < e < h})
    # The difference between pixel e-1 and e straddles an edge at e.
    across = torch.cat([dx[[c - 1 for c in cols]], dy[[r - 1 for r in rows]]])
    if across.numel() == 0:
        return 1.0
    overall = torch.cat([dx, dy]).mean()
    return float(across.mean() / overall.clamp_min(1e-12))


# ----------------------------------------------------------------------------- style targets

def layer_stride(layer: str) -> int:
    """Pixels per feature position at a VGG19 layer (2 per pooling before it)."""
    pools = sum(1 for name in vgg.LAYER_NAMES[: vgg.LAYER_INDEX[layer] + 1]
                if name.startswith("pool"))
    return 2 ** pools


def global_style_features(extractor: nn.Module, image: torch.Tensor, layers: Sequence[str], *,
                          generator: torch.Generator, chunk: int = STYLE_CHUNK,
                          max_positions: int = STYLE_SAMPLE_POSITIONS
                          ) -> dict[str, torch.Tensor]:
    """Features of a whole (possibly huge) style image, for position-averaged statistics.

    An image that fits in one ``chunk`` goes through VGG19 whole (exact). A larger one is cut into
    chunks with a :data:`STYLE_HALO` margin; each tile's interior features are kept, a uniform
    random subset of positions (at most ``max_positions`` per layer over the whole image) is
    drawn, and the result is a 1xCx1xP "strip" per layer. Statistics that treat the feature map
    as a bag of positions (every loss in nst_core.losses) give the same value on the strip as on
    the whole map, up to sampling error.
    """
    _, _, h, w = image.shape
    with torch.no_grad():
        if h * w <= chunk * chunk:
            return extractor(image, layers)
        step = max(TILE_ALIGN, chunk // TILE_ALIGN * TILE_ALIGN)
        total = h * w
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
        for y in range(0, h, step):
            for x in range(0, w, step):
                iy1, ix1 = min(y + step, h), min(x + step, w)
                ty0, tx0 = max(0, y - STYLE_HALO), max(0, x - STYLE_HALO)
                ty1, tx1 = min(h, iy1 + STYLE_HALO), min(w, ix1 + STYLE_HALO)
                feats = extractor(image[..., ty0:ty1, tx0:tx1], layers)
                share = (iy1 - y) * (ix1 - x) / total
                for name in layers:
                    f = feats[name]
                    st = layer_stride(name)
                    # Interior in feature coordinates (halo and tile corners are multiples of 16).
                    fy0, fx0 = (y - ty0) // st, (x - tx0) // st
                    fy1 = min(f.shape[2], fy0 + math.ceil((iy1 - y) / st))
                    fx1 = min(f.shape[3], fx0 + math.ceil((ix1 - x) / st))
                    flat = f[0, :, fy0:fy1, fx0:fx1].reshape(f.shape[1], -1)
                    keep = min(flat.shape[1], math.ceil(max_positions * share))
                    if keep < flat.shape[1]:
                        idx = torch.randperm(flat.shape[1], generator=generator)[:keep]
                        flat = flat[:, idx.to(flat.device)]
                    parts[name].append(flat.clone())
                del feats
        return {name: torch.cat(p, dim=1)[None, :, None, :] for name, p in parts.items()}
