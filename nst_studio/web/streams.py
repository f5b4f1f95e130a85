"""Jobs streamed as update records for the app's three tabs (Stylize, Compare, Explore): status
lines, loss plots, previews and result files. ``None`` fields of an update leave that part of
the page as it is; every engine step yields one update, so a web server can cancel between any
two steps.

A job (``stylize_job``, ``compare_job``, ``explore_updates``) is what runs on the device; on a
ZeroGPU Space it runs in the GPU worker process and each update is pickled back to the page's
process, which has no CUDA. So nothing a job yields holds a tensor on the GPU, and its loss
plots are data (:class:`LossHistory` snapshots) that :func:`drawn` turns into figures in the
page's process (``stylize_updates``, ``compare_updates``: a job with its plots drawn).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from PIL import Image

from nst_core.imaging import images
from nst_core.experiments import sweep
from nst_core.experiments.compare import TABLE_HEADERS, Tally, stream_methods, table_rows
from nst_core.methods import method_label, parse_method
from nst_core.records import LOSS_TERMS, Progress
from nst_core.results import result_metadata
from nst_core.engine import schedule
from nst_core.job import Job
from nst_core.settings import Settings
from .explore import MODE_NAMES, ExplorePlan, cell_caption, vary_label
from .files import job_state, save_result, without_images
from .inputs import Inputs
from .jobs import JOBS, device_name

UI_UPDATE_SECONDS = 0.25  # the status line refreshes at most this often (previews always show)
# The loss plot is drawn on the server (about 0.1 s of matplotlib on one CPU core), so less often.
PLOT_UPDATE_SECONDS = 1.0
# Besides the engine's previews (every preview_every steps), the page shows the image after the
# first step, then the latest image whenever this long has passed without a preview: a step at
# the CPU defaults takes about a second, so ten steps between previews would be a long wait.
PREVIEW_SECONDS = 2.0
# A GPU's image for Stop is copied to the host at every record unless it is larger than this (a
# tiled level's whole canvas: 200 MB at 4096 px), which is copied at most every
# HOST_COPY_SECONDS and at each preview and at the end, so copies never hold the run back.
HOST_COPY_BYTES = 16 * 2 ** 20
HOST_COPY_SECONDS = 1.0
PLOT_TITLE = "Loss terms ÷ the starting total (log scale)"
COMPARE_PLOT_TITLE = "Each method's loss ÷ its own start (log scale)"


class Throttle:
    """True at most every ``seconds`` (or whenever forced): how often a slow part refreshes."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.last = seconds, float("-inf")  # the first call is always True

    def __call__(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self.last >= self.seconds:
            self.last = now
            return True
        return False


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def status_line(p: Progress) -> str:
    """"step 40/300 (13%) · 0.52 s/step · ETA 2 min 15 s · loss 1.2e+03"."""
    pace = f" · {p.elapsed / p.step:.2f} s/step" if p.step else ""
    if p.done:
        return (f"**Done:** {p.step}/{p.total} steps in {_duration(p.elapsed)}{pace} · "
                f"loss {p.losses['total']:.3g}{warm_note(p)}")
    pct = 100 * p.step / max(p.total, 1)
    return (f"step {p.step}/{p.total} ({pct:.0f}%){pace} · ETA {_duration(p.eta)} · "
            f"loss {p.losses['total']:.3g}")


def warm_note(p: Progress) -> str:
    """What the run's warm-up cost (its last level's), or that an earlier one was reused."""
    warm = p.run.warmup if p.run is not None else None
    if warm is None or not warm.steps:
        return ""
    if warm.reused:
        return f" · warm-up reused ({warm.steps} steps, done earlier for the same inputs)"
    return f" · warm-up {warm.steps} steps in {_duration(warm.seconds)}"


def paced_preview(p: Progress, pace: Throttle) -> Image.Image | None:
    """The preview to show for record ``p``: the engine's own, or the image after this step
    when ``pace`` (a :class:`Throttle` of PREVIEW_SECONDS, fired at the first optimized step)
    says one is due. Step 0 is the unchanged start image: it does not restart the wait."""
    if p.preview is not None:
        if p.step > 0:
            pace(force=True)
        return p.preview
    if p.step > 0 and p.tensor is not None and not p.done and pace():
        return images.to_pil(p.tensor)
    return None


class LossHistory:
    """Loss values per named series (a loss term, or a method) against step, for live plots.

    Plotted relative to a start value, on a log axis that spans the data rather than every
    value ever seen: ``per_series=False`` divides every series by the first value of the
    "total" series (the terms of one run, as shares of the starting total: the content term
    starts at 0 and grows while the style term falls), ``per_series=True`` divides each series
    by its own first positive value (methods of a comparison, each from its own start).
    """

    DECADES = 4  # the axis shows this many powers of ten below the largest value

    def __init__(self, per_series: bool = False, title: str = "Loss") -> None:
        self.series: dict[str, tuple[list[int], list[float]]] = {}
        self.per_series = per_series
        self.title = title

    def copy(self) -> "LossHistory":
        """A snapshot of the series so far (plain lists: cheap to pickle, drawn elsewhere)."""
        snapshot = LossHistory(self.per_series, self.title)
        snapshot.series = {k: (list(s), list(v)) for k, (s, v) in self.series.items()}
        return snapshot

    def add(self, name: str, step: int, value: float) -> None:
        steps, values = self.series.setdefault(name, ([], []))
        steps.append(step)
        values.append(value)

    def add_terms(self, p: Progress) -> None:
        for term in LOSS_TERMS:
            self.add(term, p.step, p.losses.get(term, 0.0))

    def _start(self, values: list[float]) -> float | None:
        if not self.per_series:
            values = self.series.get("total", ([], values))[1]
        return next((v for v in values if v > 0 and math.isfinite(v)), None)

    def points(self) -> dict[str, list[tuple[int, float]]]:
        """Every series as (step, value ÷ its start) points, values <= 0 left out (a log
        axis cannot show them)."""
        drawn = {}
        for name, (steps, values) in self.series.items():
            start = self._start(values)
            if start is None:
                continue
            shown = [(x, y / start) for x, y in zip(steps, values) if y > 0 and math.isfinite(y)]
            if shown:
                drawn[name] = shown
        return drawn

    def figure(self, title: str | None = None):
        """A matplotlib Figure of :meth:`points`, with whole steps on x and its title (this
        history's unless given) on the figure itself (the page shows no label badge over
        it)."""
        title = self.title if title is None else title
        from matplotlib.figure import Figure  # no pyplot: no global state in a web server
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=(7, 2.6), dpi=100)
        ax = fig.subplots()
        drawn = self.points()
        for name, points in drawn.items():
            # The total is drawn dashed on top, so the term it mostly equals stays visible.
            look = dict(color="black", linestyle="--", linewidth=1) if name == "total" else {}
            ax.plot(*zip(*points), label=name, marker="." if len(points) < 30 else None, **look)
        ax.set_yscale("log")
        values = [y for points in drawn.values() for _, y in points]
        if values:
            top = max(values)
            ax.set_ylim(max(min(values), top / 10 ** self.DECADES) / 1.5, top * 1.5)
        last = max((x for points in drawn.values() for x, _ in points), default=0)
        ax.set_xlim(0, max(last, 1))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step")
        ax.set_ylabel("relative loss")
        ax.set_title(title, loc="left", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if drawn:
            ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        return fig


def drawn(updates: Iterator[Any]) -> Iterator[Any]:
    """``updates`` with each loss plot (a :class:`LossHistory` snapshot) drawn as a matplotlib
    Figure, in this process: jobs leave the drawing to this so that on ZeroGPU it costs no
    GPU time and no figure is pickled out of the worker. Closing it closes ``updates``."""
    with contextlib.closing(updates):
        for update in updates:
            if isinstance(update.plot, LossHistory):
                update.plot = update.plot.figure()
            yield update


def drawing(job: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """``job`` (e.g. :func:`stylize_job` as ZeroGPU's decorator returns it) with its updates'
    plots drawn by :func:`drawn` where its updates arrive."""
    @functools.wraps(job)
    def run(*args: Any, **kwargs: Any) -> Iterator[Any]:
        return drawn(job(*args, **kwargs))

    return run


class HostImage:
    """The latest record whose image (``tensor``) is on the host: what Stop keeps, and what
    may leave a GPU worker. See HOST_COPY_BYTES for when a GPU image is copied."""

    def __init__(self) -> None:
        self.record: Progress | None = None
        self.pace = Throttle(HOST_COPY_SECONDS)

    def update(self, p: Progress, force: bool = False) -> Progress:
        """``p`` with its image on the host, or the last such record while a large GPU image
        waits for its pace (``force``: copy now)."""
        t = p.tensor
        if t is None or t.device.type == "cpu":
            self.record = p
        elif self.pace(force or t.numel() * t.element_size() <= HOST_COPY_BYTES):
            self.record = dataclasses.replace(p, tensor=t.detach().cpu())
        return self.record or p


# ----------------------------------------------------------------------------- stylize


@dataclass
class Update:
    """One change for the Stylize tab (and the /stylize API)."""

    preview: Image.Image | None = None  # the image to show now (preview, or the result)
    status: str | None = None  # markdown line: step/total, pace, ETA, loss
    # every loss term so far: a LossHistory from the job, a matplotlib Figure once drawn
    plot: Any = None
    done: bool = False
    png: str | None = None  # result file with the settings embedded (on done)
    settings_json: str | None = None  # the settings as a JSON file (on done)
    state: dict[str, Any] | None = None  # what Stop and "reuse settings" need (files.job_state)
    progress: dict[str, Any] | None = None  # step, total, elapsed, eta, losses (API output)


def _progress_dict(p: Progress) -> dict[str, Any]:
    return {"step": p.step, "total": p.total, "elapsed": round(p.elapsed, 3),
            "eta": None if p.eta is None else round(p.eta, 3), "losses": dict(p.losses),
            "done": p.done}


def _job(gen: Iterator[Any], cells: Sequence[Settings], kind: str, total: int,
         stop_key: str | None) -> Iterator[Any]:
    """``gen`` driven by :data:`JOBS` on the cells' device (stoppable mid-step with a key)."""
    return JOBS.drive(gen, device_name(cells[0]), kind, total, stop_key)


def stylize_updates(inputs: Inputs, settings: Settings, *, stop_key: str | None = None
                    ) -> Iterator[Update]:
    """:func:`stylize_job` with its loss plots drawn (matplotlib Figures)."""
    return drawn(stylize_job(inputs, settings, stop_key=stop_key))


def stylize_job(inputs: Inputs, settings: Settings, *, stop_key: str | None = None
                ) -> Iterator[Update]:
    """Run one job on checked settings and yield :class:`Update` records: one per step, with a
    status line at most every UI_UPDATE_SECONDS and at every preview, and the loss plot (data:
    see :func:`drawn`) at most every PLOT_UPDATE_SECONDS. The last update holds the result
    files. No update holds a tensor on the GPU."""
    job = Job(settings, inputs.content, tuple(inputs.styles), inputs.masks)
    gen = _job(schedule.stylize_job(job), [settings], "stylize", settings.steps, stop_key)
    history = LossHistory(title=PLOT_TITLE)
    ui, plot = Throttle(UI_UPDATE_SECONDS), Throttle(PLOT_UPDATE_SECONDS)
    pace, kept = Throttle(PREVIEW_SECONDS), HostImage()
    first: Progress | None = None  # the step-0 record: the run facts (the seed used)
    with contextlib.closing(gen):
        for p in gen:
            first = p if p.step == 0 else first
            history.add_terms(p)
            update = Update(progress=_progress_dict(p))
            update.preview = paced_preview(p, pace)
            if ui(update.preview is not None or p.done):
                update.status = status_line(p)
            if plot(p.done):
                update.plot = history.copy()
            # Every step: Stop keeps the image as it is at the last finished step (a large
            # GPU image: at the last step copied to the host).
            host = kept.update(p, force=update.preview is not None or p.done)
            update.state = job_state(settings, host, first)
            if p.done:
                update.png, update.settings_json = save_result(p.image,
                                                               result_metadata(settings, p))
                update.done = True
                note = images.saturation_note(p.image, inputs.content)
                if note:
                    update.status = f"{status_line(p)}\n\n**Warning:** {note}"
                    update.progress["warning"] = note
                update.state = without_images(dict(job_state(settings, host, first), done=True))
            yield update


# ----------------------------------------------------------------------------- compare


@dataclass
class CompareUpdate:
    """One change for the Compare tab."""

    gallery: list[tuple[Image.Image, str]] | None = None  # latest image per method, captioned
    status: str | None = None
    plot: Any = None  # matplotlib Figure: total loss per method against step
    table: list[list[Any]] | None = None  # final rows, once all are done
    table_headers: tuple[str, ...] = ()  # PAGE_TABLE_HEADERS
    grid: Image.Image | None = None  # the labelled grid from compare.summarize, at the end
    curves: Image.Image | None = None  # loss vs step and seconds, fixed score vs seconds
    json_path: str | None = None  # numbers of the comparison as JSON, at the end


# The page's comparison table: compare.TABLE_HEADERS without the parameter count (in the JSON),
# with short headers and three significant digits, so it fits the column without scrolling.
PAGE_TABLE_HEADERS = ("Method", "Seconds", "Steps", "Score", "SSIM", "Style dist.", "Own loss")
_PAGE_COLUMNS = [TABLE_HEADERS.index(h) for h in
                 ("Method", "Seconds", "Steps", "Score", "SSIM", "Style distance", "Own loss")]


def page_table(rows: Sequence[Sequence[str]]) -> list[list[str]]:
    """compare.table_rows' cells -> the page's (see PAGE_TABLE_HEADERS)."""
    def short(cell: str) -> str:
        try:
            value = float(cell.replace(",", ""))
        except ValueError:
            return cell
        return f"{value:.3g}" if "e" in cell else cell
    return [[short(row[i]) for i in _PAGE_COLUMNS] for row in rows]


class _CompareProgress:
    """What the Compare tab shows while the methods run."""

    def __init__(self, keys: Sequence[str], tally: Tally) -> None:
        s = tally.settings
        self.keys, self.tally = list(keys), tally
        self.budget = (f"{s.time_budget:g} s each" if s.time_budget is not None
                       else f"{s.steps * len(self.keys)} steps")
        self.labels = {k: method_label(*parse_method(k)) for k in keys}
        self.latest: dict[str, tuple[Image.Image, str]] = {}
        self.steps = {k: 0 for k in keys}
        self.plot = LossHistory(per_series=True, title=COMPARE_PLOT_TITLE)

    @property
    def finals(self) -> dict[str, Progress]:
        return self.tally.finals

    def add(self, method: str, p: Progress) -> None:
        self.steps[method] = p.step
        self.tally.add(method, p)
        self.plot.add(self.labels[method], p.step, p.losses["total"])
        if p.preview is not None:
            score = self.tally.histories[method][-1].get("fixed_score")
            self.latest[method] = (p.preview, f"{self.labels[method]} · step {p.step} · "
                                              f"{p.elapsed:.0f} s · score {score:.3g}")

    def gallery(self) -> list[tuple[Image.Image, str]]:
        return [self.latest[k] for k in self.keys if k in self.latest]

    def status(self) -> str:
        return (f"{len(self.finals)}/{len(self.keys)} methods done · "
                f"{sum(self.steps.values())} steps of {self.budget}")


def compare_updates(inputs: Inputs, settings: Settings, chosen: Sequence[str], *,
                    stop_key: str | None = None) -> Iterator[CompareUpdate]:
    """:func:`compare_job` with its loss plots drawn (matplotlib Figures)."""
    return drawn(compare_job(inputs, settings, chosen, stop_key=stop_key))


def compare_job(inputs: Inputs, settings: Settings, chosen: Sequence[str], *,
                stop_key: str | None = None) -> Iterator[CompareUpdate]:
    """Run every chosen method with the same settings and budget, interleaved step by step
    (:func:`nst_core.experiments.compare.compare_stream`), and yield Compare-tab updates (loss
    plots as data: see :func:`drawn`)."""
    if not chosen:
        raise ValueError("pick at least one method to compare")
    keys = [f"{o}:{p}" for o, p in map(parse_method, chosen)]
    job = Job(settings, inputs.content, tuple(inputs.styles))
    gen = _job(stream_methods(job, keys), [settings], "compare", settings.steps, stop_key)
    seen = _CompareProgress(keys, Tally(job.content, job.styles, settings))
    ui, plot = Throttle(UI_UPDATE_SECONDS), Throttle(PLOT_UPDATE_SECONDS)
    with contextlib.closing(gen):
        for method, p in gen:
            seen.add(method, p)
            update = CompareUpdate()
            if ui(p.preview is not None or p.done):
                update.status, update.gallery = seen.status(), seen.gallery()
            if plot():
                update.plot = seen.plot.copy()
            yield update
    if len(seen.finals) < len(keys):
        return  # stopped: the page keeps the images it has
    yield _compare_summary(inputs, settings, seen)


def _compare_summary(inputs: Inputs, settings: Settings, seen: _CompareProgress
                     ) -> CompareUpdate:
    result = seen.tally.summarize()
    _, js = save_result(result.grid, result.to_dict(), prefix="compare")
    return CompareUpdate(gallery=seen.gallery(), table=page_table(table_rows(result.rows)),
                         table_headers=PAGE_TABLE_HEADERS,
                         grid=result.grid,
                         status=f"**Done:** {len(seen.keys)} methods, {seen.budget}",
                         plot=seen.plot.copy(), curves=result.curves,
                         json_path=js)


# ----------------------------------------------------------------------------- explore


@dataclass
class ExploreUpdate:
    """One change for the Explore tab."""

    gallery: list[tuple[Image.Image, str]] | None = None  # finished cells + the running one
    status: str | None = None
    grid: Image.Image | None = None  # the labelled grid, at the end
    grid_png: str | None = None  # the grid as a PNG with the sweep's settings and numbers


def explore_updates(inputs: Inputs, plan: ExplorePlan, *, stop_key: str | None = None
                    ) -> Iterator[ExploreUpdate]:
    """Run a checked sweep (:func:`nst_core.experiments.sweep.sweep`: one run per value, in an
    explore mode) and yield Explore-tab updates: the finished cells and the running cell's latest
    preview as they come, then the labelled grid and its PNG."""
    content, styles, masks = sweep.mode_inputs(plan.mode, inputs.content, tuple(inputs.styles),
                                               inputs.masks)
    settings = [c.settings for c in plan.cells]
    total = sum(s.steps for s in settings)  # an estimate for the job record: levels add steps
    gen = _job(sweep.sweep_jobs(content, styles, plan.cells, masks=masks,
                                columns=plan.columns or None),
               settings, "explore", total, stop_key)
    finished: list[tuple[Image.Image, str]] = []
    ui = Throttle(UI_UPDATE_SECONDS)
    with contextlib.closing(gen):
        for rec in gen:
            if rec.done:
                yield _explore_summary(plan, rec, finished)
                return
            p, update = rec.progress, ExploreUpdate()
            caption = cell_caption(rec.label)
            if rec.image is not None:
                finished.append((rec.image, caption))
                update.gallery = list(finished)
            elif p is not None and p.preview is not None:
                update.gallery = finished + [(p.preview, f"{caption} · step {p.step}")]
            if ui(update.gallery is not None) and p is not None:
                update.status = (f"run {rec.cell + 1}/{rec.cells}: {vary_label(plan.vary)} = "
                                 f"{caption} · step {p.step}/{p.total}")
            yield update


def _explore_summary(plan: ExplorePlan, rec: sweep.SweepRecord,
                     finished: list[tuple[Image.Image, str]]) -> ExploreUpdate:
    meta = {"settings": plan.settings.to_dict(),
            "sweep": {"vary": plan.vary, "mode": plan.mode, "cells": rec.results}}
    meta = json.loads(json.dumps(meta, default=str))  # a cell's value may be any setting's type
    png, _ = save_result(rec.grid, meta, prefix="explore")
    return ExploreUpdate(gallery=list(finished), grid=rec.grid, grid_png=png,
                         status=f"**Done:** {rec.cells} runs, one per value of "
                                f"{vary_label(plan.vary)} ({MODE_NAMES[plan.mode].lower()})")
