"""Everything the web app runs that is not UI: serving limits, the per-device lock, turning form
values into :class:`~nst_core.settings.Settings`, streaming jobs as UI-ready updates, the files a
result is downloaded as, and optional ZeroGPU wrapping.

``app.py`` only lays out components and maps the :class:`Update` records yielded here onto them,
so everything here is testable without a browser and without Gradio (this module never imports
it). Problems with user input raise ValueError with a message meant to be shown as it is.
"""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import itertools
import json
import math
import os
import re
import tempfile
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from PIL import Image

import numpy as np

from . import images, spatial, sweep, vgg
from .compare import compare_stream, method_label, parse_method, summarize
from .engine import LOSS_TERMS, Progress, resolve_device
from .schedule import stylize
from .losses import STYLE_LOSSES
from .schedule import MIN_LEVEL_SIDE
from .optim import OPTIMIZERS
from .params import PARAMETERIZATIONS
from .settings import PRESETS, Settings, from_dict, validate
from .style_losses import DESCRIPTIONS as STYLE_LOSS_DESCRIPTIONS

# ----------------------------------------------------------------------------- serving limits


def _env_int(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


# Gradio's max_file_size format: a whole number and a unit, 1024-based (gradio.utils.FileSize).
_SIZE_RE = re.compile(r"^\s*(\d+)\s*(b|kb|mb|gb)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """What one server accepts. Defaults suit a local machine; a public demo lowers them with
    the environment variables named per field (read by :meth:`from_env`)."""

    max_steps: int = 1000  # NST_MAX_STEPS: largest step budget a job may ask for
    max_size: int = 1024  # NST_MAX_SIZE: largest output side in pixels
    max_styles: int = 3  # NST_MAX_STYLES: style images that can be blended in one job
    # NST_CONCURRENCY: jobs that run at the same time. One per accelerator: two jobs on one
    # device only take turns on it (see device_lock), so more buys no speed there.
    concurrency: int = 1
    max_queue: int = 16  # NST_MAX_QUEUE: jobs that may wait; beyond it new ones are refused
    max_upload: str = "20mb"  # NST_MAX_UPLOAD: largest uploaded file (Gradio's max_file_size)
    default_size: int = 512  # NST_DEFAULT_SIZE: the size control's starting value
    default_steps: int = 300  # NST_DEFAULT_STEPS: the step control's starting value
    gpu_duration: int = 120  # NST_GPU_DURATION: seconds a ZeroGPU job may hold the GPU

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
            default_size=min(_env_int(env, "NST_DEFAULT_SIZE", d.default_size, MIN_SIZE),
                             max_size),
            default_steps=min(_env_int(env, "NST_DEFAULT_STEPS", d.default_steps, 1), max_steps),
            gpu_duration=_env_int(env, "NST_GPU_DURATION", d.gpu_duration, 1))

    @property
    def max_upload_bytes(self) -> int:
        number, unit = _SIZE_RE.match(self.max_upload).groups()
        return int(number) * 1024 ** ("b", "kb", "mb", "gb").index(unit.lower())

    def check(self, settings: Settings) -> None:
        """ValueError if a job asks for more than this server allows."""
        if settings.steps > self.max_steps:
            raise ValueError(f"{settings.steps} steps is over this server's limit of "
                             f"{self.max_steps} (NST_MAX_STEPS)")
        if settings.size > self.max_size:
            raise ValueError(f"size {settings.size} px is over this server's limit of "
                             f"{self.max_size} px (NST_MAX_SIZE)")


MIN_SIZE = 16  # the engine's smallest output side (settings.validate)

# ----------------------------------------------------------------------------- device lock

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def device_lock(device: str) -> threading.Lock:
    """One lock per device name, shared by every job in this process.

    Jobs hold it for one step at a time (see :func:`locked`): a web server frees a cancelled
    job's queue slot at once while its current step still runs, so without the lock the next
    job would start on the same device before the old step ends.
    """
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(device, threading.Lock())


@dataclass
class JobRecord:
    """What the server knows about a job while and after it runs (see :func:`recent_jobs`)."""

    id: int
    kind: str  # "stylize" or "compare"
    device: str
    total: int  # step budget (for compare: per method)
    started: float = field(default_factory=time.monotonic)
    step: int = 0  # last step finished (for compare: steps finished, all methods together)
    updated: float = field(default_factory=time.monotonic)  # time of the last finished step
    in_step: bool = False  # True while a step runs (the device lock is held)
    # running | done | stopped (its stop token interrupted a step) | closed (the consumer
    # stopped iterating: a cancelled web job) | failed
    state: str = "running"


_JOB_IDS = itertools.count(1)
_JOBS: deque[JobRecord] = deque(maxlen=32)


def recent_jobs() -> list[JobRecord]:
    """The last jobs of this process, newest last (for tests and diagnostics)."""
    return list(_JOBS)


class JobStopped(Exception):
    """Raised inside a running step once its job's stop token is set (see :func:`stop_token`)."""


_STOP_TOKENS: dict[str, threading.Event] = {}
_CURRENT = threading.local()  # the stop token of the job this thread is stepping, if any
_STOPPABLE: "weakref.WeakSet[torch.nn.Module]" = weakref.WeakSet()


def stop_token(key: str) -> threading.Event:
    """A fresh stop token for the job about to start under ``key`` (e.g. a browser session)."""
    token = threading.Event()
    with _LOCKS_GUARD:
        _STOP_TOKENS[key] = token
    return token


def request_stop(key: str) -> bool:
    """Ask the job under ``key`` to stop now, mid-step; False if there is none."""
    with _LOCKS_GUARD:
        token = _STOP_TOKENS.get(key)
    if token is None:
        return False
    token.set()
    return True


def _check_stop(*_: Any) -> None:
    token = getattr(_CURRENT, "token", None)
    if token is not None and token.is_set():
        raise JobStopped()


def _conv_pre_hook(module: torch.nn.Module, args: tuple) -> None:
    token = getattr(_CURRENT, "token", None)
    if token is None:
        return  # not a stoppable job (CLI, tests, other threads): no cost beyond this call
    _check_stop()
    x = args[0] if args else None
    if isinstance(x, torch.Tensor) and x.requires_grad:
        # Also checked as the backward pass reaches this layer: a step is about one third
        # forward and two thirds backward.
        x.register_hook(_check_stop)


def make_stoppable(settings: Settings) -> None:
    """Let a stop token interrupt a step between two VGG19 convolutions.

    Cancelling a web job only takes effect between steps, and a step of a large image on a CPU
    takes seconds. Hooks on the cached network's convolutions (shared by every run, see
    ``vgg.FeatureExtractor``) check the current thread's token, forward and backward.
    """
    net = vgg.get_vgg(settings.weights, settings.pooling, resolve_device(settings.device))
    with _LOCKS_GUARD:
        if net in _STOPPABLE:
            return
        _STOPPABLE.add(net)
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_pre_hook(_conv_pre_hook)


def locked(gen: Iterator[Any], device: str, kind: str, total: int,
           stop_key: str | None = None) -> Iterator[Any]:
    """Drive ``gen`` one record at a time with the device lock held around each step.

    The lock is released before each record is handed on, so a consumer that stops iterating
    (a cancelled web job) never holds the device; closing this generator closes ``gen``. If
    ``stop_key``'s token (:func:`stop_token`) is set, the step in progress is interrupted and
    the stream ends.
    """
    lock = device_lock(device)
    with _LOCKS_GUARD:
        token = _STOP_TOKENS.get(stop_key) if stop_key else None
    job = JobRecord(next(_JOB_IDS), kind, device, total)
    _JOBS.append(job)
    try:
        while True:
            ended = None
            with lock:
                job.in_step = True
                _CURRENT.token = token
                try:
                    record = next(gen)
                except StopIteration:
                    ended = "done"
                except JobStopped:
                    ended = "stopped"
                finally:
                    _CURRENT.token = None
                    job.in_step = False
            if ended:
                # Published only once the device lock is released: an ended job never still
                # holds the device (the next job may start the moment it reads this).
                job.state = ended
                return
            # compare streams (method, record) pairs: count them; a plain job has step numbers
            job.step = record.step if isinstance(record, Progress) else job.step + 1
            job.updated = time.monotonic()
            yield record
    except GeneratorExit:
        job.state = "closed"
        raise
    except BaseException:
        job.state = "failed"
        raise
    finally:
        gen.close()


# ----------------------------------------------------------------------------- ZeroGPU


def on_gpu(fn: Callable, duration: int) -> Callable:
    """``spaces.GPU(duration=...)(fn)`` where the Hugging Face ``spaces`` package is installed
    (ZeroGPU Spaces attach a GPU only inside such functions), else ``fn`` itself."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return fn
    return spaces.GPU(duration=duration)(fn)


# ----------------------------------------------------------------------------- choices


OPTIONAL = "default"  # the choice that leaves a field to the engine's own default


def methods() -> list[tuple[str, str]]:
    """(label, "optimizer:param") for every pair the registries can run with a default learning
    rate, parameterization by parameterization: a new registry entry shows up by itself."""
    out = []
    for param_name, param in PARAMETERIZATIONS.items():
        for opt_name in OPTIMIZERS:
            if opt_name in param.lr:
                out.append((method_label(opt_name, param_name), f"{opt_name}:{param_name}"))
    return out


def method_value(settings: Settings) -> str:
    return f"{settings.optimizer}:{settings.param}"


# Form fields, in the order the app passes them. Each maps to one Settings field, except
# "method" (optimizer and param), "preset" (the base settings) and "style_weight_log10".
UI_FIELDS = ("method", "preset", "content_layers", "style_layers", "style_weight_log10",
             "content_weight", "tv_weight", "preserve_color", "init", "size", "steps", "seed",
             "style_loss", "lr", "preview_every", "style_scale", "pooling", "tv_exponent",
             "luminance_space", "precision", "param_options", "edge_preserve", "edge_weight",
             "edge_threshold", "edge_blur", "multiscale", "min_size")

# Bounds of the form controls that are not server limits.
STYLE_WEIGHT_LOG10 = (-2.0, 7.0)  # 1e-2 .. 1e7 covers every balance worth trying at 1e2 default
PREVIEW_EVERY_MAX = 100
# The edge weight the form offers when the edge-preserving loss is switched on: 0 keeps strong
# content edges free of style (the README (Techniques) measured 12% less edge loss than plain at 0).
EDGE_WEIGHT_ON = 0.0


def style_loss_choices() -> list[tuple[str, str]]:
    """(label with its one-line description, name) for every registered style loss."""
    return [(f"{name}: {STYLE_LOSS_DESCRIPTIONS[name]}" if name in STYLE_LOSS_DESCRIPTIONS
             else name, name) for name in STYLE_LOSSES]


def _number(values: Mapping[str, Any], name: str, label: str) -> float:
    value = values.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{label} is empty; enter a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{label} must be a finite number, got {value!r}")
    return number


def _whole(values: Mapping[str, Any], name: str, label: str) -> int:
    number = _number(values, name, label)
    if number != int(number):
        raise ValueError(f"{label} must be a whole number, got {number:g}")
    return int(number)


def parse_param_options(text: Any, param: str) -> dict[str, Any]:
    """JSON object text -> options for the parameterization, checked against its factory's
    keyword arguments so a typo is reported by name instead of failing inside the run."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return {}
    if isinstance(text, Mapping):
        options = dict(text)
    else:
        try:
            options = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"parameterization options are not valid JSON ({exc.msg}); "
                             'write an object such as {"decay_power": 1.0}') from None
        if not isinstance(options, dict):
            raise ValueError('parameterization options must be a JSON object such as '
                             '{"decay_power": 1.0}')
    make = PARAMETERIZATIONS[param].make
    sig = inspect.signature(make)
    if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        accepted = [n for n, p in sig.parameters.items()
                    if p.kind is p.KEYWORD_ONLY and n not in ("generator", "device")]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ValueError(f"parameterization {param!r} has no option(s) {unknown}; it takes: "
                             f"{', '.join(accepted) or 'none'}")
    return options


def settings_from_ui(values: Mapping[str, Any], *, limits: Limits, n_styles: int = 1,
                     blend: Sequence[float] | None = None,
                     base: Settings | None = None, need_style: bool = True) -> Settings:
    """Form values (keys of :data:`UI_FIELDS`) -> validated Settings.

    ``need_style=False`` (content reconstruction) accepts a job without a style image.

    ``base`` (settings loaded from a file, or a previous result) supplies the fields the form
    does not show; without it the preset does. Every form value is applied over that.
    """
    preset = values.get("preset") or "gatys"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from: {', '.join(PRESETS)}")
    method = values.get("method") or method_value(Settings())
    optimizer, param = parse_method(method)
    # Settings loaded from a file (or a previous result) keep every field the form does not
    # show, e.g. per-layer weights or options added by later features; otherwise the preset.
    start = base if base is not None else PRESETS[preset]

    content_layers = tuple(values.get("content_layers") or ())
    style_layers = tuple(values.get("style_layers") or ())
    steps = _whole(values, "steps", "Steps")
    size = _whole(values, "size", "Output size")
    style_weight = 10 ** _number(values, "style_weight_log10", "Style weight (log10)")
    seed = values.get("seed")
    if seed is None or (isinstance(seed, str) and not seed.strip()) or \
            _whole(values, "seed", "Seed") < 0:
        seed = None  # negative or empty: a random seed (the result records the one used)
    else:
        seed = _whole(values, "seed", "Seed")
    lr = values.get("lr")
    if lr is None or (isinstance(lr, str) and not lr.strip()) or \
            _number(values, "lr", "Learning rate") == 0:
        lr = None  # 0 or empty: the parameterization's default for the optimizer
    else:
        lr = _number(values, "lr", "Learning rate")
    preview_every = _whole(values, "preview_every", "Preview every")
    if preview_every < 1:
        raise ValueError("Preview every must be at least 1 step")
    if blend is not None and n_styles > 1:
        style_blend_weights = tuple(float(w) for w in blend)
    else:
        style_blend_weights = None
    changes: dict[str, Any] = dict(
        optimizer=optimizer, param=param, steps=steps, size=size, style_weight=style_weight,
        content_weight=_number(values, "content_weight", "Content weight"),
        tv_weight=_number(values, "tv_weight", "TV weight"), seed=seed, lr=lr,
        preview_every=preview_every,
        style_scale=_number(values, "style_scale", "Style scale"),
        tv_exponent=_number(values, "tv_exponent", "TV exponent"),
        style_blend_weights=style_blend_weights,
        param_options=parse_param_options(values.get("param_options"), param))
    for name in ("preserve_color", "init", "style_loss", "pooling", "luminance_space",
                 "precision"):
        if values.get(name):
            changes[name] = values[name]
    if content_layers or style_layers:
        changes["content_layers"], changes["style_layers"] = content_layers, style_layers
    # Fields added with the issue-5 techniques apply only when the form sends them, so callers
    # that predate them (and settings loaded from files) keep their values.
    if "edge_preserve" in values:
        changes["edge_weight"] = (_number(values, "edge_weight", "Edge weight")
                                  if values["edge_preserve"] else None)
    for name, label in (("edge_threshold", "Edge threshold"), ("edge_blur", "Edge blur")):
        if name in values:
            changes[name] = _number(values, name, label)
    if "multiscale" in values:
        changes["multiscale"] = bool(values["multiscale"])
    if "min_size" in values:
        changes["min_size"] = _whole(values, "min_size", "Multi-scale smallest size")
    for name, layers in (("content_layer_weights", changes.get("content_layers")),
                         ("style_layer_weights", changes.get("style_layers"))):
        weights = getattr(start, name)
        if layers is not None and weights is not None and len(weights) != len(layers):
            changes[name] = None  # weights loaded for other layers no longer apply
    if need_style and style_weight > 0 and n_styles == 0:
        raise ValueError("no style image: upload one (or set the style weight to its minimum "
                         "and the content weight above 0 to reconstruct the content)")
    settings = dataclasses.replace(start, **changes)
    validate(settings, n_styles=max(n_styles, 1) if style_blend_weights is None else n_styles)
    limits.check(settings)
    return settings


def ui_values(settings: Settings, limits: Limits) -> tuple[dict[str, Any], list[str]]:
    """Settings -> form values (the inverse of :func:`settings_from_ui`) and warnings for
    values this server clamps (steps and size over its limits)."""
    notes = []
    steps, size = settings.steps, settings.size
    if steps > limits.max_steps:
        notes.append(f"steps {steps} lowered to this server's limit of {limits.max_steps}")
        steps = limits.max_steps
    if size > limits.max_size:
        notes.append(f"size {size} px lowered to this server's limit of {limits.max_size} px")
        size = limits.max_size
    preset = next((name for name, p in PRESETS.items()
                   if p.content_layers == settings.content_layers
                   and p.style_layers == settings.style_layers), "gatys")
    values = {
        "method": method_value(settings), "preset": preset,
        "content_layers": list(settings.content_layers),
        "style_layers": list(settings.style_layers),
        "style_weight_log10": math.log10(settings.style_weight)
        if settings.style_weight > 0 else STYLE_WEIGHT_LOG10[0],
        "content_weight": settings.content_weight, "tv_weight": settings.tv_weight,
        "preserve_color": settings.preserve_color, "init": settings.init, "size": size,
        "steps": steps, "seed": -1 if settings.seed is None else settings.seed,
        "style_loss": settings.style_loss, "lr": settings.lr or 0,
        "preview_every": min(max(settings.preview_every, 1), PREVIEW_EVERY_MAX),
        "style_scale": settings.style_scale, "pooling": settings.pooling,
        "tv_exponent": settings.tv_exponent, "luminance_space": settings.luminance_space,
        "precision": settings.precision,
        "param_options": json.dumps(dict(settings.param_options)) if settings.param_options
        else "",
        "edge_preserve": settings.edge_weight is not None,
        "edge_weight": EDGE_WEIGHT_ON if settings.edge_weight is None else settings.edge_weight,
        "edge_threshold": settings.edge_threshold, "edge_blur": settings.edge_blur,
        "multiscale": settings.multiscale,
        # the form's slider starts at the smallest level multiscale makes (MIN_LEVEL_SIDE)
        "min_size": min(max(settings.min_size, MIN_LEVEL_SIDE), limits.max_size)}
    return {k: v for k, v in values.items() if k in UI_FIELDS}, notes


def preset_values(name: str, limits: Limits) -> dict[str, Any]:
    """Form values a preset sets: its layers, and every field it changes from the defaults."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from: {', '.join(PRESETS)}")
    preset, default = PRESETS[name], Settings()
    values, _ = ui_values(preset, limits)
    default_values, _ = ui_values(default, limits)
    keep = {"content_layers", "style_layers"}
    return {k: v for k, v in values.items()
            if k in keep or (k not in ("preset",) and v != default_values[k])}


def default_values(limits: Limits) -> dict[str, Any]:
    values, _ = ui_values(dataclasses.replace(Settings(), size=limits.default_size,
                                              steps=limits.default_steps), limits)
    return values


# ----------------------------------------------------------------------------- inputs


def check_upload(path: str | os.PathLike, label: str) -> str:
    """A clear message for an upload the image reader refuses (for the app's upload hook)."""
    try:
        images.load_image(path, name=label)
    except images.ImageError as exc:
        return str(exc)
    return f"{label}: could not be read as an image"


def collect_styles(styles: Sequence[Any], weights: Sequence[Any]) -> tuple[list[Any], list[float]]:
    """The style slots that hold an image, with their blend weights."""
    chosen, blend = [], []
    for i, (style, weight) in enumerate(zip(styles, weights)):
        if style is None:
            continue
        try:
            w = float(weight if weight not in (None, "") else 1.0)
        except (TypeError, ValueError):
            raise ValueError(f"blend weight of style {i + 1} must be a number, "
                             f"got {weight!r}") from None
        if not (w >= 0 and math.isfinite(w)):
            raise ValueError(f"blend weight of style {i + 1} must be >= 0, got {weight!r}")
        chosen.append(style)
        blend.append(w)
    if len(chosen) > 1 and sum(blend) <= 0:
        raise ValueError("every style's blend weight is 0; give at least one a weight above 0")
    return chosen, blend


def load_inputs(content: Any, styles: Sequence[Any], need_content: bool = True
                ) -> tuple[Image.Image | None, list[Image.Image]]:
    """Read and check the uploaded images once, with messages naming each one.
    ``need_content=False`` (texture synthesis) accepts a missing content image."""
    if content is None and need_content:
        raise ValueError("no content image: upload one (or pick an example)")
    content_img = None if content is None else images.load_image(content, name="content image")
    style_imgs = [images.load_image(s, name="style image" if len(styles) == 1
                                    else f"style image {i + 1}") for i, s in enumerate(styles)]
    return content_img, style_imgs


# ----------------------------------------------------------------------------- spatial masks


def mask_canvas(content: Any) -> dict[str, Any] | None:
    """The value of a mask painter: the content image as its background, nothing painted."""
    if content is None:
        return None
    return {"background": content, "layers": [], "composite": content}


def _as_pil(image: Any) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return Image.fromarray(image)
    return Image.open(image)  # a file path (an editor with type="filepath")


def painted_mask(value: Any) -> Image.Image | None:
    """A mask painter's value (``{"background", "layers", "composite"}``) -> the painted area
    as a greyscale mask (white = painted: the union of every layer's opaque pixels), or None
    when nothing is painted. The background (the content image) is not part of the mask."""
    if not value or not isinstance(value, Mapping):
        return None
    alpha = None
    for layer in value.get("layers") or ():
        if layer is None:
            continue
        pil = _as_pil(layer)
        a = np.asarray(pil.convert("RGBA"))[..., 3]
        alpha = a if alpha is None or alpha.shape != a.shape else np.maximum(alpha, a)
    if alpha is None or not alpha.any():
        return None
    return Image.fromarray(alpha, "L")


def collect_masks(styles: Sequence[Any], painted: Sequence[Any], uploaded: Sequence[Any]
                  ) -> list[Any] | None:
    """One mask per style slot that holds an image (an uploaded mask wins over a painted one),
    or None when no slot has a mask (no spatial control). Masks must be given for every style
    or for none: the engine gives unmasked areas no style, so a style without a mask would
    simply never apply."""
    n = len(styles)
    painted = list(painted) + [None] * (n - len(painted))
    uploaded = list(uploaded) + [None] * (n - len(uploaded))
    masks, missing = [], []
    for i in range(n):
        mask = uploaded[i] if uploaded[i] is not None else painted_mask(painted[i])
        if styles[i] is None:
            if mask is not None:
                raise ValueError(f"mask {i + 1} is for an empty style slot: upload style image "
                                 f"{i + 1} or clear its mask")
            continue
        masks.append(mask)
        if mask is None:
            missing.append(i + 1)
    if len(missing) == len(masks):
        return None
    if missing:
        which = ", ".join(map(str, missing))
        raise ValueError(f"style image {which} has no mask: with spatial control every style "
                         "needs one (white/painted = where that style applies; areas no mask "
                         "covers get no style)")
    return masks


def check_masks(masks: Sequence[Any] | None, content: Image.Image | None) -> None:
    """Read every mask once against the content image's shape, so an unreadable, empty or
    wrongly shaped mask is reported before the job starts (the engine's messages)."""
    if masks is None or content is None:
        return
    spatial.load_masks(list(masks), len(masks), (content.height, content.width))


# ----------------------------------------------------------------------------- result files

_OUT_DIR: Path | None = None
KEEP_FILES_SECONDS = 3600  # result files older than this are deleted when new ones are made


def output_dir() -> Path:
    """A per-process folder under the system temp dir (which Gradio serves files from)."""
    global _OUT_DIR
    if _OUT_DIR is None:
        _OUT_DIR = Path(tempfile.mkdtemp(prefix="nst_studio_"))
    now = time.time()
    for old in _OUT_DIR.glob("*"):
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > KEEP_FILES_SECONDS:
                old.unlink()
    return _OUT_DIR


def result_metadata(settings: Settings, record: Progress, info: Mapping[str, Any],
                    stopped: bool = False) -> dict[str, Any]:
    """What a result PNG carries: the settings to rerun it (with the seed actually used) and
    how it went. Same layout as the CLI's (``settings``, ``losses``), plus ``run``."""
    used = dataclasses.replace(settings, seed=info.get("seed", settings.seed))
    run = {k: v for k, v in info.items() if isinstance(v, (int, float, str, list))}
    run.update(step=record.step, stopped=stopped)
    return {"settings": used.to_dict(), "losses": dict(record.losses), "run": run}


def save_result(image: Image.Image, metadata: Mapping[str, Any]) -> tuple[str, str]:
    """Write the PNG (settings embedded as a text chunk) and the settings JSON beside it."""
    out = output_dir()
    stem = f"nst_{time.strftime('%Y%m%d_%H%M%S')}_{next(_JOB_IDS)}"
    png, js = out / f"{stem}.png", out / f"{stem}.json"
    images.save_png(image, png, dict(metadata))
    js.write_text(json.dumps(metadata, indent=1, sort_keys=True))
    return str(png), str(js)


def load_settings_file(path: str | os.PathLike) -> Settings:
    """Settings from a PNG made here (or by the CLI) or a settings JSON file.

    The device and weights source are this server's own, whatever the file says.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path.name}: file not found")
    raw = path.read_bytes()
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        data = images.read_png_settings(raw)
    else:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"{path.name}: neither a PNG made by this tool nor a settings "
                             "JSON file") from None
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: the settings must be a JSON object")
    server = Settings()
    data = {k: v for k, v in data.items() if k not in ("device", "weights")}
    known = {f.name for f in dataclasses.fields(Settings)}
    data = {k: v for k, v in data.items() if k in known}  # fields of other versions are dropped
    settings = from_dict(data, dataclasses.replace(server))
    n_styles = len(settings.style_blend_weights or ()) or 1
    validate(settings, n_styles=n_styles)
    return settings


def settings_from_json(text: str | None, limits: Limits, n_styles: int) -> Settings:
    """Settings for an API call: a JSON object of Settings fields over the defaults (the same
    object a result's settings JSON holds, or its ``settings`` part)."""
    data: Any = {}
    if text and text.strip():
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"settings are not valid JSON ({exc.msg} at position {exc.pos})") \
                from None
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]
    if not isinstance(data, dict):
        raise ValueError("settings must be a JSON object of Settings fields, e.g. "
                         '{"steps": 100, "size": 256}')
    for server_field in ("device", "weights"):
        data.pop(server_field, None)
    settings = from_dict(data, dataclasses.replace(Settings(), size=limits.default_size,
                                                   steps=limits.default_steps))
    validate(settings, n_styles=n_styles)
    limits.check(settings)
    if settings.style_weight > 0 and n_styles == 0:
        raise ValueError("no style image: send at least one (or set style_weight to 0)")
    return settings


# ----------------------------------------------------------------------------- streaming jobs

UI_UPDATE_SECONDS = 0.25  # the status line refreshes at most this often (previews always show)
# The loss plot is drawn on the server (about 0.1 s of matplotlib on one CPU core), so less often.
PLOT_UPDATE_SECONDS = 1.0


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
                f"loss {p.losses['total']:.3g}")
    pct = 100 * p.step / max(p.total, 1)
    return (f"step {p.step}/{p.total} ({pct:.0f}%){pace} · ETA {_duration(p.eta)} · "
            f"loss {p.losses['total']:.3g}")


class LossHistory:
    """Loss values per named series (a loss term, or a method) against step, for live plots."""

    def __init__(self) -> None:
        self.series: dict[str, tuple[list[int], list[float]]] = {}

    def add(self, name: str, step: int, value: float) -> None:
        steps, values = self.series.setdefault(name, ([], []))
        steps.append(step)
        values.append(value)

    def add_terms(self, p: Progress) -> None:
        for term in LOSS_TERMS:
            self.add(term, p.step, p.losses.get(term, 0.0))

    def figure(self, ylabel: str = "loss"):
        """A matplotlib Figure: every series against step, log scale (the terms span orders of
        magnitude; a linear axis would show only the largest). Values <= 0 are left out."""
        from matplotlib.figure import Figure  # no pyplot: no global state in a web server

        fig = Figure(figsize=(7, 2.8), dpi=100)
        ax = fig.subplots()
        drawn = 0
        for name, (steps, values) in self.series.items():
            points = [(x, y) for x, y in zip(steps, values) if y > 0 and math.isfinite(y)]
            if points:
                # The total is drawn dashed on top, so the term it mostly equals stays visible.
                look = dict(color="black", linestyle="--", linewidth=1) if name == "total" else {}
                ax.plot(*zip(*points), label=name, marker="." if len(points) < 30 else None,
                        **look)
                drawn += 1
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        if drawn:
            ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        return fig


@dataclass
class Update:
    """One change for the page. ``None`` fields are unchanged."""

    preview: Image.Image | None = None  # the image to show now (preview, or the result)
    status: str | None = None  # markdown line: step/total, pace, ETA, loss
    plot: Any = None  # matplotlib Figure of every loss term so far
    done: bool = False
    png: str | None = None  # result file with the settings embedded (on done)
    settings_json: str | None = None  # the settings as a JSON file (on done)
    state: dict[str, Any] | None = None  # what Stop and "reuse settings" need (see stop_result)
    progress: dict[str, Any] | None = None  # step, total, elapsed, eta, losses (API output)


def _progress_dict(p: Progress) -> dict[str, Any]:
    return {"step": p.step, "total": p.total, "elapsed": round(p.elapsed, 3),
            "eta": None if p.eta is None else round(p.eta, 3), "losses": dict(p.losses),
            "done": p.done}


def device_name(settings: Settings) -> str:
    return str(resolve_device(settings.device))


def stylize_updates(content: Any, styles: Sequence[Any], settings: Settings,
                    stop_key: str | None = None, masks: Sequence[Any] | None = None
                    ) -> Iterator[Update]:
    """Run one job and yield :class:`Update` records: one per step (so a web server can cancel
    between any two steps), with a status line at most every UI_UPDATE_SECONDS and at every
    preview, and the loss plot at most every PLOT_UPDATE_SECONDS. The last update holds the
    result files. ``masks`` (one per style) place each style (spatial control)."""
    style_arg = list(styles) if len(styles) != 1 else styles[0]
    if stop_key:
        make_stoppable(settings)
    gen = locked(stylize(content, style_arg if styles else None, settings,
                         masks=list(masks) if masks else None),
                 device_name(settings), "stylize", settings.steps, stop_key)
    history = LossHistory()
    last_ui = last_plot = 0.0
    state: dict[str, Any] = {"settings": settings.to_dict(), "step": 0}
    info: dict[str, Any] = {}
    with contextlib.closing(gen):
        for p in gen:
            if p.step == 0:
                info = dict(p.info)
            history.add_terms(p)
            now = time.monotonic()
            update = Update(progress=_progress_dict(p))
            if p.preview is not None or p.done or now - last_ui >= UI_UPDATE_SECONDS:
                last_ui = now
                update.status = status_line(p)
            if p.done or now - last_plot >= PLOT_UPDATE_SECONDS:
                last_plot = now
                update.plot = history.figure()
            if p.preview is not None:
                update.preview = p.preview
                state = {"settings": settings.to_dict(), "step": p.step, "preview": p.preview,
                         "losses": dict(p.losses), "info": info, "total": p.total}
                update.state = state
            if p.done:
                meta = result_metadata(settings, p, p.info)
                update.png, update.settings_json = save_result(p.image, meta)
                update.done = True
                state = dict(state, done=True, metadata=meta)
                update.state = state
            yield update


def stop_result(state: Mapping[str, Any] | None) -> tuple[str | None, str | None, str]:
    """After Stop: the last preview as the result (PNG with settings, settings JSON) and a
    status line. A job stopped before its first preview has nothing to keep."""
    if not state or state.get("preview") is None:
        return None, None, "Stopped before the first preview: nothing to keep."
    if state.get("done"):
        return None, None, "The job had already finished."
    settings = from_dict(state["settings"])
    record = Progress(state["step"], state.get("total", settings.steps), 0.0, state["losses"])
    meta = result_metadata(settings, record, state.get("info", {}), stopped=True)
    png, js = save_result(state["preview"], meta)
    return png, js, (f"**Stopped** at step {state['step']}/{record.total}: the last preview is "
                     "the result.")


def state_settings(state: Mapping[str, Any] | None) -> Settings:
    """The settings of the last job (with the seed it used), for "reuse these settings"."""
    if not state or "settings" not in state:
        raise ValueError("no result yet: run a job first")
    settings = from_dict(state["settings"])
    seed = (state.get("info") or {}).get("seed")
    return dataclasses.replace(settings, seed=seed) if seed is not None else settings


# ----------------------------------------------------------------------------- compare


@dataclass
class CompareUpdate:
    """One change for the Compare tab. ``None`` fields are unchanged."""

    gallery: list[tuple[Image.Image, str]] | None = None  # latest image per method, captioned
    status: str | None = None
    plot: Any = None  # matplotlib Figure: total loss per method against step
    table: list[list[Any]] | None = None  # final rows, once all are done
    table_headers: tuple[str, ...] = ("method", "final loss", "content", "style", "tv",
                                      "seconds", "s/step", "parameters")
    grid: Image.Image | None = None  # the labelled grid from compare.summarize, at the end
    curves: Image.Image | None = None  # loss vs step and vs seconds, at the end
    json_path: str | None = None  # numbers of the comparison as JSON, at the end


def compare_updates(content: Any, styles: Sequence[Any], settings: Settings,
                    chosen: Sequence[str], stop_key: str | None = None
                    ) -> Iterator[CompareUpdate]:
    """Run every chosen method with the same settings and budget, interleaved step by step
    (:func:`nst_core.compare.compare_stream`), and yield Compare-tab updates."""
    if not chosen:
        raise ValueError("pick at least one method to compare")
    keys = [f"{o}:{p}" for o, p in map(parse_method, chosen)]
    labels = {k: method_label(*parse_method(k)) for k in keys}
    style_arg = list(styles) if len(styles) != 1 else styles[0]
    if stop_key:
        make_stoppable(settings)
    gen = locked(compare_stream(content, style_arg if styles else None, settings, keys),
                 device_name(settings), "compare", settings.steps, stop_key)
    latest: dict[str, tuple[Image.Image, str]] = {}
    steps = {k: 0 for k in keys}
    finals: dict[str, Progress] = {}
    histories: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    plot = LossHistory()
    last_ui = last_plot = 0.0
    with contextlib.closing(gen):
        for method, p in gen:
            steps[method] = p.step
            histories[method].append({"step": p.step, "seconds": round(p.elapsed, 4),
                                      **p.losses})
            plot.add(labels[method], p.step, p.losses["total"])
            if p.preview is not None:
                latest[method] = (p.preview, f"{labels[method]} · step {p.step} · "
                                             f"loss {p.losses['total']:.3g}")
            if p.done:
                finals[method] = p
            update = CompareUpdate()
            now = time.monotonic()
            if p.preview is not None or p.done or now - last_ui >= UI_UPDATE_SECONDS:
                last_ui = now
                done_steps = sum(steps.values())
                update.status = (f"{len(finals)}/{len(keys)} methods done · "
                                 f"{done_steps}/{settings.steps * len(keys)} steps")
                update.gallery = [latest[k] for k in keys if k in latest]
            if now - last_plot >= PLOT_UPDATE_SECONDS:
                last_plot = now
                update.plot = plot.figure("total loss")
            yield update
    if len(finals) < len(keys):
        return  # stopped: the page keeps the images it has
    result = summarize(content, style_arg if styles else None, finals, histories, settings)
    table = [[r["label"], r["losses"]["total"], r["losses"]["content"], r["losses"]["style"],
              r["losses"]["tv"], round(r["seconds"], 3), round(r["seconds_per_step"], 4),
              r["parameters"]] for r in result.rows]
    path = output_dir() / f"compare_{time.strftime('%Y%m%d_%H%M%S')}_{next(_JOB_IDS)}.json"
    path.write_text(result.to_json())
    yield CompareUpdate(gallery=[latest[k] for k in keys if k in latest],
                        status=f"**Done:** {len(keys)} methods × {settings.steps} steps",
                        plot=plot.figure("total loss"), table=table, grid=result.grid,
                        curves=result.curves, json_path=str(path))


# ----------------------------------------------------------------------------- explore

EXPLORE_MODES = (("Stylize sweep", "stylize"), ("Content reconstruction", "reconstruct"),
                 ("Texture synthesis", "texture"))
EXPLORE_MAX_CELLS = 12  # cells in one sweep: each is a full run, one after the other
# Settings first offered in the "vary" list; every other one sweep.check_vary accepts follows.
_VARY_FIRST = ("style_weight", "preset", "method", "style_loss", "content_layers",
               "style_layers", "content_weight", "tv_weight", "edge_weight", "steps", "size",
               "init", "preserve_color", "seed", "param", "optimizer", "pooling")
_VARY_EXAMPLES = {
    "style_weight": "1; 1e2; 1e4",
    "content_weight": "0.1; 1; 10",
    "tv_weight": "0; 1e5; 1e6",
    "edge_weight": "none; 0; 0.5",
    "content_layers": "relu1_2; relu2_2; relu3_2; relu4_2; relu5_2",
    # Gatys et al. 2016 fig. 1: style from conv1_1, then conv1_1..conv2_1, ..., conv1_1..conv5_1.
    "style_layers": "; ".join(",".join(f"relu{k}_1" for k in range(1, n + 1))
                              for n in range(1, 6)),
    "steps": "10; 30; 100",
    "seed": "0; 1; 2",
}


def vary_choices() -> list[str]:
    """Everything :func:`nst_core.sweep.check_vary` accepts, the common choices first."""
    # device and weights are the server's own (see settings_from_json): never swept.
    names = sorted({f.name for f in dataclasses.fields(Settings)}
                   - {"param_options", "device", "weights"})
    names += list(sweep.SPECIAL)
    for name in names:
        sweep.check_vary(name)
    return [n for n in _VARY_FIRST if n in names] + [n for n in names if n not in _VARY_FIRST]


def vary_example(vary: str) -> str:
    """Values worth trying for ``vary``, as the form's text (registries list their entries)."""
    if vary in _VARY_EXAMPLES:
        return _VARY_EXAMPLES[vary]
    if vary == "preset":
        return "; ".join(PRESETS)
    if vary == "method":
        return "; ".join(v for _, v in methods()[:3])
    registry = {"style_loss": STYLE_LOSSES, "param": PARAMETERIZATIONS,
                "optimizer": OPTIMIZERS}.get(vary)
    if registry is not None:
        return "; ".join(registry)
    choices = {"init": ("content", "noise", "style"), "pooling": vgg.POOLINGS,
               "preserve_color": ("none", "luminance", "histogram")}.get(vary)
    if choices:
        return "; ".join(choices)
    return str(getattr(Settings(), vary, ""))


def explore_defaults(mode: str) -> tuple[str, str]:
    """The setting to vary and its values when a mode is picked: reconstruction and texture
    synthesis are most telling layer by layer (Gatys et al. 2016, fig. 1)."""
    vary = {"reconstruct": "content_layers", "texture": "style_layers"}.get(mode, "style_weight")
    return vary, vary_example(vary)


def parse_values(vary: str, text: Any) -> list[str]:
    """The values text -> one string per value: separated by new lines or ";" (commas join the
    layers of one value), or by commas when ``vary`` is not a list-valued setting."""
    sweep.check_vary(vary)
    if isinstance(text, (list, tuple)):
        parts = [str(v) for v in text]
    else:
        parts = re.split(r"[;\n]", str(text or ""))
        listy = vary in sweep._STR_TUPLES or vary in sweep._FLOAT_TUPLES
        if len([p for p in parts if p.strip()]) == 1 and not listy:
            parts = parts[0].split(",")
    values = [p.strip() for p in parts if p.strip()]
    if not values:
        raise ValueError(f"no values to try for {vary}: enter some, separated by ';' "
                         f"(e.g. {vary_example(vary) or '1; 2'})")
    if len(values) > EXPLORE_MAX_CELLS:
        raise ValueError(f"{len(values)} values: at most {EXPLORE_MAX_CELLS} per sweep (each is "
                         "a full run)")
    return values


def explore_plan(settings: Settings, mode: str, vary: str, values: Sequence[str],
                 limits: Limits, n_styles: int) -> list[Settings]:
    """Every cell's settings, checked (the engine's rules and this server's limits) before
    the first run starts."""
    base = sweep.mode_settings(settings, mode)
    cells = []
    for raw in values:
        value = sweep.parse_value(vary, raw)
        label = sweep.label_for(vary, value)
        if vary not in vary_choices():
            raise ValueError(f"cannot vary {vary!r} here; choose from: "
                             f"{', '.join(vary_choices())}")
        cell = sweep.cell_settings(base, vary, value)
        try:
            validate(cell, n_styles=max(n_styles, 1) if cell.style_blend_weights is None
                     else n_styles)
            limits.check(cell)
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        cells.append(cell)
    return cells


@dataclass
class ExploreUpdate:
    """One change for the Explore tab. ``None`` fields are unchanged."""

    gallery: list[tuple[Image.Image, str]] | None = None  # finished cells + the running one
    status: str | None = None
    grid: Image.Image | None = None  # the labelled grid, at the end
    grid_png: str | None = None  # the grid as a PNG with the sweep's settings and numbers


def explore_updates(content: Any, styles: Sequence[Any], settings: Settings, mode: str,
                    vary: str, values: Sequence[str], *, masks: Sequence[Any] | None = None,
                    columns: int | None = None, limits: Limits | None = None,
                    stop_key: str | None = None) -> Iterator[ExploreUpdate]:
    """Run a sweep (:func:`nst_core.sweep.sweep`: one run per value, in an explore mode) and
    yield Explore-tab updates: the finished cells and the running cell's latest preview as
    they come, then the labelled grid and its PNG."""
    values = parse_values(vary, values)
    cells = explore_plan(settings, mode, vary, values, limits or Limits(), len(styles))
    style_arg = None if not styles else (list(styles) if len(styles) > 1 else styles[0])
    if stop_key:
        make_stoppable(settings)
    total = sum(c.steps for c in cells)  # an estimate for the job record: levels add steps
    gen = locked(sweep.sweep(content, style_arg, settings, vary, values, mode=mode,
                             masks=list(masks) if masks else None, columns=columns or None),
                 device_name(settings), "explore", total, stop_key)
    mode_names = {v: k for k, v in EXPLORE_MODES}
    finished: list[tuple[Image.Image, str]] = []
    last_ui = 0.0
    with contextlib.closing(gen):
        for rec in gen:
            if rec.done:
                meta = {"settings": settings.to_dict(),
                        "sweep": {"vary": vary, "mode": mode, "cells": rec.results}}
                path = output_dir() / f"explore_{time.strftime('%Y%m%d_%H%M%S')}_" \
                                      f"{next(_JOB_IDS)}.png"
                images.save_png(rec.grid, path, json.loads(json.dumps(meta, default=str)))
                yield ExploreUpdate(gallery=list(finished), grid=rec.grid, grid_png=str(path),
                                    status=f"**Done:** {rec.cells} runs of {vary} "
                                           f"({mode_names[mode].lower()})")
                return
            p = rec.progress
            update = ExploreUpdate()
            now = time.monotonic()
            if rec.image is not None:
                finished.append((rec.image, rec.label))
                update.gallery = list(finished)
            elif p is not None and p.preview is not None:
                update.gallery = finished + [(p.preview, f"{rec.label} · step {p.step}")]
            if update.gallery is not None or now - last_ui >= UI_UPDATE_SECONDS:
                last_ui = now
                update.status = (f"run {rec.cell + 1}/{rec.cells} · {rec.label} · "
                                 f"step {p.step}/{p.total}" if p is not None else None)
            yield update


__all__ = ["Limits", "device_lock", "locked", "recent_jobs", "on_gpu", "methods", "UI_FIELDS",
           "settings_from_ui", "ui_values", "preset_values", "default_values", "check_upload",
           "collect_styles", "load_inputs", "save_result", "load_settings_file",
           "settings_from_json", "stylize_updates", "stop_result", "state_settings",
           "compare_updates", "Update", "CompareUpdate", "status_line", "LossHistory",
           "JobStopped", "stop_token", "request_stop", "make_stoppable", "style_loss_choices",
           "mask_canvas", "painted_mask", "collect_masks", "check_masks", "EXPLORE_MODES",
           "vary_choices", "vary_example", "explore_defaults", "parse_values", "explore_plan",
           "explore_updates", "ExploreUpdate"]
