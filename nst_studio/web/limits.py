"""Serving limits: what one server accepts, read from NST_* environment variables."""
from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from nst_core import estimate
from nst_core.imaging import images
from nst_core.params.registry import get_param
from nst_core.settings import Settings

# Headroom of a ZeroGPU job's duration over its estimate (docs/calibration.md#estimate-accuracy),
# which also covers moving the network to the GPU.
GPU_MARGIN = 2.0
# Least a ZeroGPU job asks for: before its first step the job's worker process starts and the
# network moves to its GPU, which a job's own estimate does not count (a floor chosen to cover
# that start-up, of the order of 15 s; a ZeroGPU Space cannot be measured from here).
GPU_STARTUP_SECONDS = 15
MIN_SIZE = 16  # the engine's smallest output side (settings.validate)
# Gradio's max_file_size format: a whole number and a unit, 1024-based (gradio.utils.FileSize).
_SIZE_RE = re.compile(r"^\s*(\d+)\s*(b|kb|mb|gb)\s*$", re.IGNORECASE)


def _env_value(environ: Mapping[str, str], name: str, convert: Callable[[str], Any],
               what: str) -> Any:
    """The variable converted, None where it is unset or empty; ValueError naming it and what
    it must be."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return convert(raw)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {raw!r}") from None


def _env_seconds(environ: Mapping[str, str], name: str) -> float | None:
    value = _env_value(environ, name, float, "a number of seconds")
    if value is not None and (not value > 0 or value == float("inf")):
        raise ValueError(f"{name} must be > 0 seconds, got {environ[name].strip()}")
    return value


def _env_optional(environ: Mapping[str, str], name: str, minimum: int) -> int | None:
    """An optional whole number: None where the variable is unset or empty."""
    value = _env_value(environ, name, int, "a whole number")
    if value is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _env_int(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    value = _env_optional(environ, name, minimum)
    return default if value is None else value


def _millions(n: int) -> str:
    return f"{n / 1e6:,.0f} million"


def _capped(value: int | None, cap: int) -> int | None:
    return None if value is None else min(value, cap)


@dataclass(frozen=True)
class Limits:
    """What one server accepts. Defaults suit a local machine; a public demo lowers them with
    the environment variables named per field (read by :meth:`from_env`)."""

    max_steps: int = 1000  # NST_MAX_STEPS: largest step budget a job may ask for
    max_size: int = 1024  # NST_MAX_SIZE: largest output side in pixels
    max_styles: int = 3  # NST_MAX_STYLES: style images that can be blended in one job
    # NST_CONCURRENCY: jobs that run at the same time. One per accelerator: two jobs on one
    # device only take turns on it (see jobs.Jobs.device_lock), so more buys no speed there.
    concurrency: int = 1
    max_queue: int = 16  # NST_MAX_QUEUE: jobs that may wait; beyond it new ones are refused
    max_upload: str = "20mb"  # NST_MAX_UPLOAD: largest uploaded file (Gradio's max_file_size)
    # NST_DEFAULT_SIZE, NST_DEFAULT_STEPS: the size and step controls' starting values; None
    # lets nst_studio.web.defaults choose them (and the method schedule) for the device
    default_size: int | None = None
    default_steps: int | None = None
    # NST_GPU_DURATION: the most seconds a ZeroGPU job asks the GPU for; each job asks for its
    # own estimate (see gpu_seconds), and for this much until the GPU's pace is known
    gpu_duration: int = 120
    # NST_MAX_DISK_MB: the most the server's folder of uploads and results may hold (see
    # nst_studio.web.disk: oldest files are removed first)
    max_disk_mb: int = 1024
    # NST_MAX_SECONDS: jobs whose estimated time on this machine (nst_core.estimate) is over
    # this are refused, with a size or step count that fits; None: no limit
    max_seconds: float | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Limits":
        env = os.environ if environ is None else environ
        d = cls()
        max_upload = env.get("NST_MAX_UPLOAD", d.max_upload).strip()
        if not _SIZE_RE.match(max_upload):
            raise ValueError(f"NST_MAX_UPLOAD must look like 20mb, 500kb or 1gb, "
                             f"got {max_upload!r}")
        max_steps = _env_int(env, "NST_MAX_STEPS", d.max_steps, 1)
        max_size = _env_int(env, "NST_MAX_SIZE", d.max_size, MIN_SIZE)
        if max_size > images.MAX_SIDE:
            raise ValueError(f"NST_MAX_SIZE must be <= {images.MAX_SIDE}, got {max_size}")
        return cls(
            max_steps=max_steps, max_size=max_size,
            max_styles=_env_int(env, "NST_MAX_STYLES", d.max_styles, 1),
            concurrency=_env_int(env, "NST_CONCURRENCY", d.concurrency, 1),
            max_queue=_env_int(env, "NST_MAX_QUEUE", d.max_queue, 0),
            max_upload=max_upload,
            default_size=_capped(_env_optional(env, "NST_DEFAULT_SIZE", MIN_SIZE), max_size),
            default_steps=_capped(_env_optional(env, "NST_DEFAULT_STEPS", 1), max_steps),
            gpu_duration=_env_int(env, "NST_GPU_DURATION", d.gpu_duration, 1),
            max_disk_mb=_env_int(env, "NST_MAX_DISK_MB", d.max_disk_mb, 1),
            max_seconds=_env_seconds(env, "NST_MAX_SECONDS"))

    @property
    def max_upload_bytes(self) -> int:
        number, unit = _SIZE_RE.match(self.max_upload).groups()
        return int(number) * 1024 ** ("b", "kb", "mb", "gb").index(unit.lower())

    def caps(self) -> dict[str, int]:
        """The largest value this server allows per Settings field (the form's slider ends)."""
        return {"steps": self.max_steps, "size": self.max_size, "min_size": self.max_size}

    def check(self, settings: Settings, n_styles: int = 1) -> None:
        """ValueError if a job asks for more than this server allows."""
        if n_styles > self.max_styles:
            raise ValueError(f"{n_styles} style images is over this server's limit of "
                             f"{self.max_styles} (NST_MAX_STYLES)")
        if settings.steps > self.max_steps:
            raise ValueError(f"{settings.steps} steps is over this server's limit of "
                             f"{self.max_steps} (NST_MAX_STEPS)")
        if settings.size > self.max_size:
            raise ValueError(f"size {settings.size} px is over this server's limit of "
                             f"{self.max_size} px (NST_MAX_SIZE)")
        self._check_work(settings)

    def _check_work(self, settings: Settings) -> None:
        """Every count of steps a job makes is bounded like its step budget: each multi-scale
        level's, the parameterization's warm-up, and all of them together over the levels and
        tiles, as pixel-steps, by this server's largest plain run (max_steps at max_size)."""
        for k in settings.level_steps or ():
            if k > self.max_steps:
                raise ValueError(f"level_steps {k} is over this server's limit of "
                                 f"{self.max_steps} steps per level (NST_MAX_STEPS)")
        param = get_param(settings.param)
        warm = param.warmup_steps(settings.param_options)
        if warm > self.max_steps:
            raise ValueError(f"{warm} warm-up steps ({settings.param} option "
                             f"{param.warmup_option}) is over this server's limit of "
                             f"{self.max_steps} steps (NST_MAX_STEPS)")
        done = estimate.work(settings)
        most = self.max_steps * self.max_size ** 2
        if done.pixel_steps > most:
            warmups = f" and {done.warmup_steps:,} warm-up steps" if done.warmup_steps else ""
            raise ValueError(
                f"this job makes {done.evaluations:,} steps{warmups} over its levels and "
                f"tiles, {_millions(done.pixel_steps)} pixel-steps: more than this server's "
                f"largest run, {self.max_steps} steps at {self.max_size} px "
                f"({_millions(most)}; NST_MAX_STEPS, NST_MAX_SIZE); try fewer steps, a "
                "smaller size or larger tiles")

    def gpu_seconds(self, settings: Settings | Sequence[Settings], width: int | None = None,
                    height: int | None = None) -> int:
        """Seconds a ZeroGPU job of ``settings`` (one run, or a list run one after the other)
        asks for (``spaces.GPU``'s duration): the estimate with :data:`GPU_MARGIN` headroom,
        at least :data:`GPU_STARTUP_SECONDS` and at most ``gpu_duration``; ``gpu_duration``
        itself while this process knows no pace of the GPU (ZeroGPU lends the GPU only inside
        a job, so it cannot be probed before: it is learnt from finished jobs). Nothing is
        measured here: this runs in the page's process, before the job."""
        runs = [settings] if isinstance(settings, Settings) else list(settings)
        guesses = [estimate.ESTIMATOR.estimate(s, width, height, measure=False) for s in runs]
        if not runs or any(g is None for g in guesses):
            return self.gpu_duration
        wanted = math.ceil(GPU_MARGIN * sum(g.seconds for g in guesses))
        return max(1, min(self.gpu_duration, max(GPU_STARTUP_SECONDS, wanted)))

    def stylize_duration(self, inputs: Any, settings: Settings, *_: Any, **__: Any) -> int:
        """:meth:`gpu_seconds` with a stylize job's arguments (``spaces.GPU`` calls its
        duration with the job function's own arguments)."""
        return self.gpu_seconds(settings, *_content_size(inputs))

    def compare_duration(self, inputs: Any, settings: Settings, chosen: Sequence[str],
                         *_: Any, **__: Any) -> int:
        """:meth:`gpu_seconds` of a comparison's methods, one after the other."""
        from nst_core.methods import parse_method

        runs = [dataclasses.replace(settings, optimizer=o, param=p, lr=None)
                for o, p in map(parse_method, chosen)]
        return self.gpu_seconds(runs, *_content_size(inputs))

    def explore_duration(self, inputs: Any, plan: Any, *_: Any, **__: Any) -> int:
        """:meth:`gpu_seconds` of a sweep's runs (``plan.cells``), one after the other."""
        return self.gpu_seconds([c.settings for c in plan.cells], *_content_size(inputs))


def _content_size(inputs: Any) -> tuple[int | None, int | None]:
    content = getattr(inputs, "content", None)
    return content.size if content is not None else (None, None)
