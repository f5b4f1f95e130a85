"""Job admission: the checks every job of this server passes, from the page or the API, with
the same messages: the settings' own rules, this server's limits, and the estimate of the job's
time and memory on this machine."""
from __future__ import annotations

from nst_core import estimate
from nst_core.engine.device import resolve_device
from nst_core.settings import Settings, validate

from .jobs import JOBS
from .limits import Limits


def check_job(settings: Settings, limits: Limits, n_styles: int) -> None:
    """The checks every job of this server passes, from the page or the API, with the same
    messages: the settings' own rules (a seed the random generator takes and the
    parameterization's options among them), and this server's limits."""
    validate(settings, n_styles=max(n_styles, 1) if settings.style_blend_weights is None
             else n_styles)
    limits.check(settings, n_styles)
    check_memory(settings)
    if limits.max_seconds is not None:
        check_time(settings, limits.max_seconds)


def check_memory(settings: Settings, width: int | None = None, height: int | None = None
                 ) -> None:
    """ValueError if the job's peak memory estimate on this machine (a square of its output
    size unless the content's width and height are given) is over what its device has free.
    Only once the device is calibrated (the server calibrates as it starts): before that no
    cost per pixel is measured to estimate from."""
    device = str(resolve_device(settings.device))
    cal = estimate.ESTIMATOR.known(device)
    free = estimate.free_memory(device)
    if cal is None or cal.observed or free is None:
        return
    guess = estimate.ESTIMATOR.estimate(settings, width, height, lock=JOBS.device_lock(device))
    if guess.peak_bytes > free:
        raise ValueError(f"this job would need about {estimate.human_bytes(guess.peak_bytes)} "
                         f"of memory on this {estimate.device_word(device)}, more than the "
                         f"{estimate.human_bytes(free)} it has free: try a smaller size, "
                         "tiles (tile_size) or a lighter method")


def check_time(settings: Settings, max_seconds: float, width: int | None = None,
               height: int | None = None) -> estimate.Estimate | None:
    """ValueError naming a step count and a size that fit if the job's estimate on this
    machine (a square of its output size unless the content's width and height are given)
    is over ``max_seconds`` (NST_MAX_SECONDS); else the estimate (None where there is none
    yet: a ZeroGPU Space learns its GPU's pace from its first jobs)."""
    lock = JOBS.device_lock(str(resolve_device(settings.device)))
    guess = estimate.ESTIMATOR.estimate(settings, width, height, lock=lock)
    if guess is None or guess.seconds <= max_seconds:
        return guess
    fit = estimate.fitting(settings, max_seconds, width, height, lock=lock)
    options = [f"{fit['steps']} steps" if "steps" in fit else "",
               f"size {fit['size']} px" if "size" in fit else ""]
    hint = " or ".join(o for o in options if o) or "a smaller size and fewer steps"
    raise ValueError(f"this job would take about {estimate.human_seconds(guess.seconds)} on "
                     f"this {estimate.device_word(guess.device)}, over this server's "
                     f"limit of {max_seconds:g} s (NST_MAX_SECONDS): "
                     f"try {hint}")
