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

from PIL import Image

from ..imaging import images
from ..records import Progress
from ..methods import parse_method, with_method
from ..results import result_metadata
from .report import SWEEP_LOOK, make_grid
from .tasks import Source, Task, fixed_score, make_task
from ..engine.schedule import stylize_job
from ..job import Job, as_styles
from ..settings import FieldInfo, Settings, field_info, field_infos, get_preset, validate

MODES = ("stylize", "reconstruct", "texture")
# Pseudo-settings: a layer preset by name, or "optimizer:param".
SPECIAL = ("preset", "method")
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
        p = get_preset(value)
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


@dataclass(frozen=True)
class SweepCell:
    """One value of a sweep: its caption, the value, and the settings of its run."""

    label: str
    value: Any
    settings: Settings


def sweep_cells(base: Settings, vary: str, values: Sequence[Any], *, mode: str = "stylize",
                n_styles: int = 1, also: Callable[[Settings], None] | None = None
                ) -> tuple[SweepCell, ...]:
    """Each value's cell (values may be strings, parsed by :func:`parse_value`) in an explore
    ``mode`` (:func:`mode_settings`), every cell's settings checked before any run starts: the
    settings' rules for ``n_styles`` style images, and ``also`` (e.g. a server's limits). A
    bad value's message names its cell."""
    _need_values(values)
    start = mode_settings(base, mode)
    cells = []
    for value in (parse_value(vary, v) for v in values):
        label, s = label_for(vary, value), cell_settings(start, vary, value)
        try:
            validate(s, n_styles=n_styles)
            if also is not None:
                also(s)
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        cells.append(SweepCell(label, value, s))
    return tuple(cells)


def _need_values(values: Sequence[Any]) -> None:
    if not values:
        raise ValueError("a sweep needs at least one value")


def sweep(content: images.ImageSource | None, style: Any, settings: Settings | None,
          vary: str, values: Sequence[Any], *, mode: str = "stylize",
          masks: Sequence[Any] | None = None, columns: int | None = None
          ) -> Iterator[SweepRecord]:
    """One run per value of ``vary`` (values may be strings, parsed by :func:`parse_value`),
    streamed: a record per engine step of each cell, one when a cell finishes (``image``), and
    a final one with the labelled ``grid`` and per-cell ``results``.

    ``mode`` applies an explore mode to every cell (see :func:`mode_settings`); in ``texture``
    mode ``content`` may be None (the first style image sets the output's shape). Every cell is
    checked before the first run starts (:func:`sweep_cells`; :func:`sweep_jobs` runs cells
    checked elsewhere, such as the app's Explore tab).
    """
    _need_values(values)
    content, styles, masks = mode_inputs(mode, content, as_styles(style), masks)
    cells = sweep_cells(settings or Settings(), vary, values, mode=mode, n_styles=len(styles))
    yield from sweep_jobs(content, styles, cells, masks=masks, columns=columns)


def mode_inputs(mode: str, content: images.ImageSource | None, styles: tuple,
                masks: Sequence[Any] | None) -> tuple[images.ImageSource, tuple, Any]:
    """The inputs an explore mode runs on: ``reconstruct`` drops the styles and masks,
    ``texture`` may have no content (the first style image sets the output's shape), the
    others need both."""
    if mode == "reconstruct":
        styles, masks = (), None
    elif not styles:
        raise ValueError(f"mode {mode!r} needs a style image")
    if content is None:
        if mode != "texture":
            raise ValueError(f"mode {mode!r} needs a content image")
        content = styles[0]
    return content, styles, masks


def sweep_jobs(content: images.ImageSource, styles: Sequence[Any],
               cells: Sequence[SweepCell], *, masks: Sequence[Any] | None = None,
               columns: int | None = None) -> Iterator[SweepRecord]:
    """:func:`sweep` on checked cells: each cell one job on these inputs, run in turn."""
    jobs = [Job(c.settings, content, tuple(styles), masks) for c in cells]
    images_, results = [], []
    for i, (cell, job) in enumerate(zip(cells, jobs)):
        final = None
        for p in stylize_job(job):
            if p.done:
                final = p
            yield SweepRecord(i, len(cells), cell.label, progress=p,
                              image=p.image if p.done else None)
        assert final is not None
        images_.append(final.image)
        results.append({"label": cell.label, "value": cell.value, "losses": final.losses,
                        "seconds": final.seconds, "seed": final.seed})
    grid = make_grid([(img, [r["label"]]) for img, r in zip(images_, results)], columns,
                     look=SWEEP_LOOK)
    yield SweepRecord(len(cells) - 1, len(cells), results[-1]["label"], grid=grid, done=True,
                      results=results)


def stylize_task(task: Task, on_step: Callable[[Progress], None] | None = None
                 ) -> tuple[Image.Image, dict]:
    """A grid cell's work, in whichever process runs it: one stylization of its inputs."""
    styles = tuple(s.load("style image") for s in task.styles)
    content = task.content.load("content image") if task.content else styles[0]
    masks = [m.load("mask") for m in task.masks] if task.masks else None
    final = None
    for p in stylize_job(Job(task.settings, content, styles, masks)):
        if on_step is not None:
            on_step(p)
        if p.done:
            final = p
    assert final is not None
    # Scored against the content and style it had (a texture has no content to score against).
    extra = ({"score": fixed_score(content, styles, final.image, task.settings)}
             if task.content is not None and styles else None)
    return final.image, result_metadata(task.settings, final, extra=extra)


def sweep_tasks(contents: Sequence[Source | None], groups: Sequence[Sequence[Source]],
                settings: Settings, vary: str, values: Sequence[Any], folder: str, *,
                mode: str = "stylize", masks: Sequence[Source] | None = None) -> list[Task]:
    """Every content x every style group x every value, in that order (a row of the grid per
    content and style). Every cell's settings are checked before any task starts."""
    _need_values(values)
    cells = None
    for group in groups:  # the same cells, checked for each group's count of styles
        cells = sweep_cells(settings, vary, values, mode=mode, n_styles=len(group))
    pairs = [(c, g) for c in contents for g in groups]
    return [make_task(stylize_task, cell.settings, c, g, folder,
                      cell.label if len(pairs) == 1 else f"{_pair_name(c, g)} · {cell.label}",
                      cell.value, masks)
            for c, g in pairs for cell in cells]


def _pair_name(content: Source | None, group: Sequence[Source]) -> str:
    return f"{content.stem if content else 'noise'}/{'+'.join(s.stem for s in group) or '-'}"

