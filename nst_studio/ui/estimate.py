"""The time and memory estimate next to Run ("about 40 s, 1.2 GB on this CPU"), updated as the
images and settings change, and the finished jobs' pace that refines it
(:mod:`nst_core.estimate`)."""
from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any, Callable, Iterator

import gradio as gr
from PIL import Image

from nst_core.engine.device import resolve_device
from nst_core.estimate import ESTIMATOR, human_seconds
from nst_studio.web import forms
from nst_studio.web.jobs import JOBS, zero_gpu
from nst_studio.web.limits import Limits

from .panel import Panel

PENDING = "Estimate: pick a content image."
# A ZeroGPU Space's page has no GPU to measure (it exists only inside jobs): the first job
# teaches the estimate its pace.
UNKNOWN = ("**Estimate:** known after the first job (this Space's GPU is lent only while a job "
           "runs, and its pace is learnt from jobs)")


def _shape(path: Any) -> tuple[int | None, int | None]:
    """The content's width and height from its header (no pixels decoded), if readable."""
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError, TypeError, AttributeError):
        return None, None


def _form_settings(panel: Panel, data: dict, limits: Limits) -> Any:
    """The settings as Run reads them (the time limit included: a refusal shows here)."""
    form = {name: data[c] for name, c in panel.form.items()}
    return forms.settings_from_form(form, limits=limits, n_styles=1, base=data[panel.base],
                                    need_style=False, cls=panel.cls)


def _guess(settings: Any, width: int | None, height: int | None) -> Any:
    lock = JOBS.device_lock(str(resolve_device(settings.device)))
    return ESTIMATOR.estimate(settings, width, height, lock=lock)


def text(panel: Panel, data: dict, limits: Limits) -> str:
    """The estimate line for the form's values, or why there is none."""
    try:
        settings = _form_settings(panel, data, limits)
        width, height = _shape(data[panel.content])
        guess = _guess(settings, width, height)
    except ValueError as exc:
        return f"**Estimate:** {exc}"
    if guess is None:
        return UNKNOWN
    where = "" if width else " (for a square content image)"
    return f"**Estimate:** {guess.text()} for {describe(guess, settings)}{where}"


def runs_text(panel: Panel, data: dict, limits: Limits,
              runs: Callable[[Any], list[tuple[str, Any]]], what: str,
              scoring: Callable[[Any, int | None, int | None], float] | None = None) -> str:
    """The estimate line of a job of several runs (Compare's methods, Explore's cells):
    ``runs(settings)`` -> (label, settings) of each run, one after the other; ``scoring``
    (settings, width, height) -> the seconds spent scoring each run besides its own."""
    try:
        chosen = runs(_form_settings(panel, data, limits))
        width, height = _shape(data[panel.content])
        guesses = [(label, _guess(s, width, height)) for label, s in chosen]
        scored = sum(scoring(s, width, height) for _, s in chosen) if scoring else 0.0
    except ValueError as exc:
        return f"**Estimate:** {exc}"
    if not guesses:
        return f"**Estimate:** no {what} chosen"
    if any(g is None for _, g in guesses):
        return UNKNOWN
    first = guesses[0][1]
    total = dataclasses.replace(first, seconds=sum(g.seconds for _, g in guesses) + scored,
                                peak_bytes=max(g.peak_bytes for _, g in guesses))
    parts = "; ".join(f"{label}: {human_seconds(g.seconds)}" for label, g in guesses)
    if scored:
        parts += f"; scoring: {human_seconds(scored)}"
    warm = sum(g.warmup_seconds for _, g in guesses)
    names = list(dict.fromkeys(_warm_name(s.param) for (_, s), (_, g) in zip(chosen, guesses)
                               if g.warmup_seconds))
    warmed = (f"; the {' and '.join(names)} warm-up{'s' if len(names) > 1 else ''} "
              f"take{'' if len(names) > 1 else 's'} about {human_seconds(warm)} of it, shown as "
              "its own progress") if warm else ""
    return (f"**Estimate:** {total.text()} for {len(guesses)} {what}, one after the other "
            f"({parts}){warmed}")


def _warm_name(param: str) -> str:
    """A parameterization with a warm-up as the page names it (its acronym: DIP, CPPN)."""
    return str(param).upper() if param in ("dip", "cppn") else str(param)


def describe(guess: Any, settings: Any) -> str:
    """What the estimate counts, in a visitor's words: the steps of each level of a
    multi-scale run (why the total exceeds Steps), and a warm-up's share."""
    text = f"{guess.evaluations} steps"
    if len(guess.level_steps) > 1:
        parts = ", then ".join(f"{n} at {side} px" for side, n in guess.level_steps)
        text += f" ({parts}: multi-scale, set in Advanced)"
    if guess.warmup_steps:
        name = _warm_name(settings.param)
        text += (f"; first the {name} warm-up ({guess.warmup_steps} steps, about "
                 f"{human_seconds(guess.warmup_seconds)}, shown as its own progress)")
    return text


def build(panel: Panel, limits: Limits, elem_id: str = "estimate",
          compute: Callable[[dict], str] | None = None, extra: Any = ()) -> gr.Markdown:
    """The estimate line (inside the caller's layout), updated when the page loads and when
    any image or setting changes (or one of ``extra``, a tab's own inputs). ``compute``
    makes the line from the event's values (the Stylize tab's run without one)."""
    line = gr.Markdown(PENDING, elem_id=elem_id)
    compute = compute or (lambda data: text(panel, data, limits))
    # Outside the queue: every change of every tab's inputs asks for an estimate, and queued
    # they would take the places of jobs in the queue (NST_MAX_QUEUE) and, once it is full,
    # be refused with "busy" errors on the page. The estimator has its own locks; a probe
    # holds the device lock, so it never shares the device with a job's step.
    gr.on(None, compute, {panel.content, panel.base, *panel.form.values(), *extra}, line,
          api_visibility="private", show_progress="hidden", trigger_mode="always_last",
          queue=False)
    return line


def paced(updates: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """``updates`` (a stylize job's stream) that tells the estimator how long a finished job
    took, so the next estimates follow this machine's present pace."""

    def timed(inputs: Any, settings: Any, **kwargs: Any) -> Iterator[Any]:
        start = time.monotonic()
        for update in updates(inputs, settings, **kwargs):
            if getattr(update, "done", False) and inputs.content is not None:
                ESTIMATOR.record(settings, *inputs.content.size, time.monotonic() - start)
            yield update

    return timed


def warm_up() -> threading.Thread | None:
    """Calibrate this machine in the background as the server starts, so a visitor's first
    estimate is ready (a job's steps go on between the probes). Not on a ZeroGPU Space: its
    GPU exists only inside jobs, whose pace teaches the estimator (which never probes there:
    see app.py)."""
    if zero_gpu():
        return None
    device = str(resolve_device("auto"))
    thread = threading.Thread(target=ESTIMATOR.calibration,
                              args=(device, JOBS.device_lock(device)), daemon=True,
                              name="nst-calibration")
    thread.start()
    return thread
