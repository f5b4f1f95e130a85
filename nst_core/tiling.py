"""Tiled optimization: outputs whose size is bounded by time, not by memory.

The patch scheme of the "Improved Image Style Transfer" seed: a high-resolution level is cut into
overlapping tiles, each tile is optimized on its own (VGG19 only ever sees one tile, so memory
is set by ``tile_size``), and the tiles are blended back into one canvas.

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

import dataclasses
import math
import random
import time
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from . import color, images, vgg
from .engine import (NonFiniteLossError, Prepared, Progress, _finite, _floats, load_inputs,
                     resolve_device, tune_backend)
from .losses import Objective
from .optim import make_optimizer
from .params import count_parameters, get_param
from .settings import Settings, validate

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


class _KnownFeatures(nn.Module):
    """An extractor that hands the :class:`Objective` precomputed features for given tensors.

    The Objective builds its style targets by calling ``extractor(style_image, layers)``; for
    the tiled levels those features come from :func:`global_style_features` instead, so the
    Objective's own code (layer weights, blending, the style-loss registry) builds the targets.
    Every other call goes to the real extractor.
    """

    def __init__(self, extractor: nn.Module, known: dict[int, dict[str, torch.Tensor]]):
        super().__init__()
        self.inner = extractor
        self.known = known

    def forward(self, image: torch.Tensor, layers=None) -> dict[str, torch.Tensor]:
        feats = self.known.get(id(image))
        if feats is not None:
            return {name: feats[name] for name in (layers or feats)}
        return self.inner(image, layers)

    def full_precision(self):
        return self.inner.full_precision()


def _check_tileable(objective: Objective) -> None:
    for loss in objective.content_losses.values():
        if not isinstance(getattr(loss, "target", None), torch.Tensor):
            raise ValueError("tiling needs content losses with a 'target' buffer")


def _retarget_content(objective: Objective, extractor: nn.Module, view: torch.Tensor) -> None:
    """Point the content losses at the content crop under the current tile."""
    if not objective.content_layers:
        return
    with torch.no_grad():
        feats = extractor(view, objective.content_layers)
    for name, loss in objective.content_losses.items():
        loss.target = feats[name]


# ----------------------------------------------------------------------------- the tiled level

def _level_inputs(content: images.ImageSource, style: Any, s: Settings, device: torch.device
                  ) -> tuple[torch.Tensor, list[torch.Tensor], int, int]:
    """Content and colour-handled style tensors at level size, as engine.prepare makes them."""
    styles_src = list(style) if isinstance(style, (list, tuple)) else \
        ([] if style is None else [style])
    return load_inputs(content, styles_src, s, device)


def stylize_tiled(content: images.ImageSource, style: Any, settings: Settings, *,
                  init_image: images.ImageSource | torch.Tensor | None = None,
                  steps: int | None = None, tile_size: int | None = None,
                  overlap: int | None = None, step_offset: int = 0, total: int | None = None,
                  start_time: float | None = None, level_info: dict | None = None,
                  tile_optimizer: str | None = None) -> Iterator[Progress]:
    """Optimize one level of ``settings.size`` in overlapping tiles; a Progress per tile step.

    ``steps`` (default ``settings.steps``) is the number of steps *per tile*, so every pixel is
    optimized about that many times, as in an untiled run. ``tile_size``/``overlap`` default to
    ``settings.tile_size``/``settings.tile_overlap``. The start is ``init_image`` (resized) or,
    without one, ``settings.init`` (content, style or noise). The final record's losses are the
    mean over tiles of each tile's last-step losses (a whole-image score would need the whole
    image in VGG19 at once, which is what tiling avoids).

    ``tile_optimizer`` (default ``settings.optimizer``) is the optimizer of the tiles. Each tile
    starts a fresh optimizer, and torch's L-BFGS makes its first step tiny (min(1, 1/|g|_1) x lr),
    so with the one or two steps per tile a large level affords, "adam" does far more.

    ``step_offset``, ``total``, ``start_time`` and ``level_info`` let a multi-scale run fold this
    level into its single stream of records.
    """
    s = settings
    if tile_optimizer is not None:
        s = dataclasses.replace(s, optimizer=tile_optimizer, lr=None)
    steps = s.steps if steps is None else steps
    tile = s.tile_size if tile_size is None else tile_size
    overlap = s.tile_overlap if overlap is None else overlap
    if not isinstance(tile, int) or tile < 64:
        raise ValueError(f"tile size must be a whole number of pixels >= 64, got {tile!r}")
    if not 0 <= overlap <= tile // 2:
        raise ValueError(f"tile overlap must be between 0 and half the tile ({tile // 2}), "
                         f"got {overlap}")
    styles_src = list(style) if isinstance(style, (list, tuple)) else \
        ([] if style is None else [style])
    validate(s, n_styles=len(styles_src))
    if s.size > images.MAX_SIDE:
        raise ValueError(f"size {s.size} is larger than the {images.MAX_SIDE}-pixel limit")
    if s.style_weight > 0 and not styles_src:
        raise ValueError("style_weight > 0 needs at least one style image")
    start = time.perf_counter() if start_time is None else start_time
    device = resolve_device(s.device)
    tune_backend(device)
    content_t, styles, width, height = _level_inputs(content, styles_src, s, device)
    boxes = tile_boxes(height, width, tile, overlap)
    total = step_offset + steps * len(boxes) if total is None else total

    # What VGG sees (engine.Prepared.view): luminance in luminance mode.
    probe = Prepared(s, device, content_t, styles, None, None, 0, 0.0)  # type: ignore[arg-type]
    content_view = probe.view(content_t)
    if s.preserve_color == "luminance":
        content_y = color.luminance(content_t, s.luminance_space)
        styles_view = [color.gray3(color.match_luminance(color.luminance(t, s.luminance_space),
                                                         content_y)) for t in styles]
    else:
        styles_view = styles
    layers = (s.content_layers if s.content_weight > 0 else ()) + \
        (s.style_layers if s.style_weight > 0 and styles else ())
    if not layers and s.tv_weight <= 0:
        raise ValueError("every loss weight is 0: nothing to optimize")
    net = vgg.get_vgg(s.weights, s.pooling, device)
    # As engine.prepare builds it (the precision setting is absent from older Settings).
    extractor = vgg.FeatureExtractor(net, layers or ("relu1_1",), dtype=vgg.resolve_precision(
        getattr(s, "precision", "fp32"), device))
    seed = s.seed if s.seed is not None else random.randrange(2 ** 31)
    generator = torch.Generator().manual_seed(seed)
    style_layers = s.style_layers if s.style_weight > 0 and styles else ()
    known = {id(t): global_style_features(extractor, t, style_layers, generator=generator)
             if style_layers else {}
             for t in styles_view}
    y0, y1, x0, x1 = boxes[0]
    wrapper = _KnownFeatures(extractor, known)
    objective = Objective(wrapper, content_view[..., y0:y1, x0:x1], styles_view, s,
                          blend=s.style_blend_weights)
    known.clear()  # the targets are buffers now; free the strips
    _check_tileable(objective)

    # The canvas: the start image at level size (what the whole output will become).
    if init_image is not None:
        canvas = _as_tensor(init_image, (height, width), device)
    elif s.init == "content":
        canvas = content_t.clone()
    elif s.init == "style":
        if not styles:
            raise ValueError("init 'style' needs a style image")
        canvas = torch.nn.functional.interpolate(styles[0], size=(height, width),
                                                 mode="bilinear", align_corners=False,
                                                 antialias=True).clamp(0, 1)
    else:
        canvas = torch.rand((1, 3, height, width), generator=generator).to(device)

    param = get_param(s.param)
    base_info = {"size": [width, height], "device": str(device), "param": s.param,
                 "optimizer": s.optimizer, "seed": seed, "tiles": len(boxes),
                 "tile_size": tile, "tile_overlap": overlap, **(level_info or {})}
    step = step_offset
    done: list[tuple[int, int, int, int]] = []
    last_losses: list[dict[str, float]] = []
    level_start = time.perf_counter()
    if step_offset == 0:
        # The run's first record (engine contract: step 0 with a preview), scored on the first
        # tile since the whole image is never in VGG19 at once.
        y0, y1, x0, x1 = boxes[0]
        _retarget_content(objective, extractor, content_view[..., y0:y1, x0:x1])
        probe = Prepared(s, device, content_t[..., y0:y1, x0:x1], styles, objective, None, seed,
                         0.0)
        with torch.no_grad():
            first = _floats(objective(probe.view(canvas[..., y0:y1, x0:x1])))
        yield Progress(0, total, time.perf_counter() - start, first,
                       preview=images.to_pil(canvas) if s.preview_every else None,
                       info={**base_info, "tile": 0, "level_step": 0, "level_steps": steps})
    for index, box in enumerate(boxes):
        y0, y1, x0, x1 = box
        crop_content = content_t[..., y0:y1, x0:x1]
        _retarget_content(objective, extractor, content_view[..., y0:y1, x0:x1])
        tile_prep = Prepared(s, device, crop_content, styles, objective,
                             canvas[..., y0:y1, x0:x1], seed + index, 0.0)
        shape = (1, 3, y1 - y0, x1 - x0)
        torch.manual_seed(seed + index)
        params, image_fn = param.make(shape, canvas[..., y0:y1, x0:x1],
                                      generator=torch.Generator().manual_seed(seed + index),
                                      device=device, **dict(s.param_options))
        lr = s.lr if s.lr is not None else param.default_lr(s.optimizer, shape)
        optimizer = make_optimizer(s.optimizer, params, lr)
        base_info.update(lr=lr, parameters=count_parameters(params))
        last: dict[str, Any] = {}

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            terms = objective(tile_prep.view(image_fn()))
            terms["total"].backward()
            last["terms"] = {k: v.detach() for k, v in terms.items()}
            return terms["total"]

        # A lean loop (no scoring passes before and after, unlike engine.optimize): with the
        # few steps per tile a large level affords, two extra forward passes per tile would
        # cost a third or more of the level's time.
        for k in range(1, steps + 1):
            optimizer.step(closure)
            losses = _floats(last["terms"])
            if not all(map(_finite, losses.values())):
                raise NonFiniteLossError(
                    f"the loss became {losses['total']} at step {k} of tile {index + 1} "
                    f"({s.optimizer} on {s.param}, lr {lr:g}); try a smaller learning rate")
            step += 1
            if k == steps:
                with torch.no_grad():
                    result = tile_prep.output(image_fn().detach())
                    weight = blend_weights(box, done).to(device)
                    region = canvas[..., y0:y1, x0:x1]
                    region.mul_(1 - weight).add_(weight * result.clamp(0, 1))
                done.append(box)
                last_losses.append(losses)
            preview = None
            if s.preview_every and step % s.preview_every == 0 and step < total:
                preview = images.to_pil(canvas)
            yield Progress(step, total, time.perf_counter() - start, losses, preview=preview,
                           info={**base_info, "tile": index, "tile_box": list(box),
                                 "level_step": k, "level_steps": steps})
        del params, optimizer

    final = images.quantize(canvas)
    mean_losses = {k: sum(d[k] for d in last_losses) / len(last_losses)
                   for k in last_losses[0]}
    result = images.to_pil(final)
    elapsed = time.perf_counter() - start
    level_seconds = time.perf_counter() - level_start
    info = {**base_info, "seconds": elapsed, "level_seconds": level_seconds,
            "seconds_per_step": level_seconds / max(step - step_offset, 1),
            "losses_are": "mean over tiles of each tile's last-step losses"}
    yield Progress(step, total, elapsed, mean_losses, preview=result, done=True, image=result,
                   info=info)


def _as_tensor(src: Any, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    if isinstance(src, torch.Tensor) and src.ndim == 4:
        t = src.detach().float().to(device)
    else:
        t = images.to_tensor(images.load_image(src, name="init image"), device)
    if tuple(t.shape[-2:]) != size:
        t = torch.nn.functional.interpolate(t, size=size, mode="bicubic", align_corners=False)
    return t.clamp(0, 1).contiguous()
