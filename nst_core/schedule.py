"""Coarse-to-fine (multi-scale) style transfer, with tiled top levels for large outputs.

The pyramid of the "Improved Image Style Transfer" seed and of crowsonkb/style-transfer-pytorch
(``gen_scales`` and the loop in ``StyleTransfer.stylize``): the image is first stylized small,
where a step is cheap and VGG19's fixed receptive fields cover a large part of the picture (so
large style structures form quickly), then bicubically upsampled to start the next, larger
level, up to the requested size. Each level's style image is resized with the content, as in
crowsonkb's code (style size follows the current scale) and as :func:`engine.prepare` does.

Levels whose longest side is above ``settings.tile_size`` are optimized in overlapping tiles
(:mod:`nst_core.tiling`), so a 4096x4096 output needs the memory of one tile, not of the image.

One stream of :class:`Progress` records covers all levels: ``step``/``total`` count objective
evaluations (a tile step is one) across the whole run, previews continue from level to level,
and ``info["level"]``, ``info["levels"]`` and ``info["size"]`` say where the run is.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from . import images
from .engine import Progress, optimize, prepare
from .settings import Settings, validate
from .tiling import stylize_tiled, tile_boxes

# Size ratio between levels. crowsonkb/style-transfer-pytorch uses sqrt(2) (gen_scales); 2 is
# the ratio of the seed's pyramid and gives half as many levels (each step at the level below
# costs a quarter). Pass factor=math.sqrt(2) for crowsonkb's schedule.
SCALE_FACTOR = 2.0
# Shortest side a pyramid level may have: relu5_1 sits behind four 2x2 poolings, and below
# 32 px its feature map is a single position or none.
MIN_LEVEL_SIDE = 32


@dataclass(frozen=True)
class Level:
    """One level of a run's plan."""

    size: int  # longest side, px
    width: int
    height: int
    steps: int  # steps of the level; per tile when tiled
    tiles: int  # 1 when the level is optimized whole

    @property
    def evaluations(self) -> int:
        """Objective evaluations the level makes (each tile step is one)."""
        return self.steps * self.tiles


def level_sizes(size: int, min_size: int, factor: float = SCALE_FACTOR) -> list[int]:
    """Longest sides of the pyramid, smallest first: size / factor^i down to >= min_size.

    Computed from the top as crowsonkb's gen_scales does, so the last level is exactly ``size``.
    """
    if not factor > 1:
        raise ValueError(f"scale factor must be > 1, got {factor}")
    sizes = [size]
    i = 1
    while round(size / factor ** i) >= min_size:
        sizes.append(round(size / factor ** i))
        i += 1
    return sizes[::-1]


def default_level_steps(n_levels: int, steps: int) -> tuple[int, ...]:
    """Per-level steps from the single-run budget ``steps``.

    The first (smallest) level gets ``steps``: it is 4^(levels-1) times cheaper per step than the
    top at factor 2 and is where the style forms. Each later level starts from an upsampled
    solution and mostly restores detail, so it gets a quarter of the budget (at least 1). This
    follows crowsonkb's split (1000 steps at the first scale, 500 at each later one), tilted
    further to the cheap level; the README (Multi-scale and tiling) has what was measured with it.
    """
    if n_levels <= 1:
        return (steps,)
    return (steps,) + (max(1, steps // 4),) * (n_levels - 1)


def plan(content: images.ImageSource, settings: Settings, *, min_size: int | None = None,
         level_steps: Sequence[int] | None = None, factor: float = SCALE_FACTOR,
         multiscale: bool | None = None) -> list[Level]:
    """The levels a run will make: sizes, steps, tiles (for an ETA before starting)."""
    s = settings
    img = content if isinstance(content, images.Image.Image) else \
        images.load_image(content, name="content image")
    use_pyramid = s.multiscale if multiscale is None else multiscale
    smallest = s.min_size if min_size is None else min_size
    if not isinstance(smallest, int) or smallest < 16:
        raise ValueError(f"min_size must be a whole number of pixels >= 16, got {smallest!r}")
    sizes = level_sizes(s.size, smallest, factor) if use_pyramid else [s.size]
    # Levels too small for VGG19's four poolings on the short side are left out (the top level
    # is kept: a too-small output fails in engine.prepare with its own message).
    sizes = [z for z in sizes[:-1] if min(images.fit_size(*img.size, z)) >= MIN_LEVEL_SIDE] + \
        sizes[-1:]
    chosen = level_steps if level_steps is not None else s.level_steps
    if chosen is None:
        chosen = default_level_steps(len(sizes), s.steps)
    chosen = tuple(chosen)
    if len(chosen) != len(sizes):
        raise ValueError(f"level_steps has {len(chosen)} values for {len(sizes)} levels "
                         f"(sizes {sizes}); give one per level or none")
    if any(not isinstance(k, int) or k < 1 for k in chosen):
        raise ValueError(f"level_steps must be whole numbers >= 1, got {list(chosen)}")
    levels = []
    for size, k in zip(sizes, chosen):
        w, h = images.fit_size(*img.size, size)
        tiles = len(tile_boxes(h, w, s.tile_size, s.tile_overlap)) \
            if s.tile_size and size > s.tile_size else 1
        levels.append(Level(size, w, h, k, tiles))
    return levels


def stylize_multiscale(content: images.ImageSource, style: Any,
                       settings: Settings | None = None, *,
                       init_image: images.ImageSource | None = None,
                       min_size: int | None = None,
                       level_steps: Sequence[int] | None = None,
                       factor: float = SCALE_FACTOR, multiscale: bool = True,
                       masks: Sequence[Any] | None = None, tile_optimizer: str | None = None,
                       **overrides: Any) -> Iterator[Progress]:
    """Coarse-to-fine style transfer as one stream of :class:`Progress` records.

    Levels go from ``min_size`` (default ``settings.min_size``) up to ``settings.size`` by
    ``factor``; ``level_steps`` (default ``settings.level_steps``, else
    :func:`default_level_steps`) gives each level's steps, per tile on tiled levels. The first
    level starts from ``init_image`` or ``settings.init``; every later level from the previous
    result, upsampled. ``multiscale=False`` (what ``engine.stylize`` passes for
    ``settings.multiscale=False``) runs the top level only (still tiled when it is
    larger than ``settings.tile_size``). ``masks`` go to every untiled level (see
    :func:`engine.prepare`); tiled levels refuse masks and the edge-preserving split, whose
    regions would have to be cut per tile. ``tile_optimizer`` overrides the optimizer on tiled
    levels (see :func:`nst_core.tiling.stylize_tiled`). Closing the generator stops the run at the next step.
    """
    s = dataclasses.replace(settings or Settings(), **overrides)
    styles_src = list(style) if isinstance(style, (list, tuple)) else \
        ([] if style is None else [style])
    validate(s, n_styles=len(styles_src))
    start = time.perf_counter()
    content_img = images.load_image(content, name="content image")
    style_imgs = [images.load_image(src, name=f"style image {i + 1}" if len(styles_src) > 1
                                    else "style image") for i, src in enumerate(styles_src)]
    style_arg: Any = style_imgs if isinstance(style, (list, tuple)) else \
        (style_imgs[0] if style_imgs else None)
    levels = plan(content_img, s, min_size=min_size, level_steps=level_steps, factor=factor,
                  multiscale=multiscale)
    if any(level.tiles > 1 for level in levels) and (masks is not None
                                                     or getattr(s, "edge_weight", None) is not None):
        raise ValueError("masks and the edge-preserving style loss do not work on tiled levels; "
                         f"set tile_size to 0 or to at least {s.size} to optimize untiled")
    total = sum(level.evaluations for level in levels)
    offset = 0
    previous: Any = init_image
    summary: list[dict] = []
    for i, level in enumerate(levels):
        last_level = i == len(levels) - 1
        ls = dataclasses.replace(s, size=level.size, steps=level.steps)
        stage = {"level": i, "levels": len(levels), "size": [level.width, level.height],
                 "level_steps": level.steps}
        level_start = time.perf_counter()
        if level.tiles > 1:
            gen = stylize_tiled(content_img, style_arg, ls, init_image=previous,
                                step_offset=offset, total=total, start_time=start,
                                level_info=stage, tile_optimizer=tile_optimizer)
        else:
            gen = optimize(prepare(content_img, style_arg, ls, init_image=previous,
                                   masks=masks))
        try:
            for r in gen:
                tiled = level.tiles > 1
                step = r.step if tiled else offset + r.step  # tiled levels count globally
                local = step - offset
                elapsed = time.perf_counter() - start
                info = {**r.info, **stage}
                if not tiled:
                    info["level_step"] = local
                if local == 0:
                    if i == 0:
                        yield Progress(0, total, elapsed, r.losses, preview=r.preview, info=info)
                    continue  # later levels: the previous level's result was the preview
                if not r.done and local == level.evaluations and not last_level:
                    continue  # reported by the level's final record, with its image
                if r.done:
                    previous = r.image
                    summary.append(_summary(level, time.perf_counter() - level_start))
                    if last_level:
                        yield _finish(r, levels, summary, start, total, info)
                    else:
                        # Not the run's end: the level's result is an ordinary record whose
                        # preview bridges to the next level.
                        yield Progress(step, total, elapsed, r.losses, preview=r.image,
                                       info=info)
                    continue
                yield Progress(step, total, elapsed, r.losses, preview=r.preview, info=info)
        finally:
            gen.close()
        offset += level.evaluations


def _summary(level: Level, seconds: float) -> dict:
    return {"size": [level.width, level.height], "steps": level.steps, "tiles": level.tiles,
            "seconds": round(seconds, 3)}


def _finish(r: Progress, levels: list[Level], summary: list, start: float, total: int,
            info: dict) -> Progress:
    elapsed = time.perf_counter() - start
    info = {**info, "multiscale": len(levels) > 1, "level_plan": summary, "seconds": elapsed,
            "seconds_per_step": elapsed / max(total, 1)}
    return Progress(total, total, elapsed, r.losses, preview=r.image, done=True, image=r.image,
                    info=info)


def stylize(content: images.ImageSource, style: Any, settings: Settings | None = None, *,
            init_image: images.ImageSource | None = None,
            masks: Sequence[Any] | None = None, **overrides: Any) -> Iterator[Progress]:
    """Run style transfer, yielding a :class:`Progress` per step and a final one with the image.

    ``style`` is one image source or a list of them (blended by ``style_blend_weights``, or
    placed by ``masks``, one per style: see :func:`prepare`).
    Keyword overrides are applied to ``settings`` with ``dataclasses.replace``.
    ``settings.multiscale``, or a size above ``settings.tile_size``, runs the coarse-to-fine
    and tiled path of :mod:`nst_core.multiscale` (same records; ``total`` counts every level).
    """
    s = dataclasses.replace(settings or Settings(), **overrides)
    if s.multiscale or (s.tile_size and s.size > s.tile_size):
        yield from stylize_multiscale(content, style, s, init_image=init_image, masks=masks,
                                      multiscale=s.multiscale)
        return
    prepared = prepare(content, style, s, init_image=init_image, masks=masks)
    yield from optimize(prepared)


def run(content: images.ImageSource, style: Any, settings: Settings | None = None,
        **overrides: Any) -> Progress:
    """Run to the end and return the final record (``.image``, ``.losses``, ``.info``)."""
    record = None
    for record in stylize(content, style, settings, **overrides):
        pass
    assert record is not None and record.done
    return record

