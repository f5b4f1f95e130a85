"""The schedule above the engine: ``stylize()``, coarse-to-fine levels and tiled levels.

A plain run is one :func:`engine.prepare.prepare` and one :func:`engine.loop.optimize`. A multi-scale run
is a plan of levels, each of them such a run; a level larger than ``settings.tile_size`` is a
sequence of tiles, each of them such a run on a crop (:func:`engine.prepare_tile`). This module
only decides what runs where and folds the records into one stream; it never steps an optimizer.

The pyramid of the "Improved Image Style Transfer" seed and of crowsonkb/style-transfer-pytorch
(``gen_scales`` and the loop in ``StyleTransfer.stylize``): the image is first stylized small,
where a step is cheap and VGG19's fixed receptive fields cover a large part of the picture (so
large style structures form quickly), then bicubically upsampled to start the next, larger
level, up to the requested size. Each level's style image is resized with the content, as in
crowsonkb's code (style size follows the current scale) and as :func:`engine.prepare` does.

Levels whose longest side is above ``settings.tile_size`` are optimized in overlapping tiles
(geometry and write-back weights in :mod:`nst_core.engine.tiling`), so a 4096x4096 output needs
the memory of one tile, not of the image. Tiles are visited in raster order; each starts from the
current canvas (so it sees its already-optimized neighbours in the overlaps) and is written back
with a raised-cosine ramp over its overlap with written tiles (:func:`tiling.blend_weights`).

One stream of :class:`Progress` records covers all levels: ``step``/``total`` count objective
evaluations (a tile step is one) across the whole run, previews continue from level to level,
and each record's ``level`` facts (:class:`nst_core.records.LevelFacts`) say where the run is.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch

from ..imaging import images
from .loop import evaluate, optimize
from ..job import Job
from .prepare import Prepared, prepare, prepare_tile
from ..records import LevelFacts, PlanFacts, Progress, TileFacts
from ..settings import Settings
from .tiling import blend_weights, tile_boxes

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


def stylize(content: images.ImageSource, style: Any, settings: Settings | None = None, *,
            init_image: images.ImageSource | None = None,
            masks: Sequence[Any] | None = None, **overrides: Any) -> Iterator[Progress]:
    """Run style transfer, yielding a :class:`Progress` per reported step and a final one with
    the image.

    ``style`` is one image source, a sequence of them (blended by ``style_blend_weights``, or
    placed by ``masks``, one per style: see :func:`engine.prepare`) or None. Keyword overrides
    are applied to ``settings`` with ``dataclasses.replace``; the result is checked here, the
    Python API's edge, as a :class:`Job` (:func:`stylize_job` runs one made elsewhere).
    """
    yield from stylize_job(Job.of(content, style, settings, masks=masks, init_image=init_image,
                                  **overrides))


def stylize_job(job: Job) -> Iterator[Progress]:
    """Run a checked job: ``settings.multiscale``, or a size above ``settings.tile_size``, runs
    the coarse-to-fine and tiled schedule of :func:`multiscale_job` (same records; ``total``
    counts every level), anything else one prepared run of the loop."""
    s = job.settings
    if s.multiscale or (s.tile_size and s.size > s.tile_size):
        yield from multiscale_job(job, multiscale=s.multiscale)
        return
    yield from optimize(prepare(job.content, job.styles, s, init_image=job.init_image,
                                masks=job.masks))


def stylize_final(content: images.ImageSource, style: Any, settings: Settings | None = None,
                  **overrides: Any) -> Progress:
    """Run to the end and return the final record (``.image``, ``.losses``, its facts)."""
    record = None
    for record in stylize(content, style, settings, **overrides):
        pass
    assert record is not None and record.done
    return record


run = stylize_final  # the name the Python API has always had


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
    result, upsampled. ``multiscale=False`` runs the top level only (still tiled when it is
    larger than ``settings.tile_size``). ``masks`` go to every untiled level (see
    :func:`engine.prepare`); tiled levels refuse masks and the edge-preserving split, whose
    regions would have to be cut per tile. ``tile_optimizer`` overrides the optimizer on tiled
    levels: each tile starts a fresh optimizer, and torch's L-BFGS makes its first step tiny
    (min(1, 1/|g|_1) x lr), so with the one or two steps per tile a large level affords,
    "adam" does far more. Closing the generator stops the run at the next step.
    """
    job = Job.of(content, style, settings, masks=masks, init_image=init_image, **overrides)
    yield from multiscale_job(job, min_size=min_size, level_steps=level_steps, factor=factor,
                              multiscale=multiscale, tile_optimizer=tile_optimizer)


def multiscale_job(job: Job, *, min_size: int | None = None,
                   level_steps: Sequence[int] | None = None, factor: float = SCALE_FACTOR,
                   multiscale: bool = True, tile_optimizer: str | None = None
                   ) -> Iterator[Progress]:
    """:func:`stylize_multiscale` on a checked job."""
    s, masks = job.settings, job.masks
    content_img = images.load_image(job.content, name="content image")
    many = len(job.styles) > 1
    style_imgs = tuple(images.load_image(src, name=f"style image {i + 1}" if many
                                         else "style image")
                       for i, src in enumerate(job.styles))
    levels = plan(content_img, s, min_size=min_size, level_steps=level_steps, factor=factor,
                  multiscale=multiscale)
    if any(level.tiles > 1 for level in levels) and (masks is not None
                                                     or s.edge_weight is not None):
        raise ValueError("masks and the edge-preserving style loss do not work on tiled levels; "
                         f"set tile_size to 0 or to at least {s.size} to optimize untiled")
    stream = _LevelStream(levels, time.perf_counter())
    previous: Any = job.init_image
    for i, level in enumerate(levels):
        ls = dataclasses.replace(s, size=level.size, steps=level.steps)
        if level.tiles > 1:
            if tile_optimizer is not None:
                ls = dataclasses.replace(ls, optimizer=tile_optimizer, lr=None)
            prepared = prepare(content_img, style_imgs, ls, init_image=previous, tiled=True)
            records = tiled_level(prepared, first=i == 0)
        else:
            records = optimize(prepare(content_img, style_imgs, ls, init_image=previous,
                                       masks=masks))
        yield from stream.level_records(i, records)
        previous = stream.result  # the next level starts from this one's result


@dataclass
class _LevelStream:
    """Folds each level's records into the run's one stream (global steps, one final record)."""

    levels: list[Level]
    start: float
    offset: int = 0
    summary: list = dataclasses.field(default_factory=list)
    result: Any = None  # the last finished level's image

    @property
    def total(self) -> int:
        return sum(level.evaluations for level in self.levels)

    def level_records(self, i: int, records: Iterator[Progress]) -> Iterator[Progress]:
        level, last = self.levels[i], i == len(self.levels) - 1
        stage = LevelFacts(level=i, levels=len(self.levels), size=(level.width, level.height),
                           level_steps=level.steps)
        level_start = time.perf_counter()
        try:
            for r in records:
                step = self.offset + r.step
                elapsed = time.perf_counter() - self.start
                facts = dict(run=r.run, tiles=r.tiles,
                             level=dataclasses.replace(stage, level_step=r.step))
                if r.step == 0 and not r.done:
                    if i == 0:  # later levels: the previous level's result was the preview
                        yield Progress(0, self.total, elapsed, r.losses, preview=r.preview,
                                       tensor=r.tensor, **facts)
                    continue
                if not r.done:
                    if r.step < level.evaluations or last:
                        yield Progress(step, self.total, elapsed, r.losses, preview=r.preview,
                                       tensor=r.tensor, **facts)
                    continue  # a level's last step is reported by its final record
                self.summary.append(_summary(level, time.perf_counter() - level_start))
                self.result = r.image
                if last:
                    yield _finish(r, self.levels, self.summary, self.start, self.total, facts)
                else:
                    # Not the run's end: the level's result is an ordinary record whose
                    # preview bridges to the next level.
                    yield Progress(step, self.total, elapsed, r.losses, preview=r.image,
                                   tensor=r.tensor, **facts)
        finally:
            records.close()
        self.offset += level.evaluations


def tiled_level(level: Prepared, *, first: bool = True) -> Iterator[Progress]:
    """Optimize a level prepared with ``tiled=True`` tile by tile, as engine runs on crops.

    Steps count every tile's steps (``settings.steps`` per tile, so every pixel is optimized
    about that many times, as in an untiled run). ``first`` adds the step-0 record, scored on
    the first tile since the whole image is never in VGG19 at once. The final record's losses
    are the mean over tiles of each tile's last-step losses.
    """
    s = level.settings
    _, _, height, width = level.content.shape
    boxes = tile_boxes(height, width, s.tile_size, s.tile_overlap)
    canvas = _canvas(level)
    tiles = dataclasses.replace(level, settings=dataclasses.replace(s, preview_every=0))
    total = s.steps * len(boxes)
    facts = TileFacts(tiles=len(boxes), tile_size=s.tile_size, tile_overlap=s.tile_overlap)
    start = time.perf_counter()
    if first:
        crop = prepare_tile(tiles, boxes[0], _crop(canvas, boxes[0]), level.seed)
        yield Progress(0, total, 0.0, evaluate(crop, crop.init),
                       tiles=dataclasses.replace(facts, tile=0),
                       preview=images.to_pil(canvas) if s.preview_every else None,
                       tensor=canvas)
    done: list[tuple[int, int, int, int]] = []
    finals: list[Progress] = []
    shown = 0  # the step of the last preview
    for index, box in enumerate(boxes):
        tile = prepare_tile(tiles, box, _crop(canvas, box), level.seed + index)
        offset = index * s.steps
        for r in optimize(tile, lean=True):
            if r.done:
                _write_back(canvas, box, done, r.tensor)
                finals.append(r)
            elif r.step == s.steps:
                continue  # reported below, once the tile is on the canvas
            step = offset + r.step
            preview = None
            if s.preview_every and step // s.preview_every > shown // s.preview_every \
                    and step < total:
                preview, shown = images.to_pil(canvas), step
            # The canvas itself, not a copy (a large image): it holds every finished tile.
            yield Progress(step, total, time.perf_counter() - start, r.losses, preview=preview,
                           run=r.run, tiles=dataclasses.replace(facts, tile=index, tile_box=box),
                           tensor=canvas)
    yield _tiled_result(canvas, finals, total, time.perf_counter() - start, facts)


def _canvas(level: Prepared) -> torch.Tensor:
    """The level's start image at full size (what the whole output will become)."""
    if level.init is not None:
        return level.init.clone().contiguous()
    _, _, h, w = level.content.shape
    generator = torch.Generator().manual_seed(level.seed)
    return torch.rand((1, 3, h, w), generator=generator).to(level.device)


def _crop(canvas: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    y0, y1, x0, x1 = box
    return canvas[..., y0:y1, x0:x1]


def _write_back(canvas: torch.Tensor, box: tuple[int, int, int, int],
                done: list[tuple[int, int, int, int]], tile: torch.Tensor) -> None:
    """Blend a finished tile into the canvas, ramped over its overlap with written tiles."""
    with torch.no_grad():
        weight = blend_weights(box, done).to(canvas.device)
        region = _crop(canvas, box)
        region.mul_(1 - weight).add_(weight * tile.to(canvas.device).clamp(0, 1))
    done.append(box)


def _tiled_result(canvas: torch.Tensor, finals: list[Progress], total: int, seconds: float,
                  facts: TileFacts) -> Progress:
    losses = {k: sum(r.losses[k] for r in finals) / len(finals) for k in finals[0].losses}
    final = images.quantize(canvas)
    result = images.to_pil(final)
    # The last tile's run facts, with the level's time.
    run = dataclasses.replace(finals[-1].run, seconds=seconds,
                              seconds_per_step=seconds / max(total, 1))
    tiles = dataclasses.replace(facts, level_seconds=seconds,
                                losses_are="mean over tiles of each tile's last-step losses")
    return Progress(total, total, seconds, losses, preview=result, done=True, image=result,
                    tensor=final, run=run, tiles=tiles)


def _summary(level: Level, seconds: float) -> dict:
    return {"size": [level.width, level.height], "steps": level.steps, "tiles": level.tiles,
            "seconds": round(seconds, 3)}


def _finish(r: Progress, levels: list[Level], summary: list, start: float, total: int,
            facts: dict[str, Any]) -> Progress:
    elapsed = time.perf_counter() - start
    plan = PlanFacts(multiscale=len(levels) > 1, level_plan=tuple(summary), seconds=elapsed,
                     seconds_per_step=elapsed / max(total, 1))
    return Progress(total, total, elapsed, r.losses, preview=r.image, done=True, image=r.image,
                    tensor=r.tensor, plan=plan, **facts)
