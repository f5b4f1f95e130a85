"""Explore modes (after the CMU 16-824 style transfer assignment) and labelled sweep grids.

- content reconstruction: optimize noise to match one layer's content activations only
  (style weight 0), to see what each layer keeps (Gatys et al. 2016, fig. 1);
- texture synthesis: optimize noise to match a set of layers' style statistics only (content
  weight 0), to see what the style representation holds;
- sweeps: one setting varied over a list of values (style weights 1 ... 1e5, layer presets,
  methods as ``optimizer:param``, any Settings field), one run per value, laid out as a labelled
  grid image.

:func:`sweep` streams :class:`SweepRecord` s (every engine step of every cell, then the grid) so a
UI can show progress. ``python -m nst_core sweep ...`` is the command line: it also takes several
content images and styles (a row of the grid per pair), resumes, and runs on Ray with ``--ray``
(see :mod:`nst_core.experiments.tasks` and :mod:`nst_core.experiments.distributed`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from PIL import Image, ImageDraw, ImageFont

from ..imaging import images
from ..records import Progress
from ..engine.prepare import as_styles
from ..methods import parse_method, with_method
from ..results import result_metadata
from .tasks import Run, Source, fixed_score, make_run
from ..engine.schedule import stylize
from ..settings import PRESETS, FieldInfo, Settings, field_info, field_infos, validate

MODES = ("stylize", "reconstruct", "texture")
# Settings whose values are comma-separated lists (read from the settings' descriptions).
_STR_TUPLES = tuple(i.name for i in field_infos() if i.kind == "strs")
_FLOAT_TUPLES = tuple(i.name for i in field_infos() if i.kind == "floats")
# Pseudo-settings: a layer preset by name, or "optimizer:param".
SPECIAL = ("preset", "method")
LABEL_HEIGHT = 14  # pixels of the caption strip under each cell
GRID_GAP = 2  # pixels between cells
FAILED_GREY = (200, 200, 200)  # a failed run's cell in the grid


@dataclass
class SweepRecord:
    """One report from a sweep: engine progress inside a cell, a finished cell, or the grid."""

    cell: int  # index of the cell this record is about (0-based)
    cells: int  # number of cells
    label: str  # the cell's caption, e.g. "style_weight=100"
    progress: Progress | None = None  # the engine's record for this step of the cell
    image: Image.Image | None = None  # the finished cell's image (on the cell's last record)
    grid: Image.Image | None = None  # the labelled grid (on the very last record)
    done: bool = False  # True on the very last record only
    results: list[dict] = field(default_factory=list)  # per cell: label, value, losses, seconds


def mode_settings(base: Settings, mode: str) -> Settings:
    """The settings of an explore mode: ``reconstruct`` (content only, from noise), ``texture``
    (style only, from noise) or ``stylize`` (unchanged)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from: {', '.join(MODES)}")
    if mode == "reconstruct":
        return dataclasses.replace(base, style_weight=0.0, init="noise", tv_weight=0.0,
                                   edge_weight=None)
    if mode == "texture":
        return dataclasses.replace(base, content_weight=0.0, init="noise")
    return base


def is_list(vary: str) -> bool:
    """True if a value of ``vary`` is a comma-separated list (layers, weights, level steps)."""
    return vary not in SPECIAL and field_info(vary).kind in ("strs", "floats", "ints")


def _read(info: FieldInfo, text: str) -> Any:
    if info.optional and text.lower() == "none":
        return None
    items = [v.strip() for v in text.split(",") if v.strip()]
    readers = {"strs": str, "floats": float, "ints": lambda v: int(float(v))}
    if info.kind in readers:
        return tuple(readers[info.kind](v) for v in items)
    if info.kind == "bool":
        return text.lower() in ("1", "true", "yes")
    if info.kind == "int":
        return int(float(text))
    return float(text) if info.kind == "float" else text


def parse_value(vary: str, value: Any) -> Any:
    """A command-line or UI string -> the value for ``vary`` (numbers, 'none', comma lists),
    read as the setting's description says."""
    check_vary(vary)
    if not isinstance(value, str):
        return value
    text = value.strip()
    if vary in SPECIAL:
        return text
    try:
        return _read(field_info(vary), text)
    except ValueError:
        raise ValueError(f"{vary}: cannot read {value!r} as a value for it") from None


def cell_settings(base: Settings, vary: str, value: Any) -> Settings:
    """``base`` with one setting changed (``preset`` swaps the layer choice of a preset,
    ``method`` takes ``optimizer:param``)."""
    if vary == "preset":
        if value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; choose from: {', '.join(PRESETS)}")
        p = PRESETS[value]
        return dataclasses.replace(base, content_layers=p.content_layers,
                                   style_layers=p.style_layers,
                                   content_layer_weights=p.content_layer_weights,
                                   style_layer_weights=p.style_layer_weights)
    if vary == "method":  # checked by name; an explicit learning rate applies to every method
        return with_method(base, parse_method(value))
    check_vary(vary)
    return dataclasses.replace(base, **{vary: value})


def check_vary(vary: str) -> None:
    """ValueError listing the choices unless ``vary`` can be swept."""
    names = {i.name for i in field_infos() if i.kind != "mapping"}
    if vary not in names and vary not in SPECIAL:
        choices = ", ".join(sorted(names) + list(SPECIAL))
        raise ValueError(f"cannot vary {vary!r}; choose from: {choices}")


def label_for(vary: str, value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, tuple):
        text = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    else:
        text = str(value)
    return f"{vary}={text}"


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 ships a scalable font
    except TypeError:  # pragma: no cover - older Pillow
        return ImageFont.load_default()


def make_grid(cells: Sequence[Image.Image], labels: Sequence[str],
              columns: int | None = None) -> Image.Image:
    """Cells side by side (``columns`` per row; default: all in one row up to 6, then wrap),
    each scaled to the first cell's height, with its label in a white strip underneath."""
    if not cells or len(cells) != len(labels):
        raise ValueError("make_grid needs one label per cell and at least one cell")
    h = cells[0].height
    scaled = [c if c.height == h else c.resize((max(1, round(c.width * h / c.height)), h),
                                               Image.Resampling.LANCZOS) for c in cells]
    cols = columns or min(len(cells), 6)
    rows = -(-len(cells) // cols)
    cw = max(c.width for c in scaled)
    cell_h = h + LABEL_HEIGHT
    grid = Image.new("RGB", (cols * cw + (cols - 1) * GRID_GAP,
                             rows * cell_h + (rows - 1) * GRID_GAP), "white")
    draw = ImageDraw.Draw(grid)
    font = _font(LABEL_HEIGHT - 3)
    for i, (cell, label) in enumerate(zip(scaled, labels)):
        x, y = (i % cols) * (cw + GRID_GAP), (i // cols) * (cell_h + GRID_GAP)
        grid.paste(cell, (x, y))
        text = label
        if draw.textlength(text, font=font) > cw - 2 and "=" in text:
            text = text.split("=", 1)[1]  # a narrow cell shows the value alone
        while len(text) > 3 and draw.textlength(text, font=font) > cw - 2:
            text = text[:-2] + "…"
        draw.text((x + 1, y + h + 1), text, fill="black", font=font)
    return grid


def sweep(content: images.ImageSource | None, style: Any, settings: Settings | None,
          vary: str, values: Sequence[Any], *, mode: str = "stylize",
          masks: Sequence[Any] | None = None, columns: int | None = None,
          check: bool = True) -> Iterator[SweepRecord]:
    """One run per value of ``vary`` (values may be strings, parsed by :func:`parse_value`),
    streamed: a record per engine step of each cell, one when a cell finishes (``image``), and
    a final one with the labelled ``grid`` and per-cell ``results``.

    ``mode`` applies an explore mode to every cell (see :func:`mode_settings`); in ``texture``
    mode ``content`` may be None (the first style image sets the output's shape). Every cell's
    settings are validated before the first run starts (``check=False`` for callers that
    validated them already, such as the app's Explore tab).
    """
    if not values:
        raise ValueError("a sweep needs at least one value")
    base = mode_settings(settings or Settings(), mode)
    styles = as_styles(style)
    if mode == "reconstruct":
        styles, masks = [], None
    elif not styles:
        raise ValueError(f"mode {mode!r} needs a style image")
    if content is None:
        if mode != "texture":
            raise ValueError(f"mode {mode!r} needs a content image")
        content = styles[0]
    parsed = [parse_value(vary, v) for v in values]
    plan = [(label_for(vary, v), v, cell_settings(base, vary, v)) for v in parsed]
    for label, _, s in plan if check else ():
        try:
            validate(s, n_styles=len(styles))
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
    style_arg = None if not styles else (styles if len(styles) > 1 else styles[0])
    cells, results = [], []
    for i, (label, value, s) in enumerate(plan):
        final = None
        for p in stylize(content, style_arg, s, masks=masks, check=False):
            if p.done:
                final = p
            yield SweepRecord(i, len(plan), label, progress=p,
                              image=p.image if p.done else None)
        assert final is not None
        cells.append(final.image)
        results.append({"label": label, "value": value, "losses": final.losses,
                        "seconds": final.info.get("seconds"), "seed": final.info.get("seed")})
    grid = make_grid(cells, [r["label"] for r in results], columns)
    yield SweepRecord(len(plan) - 1, len(plan), results[-1]["label"], grid=grid, done=True,
                      results=results)


def run_cell(run: Run, on_step: Callable[[Progress], None] | None = None
             ) -> tuple[Image.Image, dict]:
    """A grid cell's work, in whichever process runs it: one stylization of its inputs."""
    styles = [s.load("style image") for s in run.styles]
    content = run.content.load("content image") if run.content else styles[0]
    masks = [m.load("mask") for m in run.masks] if run.masks else None
    style = None if not styles else (styles if len(styles) > 1 else styles[0])
    final = None
    for p in stylize(content, style, run.settings, masks=masks, check=False):
        if on_step is not None:
            on_step(p)
        if p.done:
            final = p
    assert final is not None
    # Scored against the content and style it had (a texture has no content to score against).
    extra = ({"score": fixed_score(content, style, final.image, run.settings)}
             if run.content is not None and styles else None)
    return final.image, result_metadata(run.settings, final, extra=extra)


def grid_runs(contents: Sequence[Source | None], groups: Sequence[Sequence[Source]],
              settings: Settings, vary: str, values: Sequence[Any], folder: str, *,
              mode: str = "stylize", masks: Sequence[Source] | None = None) -> list[Run]:
    """Every content x every style group x every value, in that order (a row of the grid per
    content and style). Every cell's settings are validated before any run starts."""
    if not values:
        raise ValueError("a sweep needs at least one value")
    base = mode_settings(settings, mode)
    cells = [(label_for(vary, v), v, cell_settings(base, vary, v))
             for v in (parse_value(vary, v) for v in values)]
    for group in groups:
        for label, _, s in cells:
            try:
                validate(s, n_styles=len(group))
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}") from None
    pairs = [(c, g) for c in contents for g in groups]
    return [make_run(run_cell, s, c, g, folder,
                     label if len(pairs) == 1 else f"{_pair_name(c, g)} · {label}", value, masks)
            for c, g in pairs for label, value, s in cells]


def _pair_name(content: Source | None, group: Sequence[Source]) -> str:
    return f"{content.stem if content else 'noise'}/{'+'.join(s.stem for s in group) or '-'}"

