"""Run several (optimizer, parameterization) methods on the same inputs and compare them.

A method is written ``optimizer:param`` (``adam:fft``). Every method gets the same settings and
the same budget, so differences come from what is optimized and how: equal steps (objective
evaluations), or equal time (``settings.time_budget`` seconds of each method's own work, with
the step budget lifted: ``--budget-seconds``). :func:`compare_stream` interleaves the runs one
step at a time (a UI can show all results growing side by side), each timed by the engine's own
clock. Every method is scored by the same fixed scorer (:mod:`nst_core.experiments.scoring`),
whatever its own loss; :func:`summarize` turns the final records into a labelled grid, curves of
the loss against steps and seconds and of the score against seconds, and a table.

CLI: ``python -m nst_core compare --content C --style S --methods lbfgs:pixels adam:fft
--steps N --size PX --out DIR``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

from PIL import Image

from ..imaging import images
from ..job import Job, as_styles
from ..engine.loop import NonFiniteLossError, optimize
from ..records import Progress, RunFacts, history_row
from ..engine.prepare import prepare
from .. import estimate as estimates
from ..estimate import Estimator
from ..methods import method_label, parse_methods, with_method
from ..results import result_metadata, write_result
from .tasks import Outcome, Task, record_from_metadata
from .report import COMPARE_LOOK, make_grid, markdown_table, number, plot_curves
from .scoring import Scorer, make_scorer
from ..settings import Settings, from_dict

# Steps between the scored points of a method's curve (each is one fixed-scorer pass on the
# preview, outside the method's own clock).
SCORE_EVERY = 10
# The step budget of an equal-time comparison: never the limit, the time budget is.
EQUAL_TIME_STEPS = 1_000_000
# A fixed-scorer pass (two VGG19 forward passes and SSIM, no backward) costs about one plain
# step of the output's size: 0.32 s against 0.33 s at 256 px on a 2-core Zen 5 EPYC.
SCORE_PASS_STEPS = 1.0


def scoring_seconds(settings: Settings, width: int | None = None, height: int | None = None,
                    estimator: Estimator | None = None) -> float:
    """Seconds a comparison spends scoring one method's images, outside the method's own
    clock: a pass per preview (the points of its curve), one for its final image and one for
    its share of the scorer's set-up and the grid. 0 where the device has no calibration.
    ``estimator``: this process's (:data:`nst_core.estimate.ESTIMATOR`) unless given."""
    estimator = estimator or estimates.ESTIMATOR
    step = estimator.step_seconds(settings, width, height)
    full = estimator.estimate(dataclasses.replace(settings, time_budget=None), width, height,
                              measure=False)
    if step is None or full is None:
        return 0.0
    ran = full.evaluations
    if settings.time_budget is not None and full.seconds > settings.time_budget:
        ran = int(ran * settings.time_budget / full.seconds)  # the steps its clock allows
    previews = ran // settings.preview_every if settings.preview_every else 0
    return SCORE_PASS_STEPS * step * (previews + 2)


def compare_stream(content: Any, style: Any, settings: Settings, methods: Sequence[str]
                   ) -> Iterator[tuple[str, Progress]]:
    """Yield ``(method, Progress)`` for every record of every method, round-robin by step.

    The inputs are loaded and the loss targets computed once; each method then runs
    :func:`nst_core.engine.loop.optimize` with ``optimizer`` and ``param`` replaced. A
    record's ``elapsed`` (and the final record's ``seconds``/``seconds_per_step``) is the
    engine's own clock: the method's own work (a DIP warm-up included), not the other methods'
    turns nor what the caller does between records; ``settings.time_budget`` applies to it.
    Closing the generator closes every run. A method whose loss becomes non-finite raises
    :class:`NonFiniteLossError` naming it (the other runs are closed).

    The arguments are checked here, the Python API's edge, as a :class:`Job`
    (:func:`stream_methods` runs one made elsewhere).
    """
    yield from stream_methods(Job.of(content, style, settings), methods)


def stream_methods(job: Job, methods: Sequence[str]) -> Iterator[tuple[str, Progress]]:
    """:func:`compare_stream` on a checked job: each method's settings (the job's, with its
    optimizer and parameterization) are checked as a job of their own before any run starts."""
    jobs = {m.key: job.with_settings(with_method(job.settings, m))
            for m in parse_methods(methods)}
    base = prepare(job.content, job.styles, job.settings)
    gens: dict[str, Iterator[Progress]] = {
        key: optimize(dataclasses.replace(base, settings=j.settings)) for key, j in jobs.items()}
    active = list(gens)
    try:
        while active:
            for key in list(active):
                try:
                    record = next(gens[key])
                except NonFiniteLossError as exc:
                    raise NonFiniteLossError(f"{key}: {exc}") from None
                if record.done:
                    active.remove(key)
                yield key, record
    finally:
        for gen in gens.values():
            gen.close()


def history_point(record: Progress, scorer: Scorer | None = None) -> dict[str, Any]:
    """A curve point: step, own seconds and losses, and the fixed score of the record's image
    (its preview) when there is one and a scorer."""
    point = history_row(record)
    image = record.image if record.done else record.preview
    if scorer is not None and image is not None:
        point.update({f"fixed_{k}": v for k, v in scorer(image).items()})
    return point


@dataclass
class CompareResult:
    """What a comparison produces (see :func:`summarize`)."""

    grid: Image.Image  # content, style, one labelled result per method
    curves: Image.Image  # own loss vs step and vs seconds, fixed score vs seconds (log scale)
    rows: list[dict[str, Any]]  # one per method: losses, score, ssim, seconds, steps, parameters
    markdown: str  # the rows as a markdown table
    histories: dict[str, list[dict[str, float]]]  # method -> rows of step, seconds, losses
    settings: dict[str, Any]  # the shared settings (optimizer/param are per method)
    images: dict[str, Image.Image] = field(default_factory=dict)  # method -> final image
    finals: dict[str, Progress] = field(default_factory=dict)  # method -> final record
    failures: dict[str, str] = field(default_factory=dict)  # method -> why its run failed

    def to_dict(self) -> dict[str, Any]:
        out = {"settings": self.settings, "methods": [r["method"] for r in self.rows],
               "rows": self.rows, "histories": self.histories}
        if self.failures:
            out["failed"] = [{"method": m, "error": e} for m, e in self.failures.items()]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def table(self) -> str:
        """The markdown table, then each failed method with its message."""
        failed = "".join(f"- `{m}` failed: {e}\n" for m, e in self.failures.items())
        return self.markdown + (f"\nFailed runs:\n\n{failed}" if failed else "")

    def save_summary(self, out_dir: str | os.PathLike) -> dict[str, str]:
        """Write grid.png, curves.png, table.md and results.json."""
        os.makedirs(out_dir, exist_ok=True)
        paths = {name: os.path.join(out_dir, name)
                 for name in ("grid.png", "curves.png", "table.md", "results.json")}
        self.grid.save(paths["grid.png"])
        self.curves.save(paths["curves.png"])
        with open(paths["table.md"], "w") as fh:
            fh.write(self.table())
        with open(paths["results.json"], "w") as fh:
            fh.write(self.to_json())
        return paths

    def save(self, out_dir: str | os.PathLike) -> dict[str, str]:
        """:meth:`save_summary`, and one result per method (``OPTIMIZER_PARAM.png`` with its
        settings embedded, and its ``.json``)."""
        paths = self.save_summary(out_dir)
        for row in self.rows:
            method = row["method"]
            if method in self.finals:
                path = os.path.join(out_dir, method.replace(":", "_") + ".png")
                settings = from_dict(dict(self.settings, optimizer=row["optimizer"],
                                          param=row["param"]))
                write_result(self.images.get(method, self.finals[method].image), path,
                             result_metadata(settings, self.finals[method],
                                             extra={"history": self.histories.get(method, [])}))
                paths[method] = path
        return paths


def _row(method: str, final: Progress, scores: Mapping[str, float]) -> dict[str, Any]:
    run = final.run or RunFacts()
    row = {"method": method, "label": method_label(run.optimizer, run.param),
           "optimizer": run.optimizer, "param": run.param, "steps": final.step,
           "losses": dict(final.losses), "seconds": final.seconds,
           "seconds_per_step": final.seconds_per_step, "parameters": run.parameters,
           "lr": run.lr, **{k: scores[k] for k in ("score", "ssim", "style_distance")}}
    if run.warmup is not None:
        row.update(warmup_steps=run.warmup.steps, warmup_seconds=run.warmup.seconds,
                   warmup_mse=run.warmup.mse, warmup_reused=bool(run.warmup.reused))
    return row


TABLE_HEADERS = ("Method", "Parameters", "Seconds", "Steps", "Score", "SSIM", "Style distance",
                 "Own loss")


def table_rows(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """The comparison table's cells (:data:`TABLE_HEADERS`), numbers rounded to what matters."""
    return [[r["label"], f"{r['parameters']:,}", f"{r['seconds']:.1f}", str(r["steps"]),
             number(r["score"], 3, 1e4), f"{r['ssim']:.3f}",
             number(r["style_distance"], 3, 1e4), number(r["losses"]["total"], 3, 1e4)]
            for r in rows]


def summarize(content: Any, style: Any, finals: Mapping[str, Progress],
              histories: Mapping[str, Sequence[Mapping[str, float]]],
              settings: Settings, scorer: Scorer | None = None,
              scores: Mapping[str, Mapping[str, float]] | None = None) -> CompareResult:
    """Grid, curves, rows and markdown table from each method's final record and history.

    ``content``/``style`` are any image sources (a list of styles shows the first);
    ``histories`` maps a method to rows with ``step``, ``seconds``, the loss terms and, where
    measured, the fixed score (as :func:`history_point` makes them). ``scores`` holds the fixed
    scorer's numbers of final images scored already (a run's metadata); the others are scored
    by ``scorer`` (made here for these inputs when needed and not given).
    """
    if not finals:
        raise ValueError("no finished methods to summarize")
    for method, final in finals.items():
        if not final.done or final.image is None:
            raise ValueError(f"method {method}: its record is not a final one (done=False)")
    scores = dict(scores or {})
    for method, final in finals.items():
        if method not in scores:
            if scorer is None:
                scorer = make_scorer(content, style, max(final.image.size),
                                     device=settings.device, weights=settings.weights)
            scores[method] = scorer(final.image)
    rows = [_row(m, f, scores[m]) for m, f in finals.items()]
    results = {m: f.image for m, f in finals.items()}
    size = next(iter(results.values())).size
    content_img = images.load_image(content, name="content image")
    styles = as_styles(style)
    tiles: list[tuple[Image.Image, list[str]]] = [
        (content_img, ["content", ""])]
    if styles:
        tiles.append((images.load_image(styles[0], name="style image"), ["style", ""]))
    for row in rows:
        tiles.append((results[row["method"]],
                      [row["label"], f"score {row['score']:.3g} · "
                                     f"{row['seconds']:.1f} s"]))
    grid = make_grid(tiles, look=COMPARE_LOOK, tile_size=size)
    labels = {r["method"]: r["label"] for r in rows}
    curves = plot_curves({m: list(h) for m, h in histories.items()}, labels)
    table = markdown_table(TABLE_HEADERS, table_rows(rows), "l" + "r" * (len(TABLE_HEADERS) - 1))
    return CompareResult(grid, curves, rows, table,
                         {m: [dict(r) for r in h] for m, h in histories.items()},
                         settings.to_dict(), results, dict(finals))


class Tally:
    """What a comparison keeps as its records come: each method's final record and its curve
    (:func:`history_point`), every image scored by one scorer made from the first record."""

    def __init__(self, content: Any, styles: tuple, settings: Settings):
        self.content, self.styles, self.settings = content, styles, settings
        self.scorer: Scorer | None = None
        self.finals: dict[str, Progress] = {}
        self.histories: dict[str, list[dict]] = {}

    def add(self, method: str, record: Progress) -> None:
        if self.scorer is None:
            self.scorer = make_scorer(self.content, self.styles, max(record.size),
                                      device=self.settings.device,
                                      weights=self.settings.weights)
        self.histories.setdefault(method, []).append(history_point(record, self.scorer))
        if record.done:
            self.finals[method] = record

    def summarize(self) -> CompareResult:
        return summarize(self.content, self.styles, self.finals, self.histories,
                         self.settings, self.scorer)


def compare(content: Any, style: Any, settings: Settings, methods: Sequence[str],
            on_record=None) -> CompareResult:
    """Run :func:`compare_stream` to the end and :func:`summarize` it.

    ``on_record(method, progress)``, if given, sees every record as it comes.
    """
    return compare_job(Job.of(content, style, settings), methods, on_record)


def compare_job(job: Job, methods: Sequence[str], on_record=None) -> CompareResult:
    """:func:`compare` on a checked job."""
    tally = Tally(job.content, job.styles, job.settings)
    for method, record in stream_methods(job, methods):
        tally.add(method, record)
        if on_record is not None:
            on_record(method, record)
    return tally.summarize()


def compare_task(task: Task, on_step: Callable[[Progress], None] | None = None
                 ) -> tuple[Image.Image, dict]:
    """One method of a comparison, in whichever process runs it (its own clock, as in
    :func:`compare_stream`); the metadata keeps its history for the loss curves."""
    job = Job(task.settings, task.content.load("content image"),
              tuple(s.load("style image") for s in task.styles))
    tally = Tally(job.content, job.styles, job.settings)
    for _, record in stream_methods(job, [task.value]):
        tally.add(task.value, record)
        if on_step is not None:
            on_step(record)
    final = tally.finals[task.value]
    score = tally.histories[task.value][-1]
    return final.image, result_metadata(task.settings, final, extra={
        "history": tally.histories[task.value],
        "score": {k[len("fixed_"):]: v for k, v in score.items() if k.startswith("fixed_")}})


def summarize_outcomes(tasks: Sequence[Task], outcomes: Sequence[Outcome],
                       settings: Settings) -> CompareResult | None:
    """One content and style's comparison from its methods' outcomes (None if all failed)."""
    ok = [(t, o) for t, o in zip(tasks, outcomes) if o.ok]
    if not ok:
        return None
    task = tasks[0]
    finals = {t.value: record_from_metadata(o) for t, o in ok}
    histories = {t.value: o.metadata.get("history", []) for t, o in ok}
    styles = [s.data for s in task.styles]
    # Each task scored its own result (compare_task); one resumed from older files may not have.
    scores = {t.value: o.metadata["score"] for t, o in ok if "score" in o.metadata}
    result = summarize(task.content.data, styles, finals, histories, settings, scores=scores)
    result.failures = {t.value: o.error for t, o in zip(tasks, outcomes) if not o.ok}
    return result

