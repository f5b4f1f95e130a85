"""The engine: one ``prepare`` and one optimization loop, as a generator of progress records.

``optimize(prepare(content, style, settings))`` computes the targets once, then runs the chosen
optimizer on the chosen parameterization for ``settings.steps`` objective evaluations, yielding
a :class:`Progress` after every reported step (a preview image every ``preview_every`` steps)
and a final record with the result. Closing the generator (``gen.close()``, or a web app
cancelling the job) stops the work at the next step boundary. Single runs, multi-scale levels
and tiles all go through this loop; :mod:`nst_core.engine.schedule` drives levels and tiles.
"""
from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import torch
from PIL import Image

from ..imaging import color, images, vgg
from ..losses import spatial
from . import tiling
from ..losses.objective import Objective
from ..optim.registry import NORMALIZED_OBJECTIVE, LossScale, make_optimizer
from ..params.registry import count_parameters, get_param, warm_up
from ..settings import Settings

LOSS_TERMS = ("content", "style", "tv", "total")
# Records per step on a GPU when report_every is 0 (auto): reading a loss value waits for the
# GPU to finish (a host-device sync), which costs a noticeable share of a few-ms step; on the
# CPU it is free, so every step is reported there.
GPU_REPORT_EVERY = 10


def resolve_report_every(report_every: int, device: torch.device) -> int:
    """Steps per record: ``report_every``, or when it is 0 (auto) the device's default above."""
    return report_every or (1 if torch.device(device).type == "cpu" else GPU_REPORT_EVERY)


class NonFiniteLossError(RuntimeError):
    """The objective became NaN or infinite; the message says at which step."""


@dataclass
class Progress:
    """One report from a running job."""

    step: int  # objective evaluations done so far
    total: int  # the step budget
    elapsed: float  # seconds since the optimization started (set-up excluded)
    losses: dict[str, float]  # weighted content, style, tv and their total, at this step
    preview: Image.Image | None = None  # the current image, every preview_every steps
    done: bool = False  # True on the last record only
    image: Image.Image | None = None  # the result, on the last record
    # The image as it stands after this step (on the last record: the result), 1x3xHxW in
    # [0, 1] on the run's device: what a stopped job keeps, and what a caller pacing previews
    # by time turns into a picture without waiting for the next preview step.
    tensor: torch.Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)  # run facts: size, device, params, ...

    @property
    def eta(self) -> float | None:
        """Seconds left at the current pace (None before the first step)."""
        if self.step <= 0 or self.done:
            return None if self.step <= 0 else 0.0
        return self.elapsed / self.step * (self.total - self.step)


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an unavailable explicit device raises ValueError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None)
                                     and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but MPS is not available")
    return device


def tune_backend(device: torch.device) -> None:
    """Per-device switches that pay for a style-transfer loop.

    cuDNN's autotuner (``cudnn.benchmark``) times the convolution algorithms for each new input
    shape once and keeps the fastest; a run evaluates one shape hundreds of times (one per
    multi-scale level), so the one-off search is repaid within a few steps. TF32 is left at
    PyTorch's default (on for cuDNN convolutions, off for matmuls): its 10-bit mantissa is finer
    than bf16's 7, which already missed the 1% objective bound on the CPU (bench/quality.py),
    and it could not be checked on a GPU here.
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


@dataclass
class Prepared:
    """Everything a run needs, computed once: images at working size, objective, views."""

    settings: Settings
    device: torch.device
    content: torch.Tensor  # 1x3xHxW in [0, 1], the content at output size
    styles: list[torch.Tensor]  # style images as the loss sees them (colour-adjusted)
    objective: Objective
    init: torch.Tensor | None  # starting image, or None for the parameterization's noise
    seed: int
    setup_seconds: float

    def view(self, image: torch.Tensor) -> torch.Tensor:
        """What VGG sees of an image (its luminance, in luminance mode)."""
        s = self.settings
        if s.preserve_color == "luminance":
            return color.gray3(color.luminance(image, s.luminance_space))
        return image

    def output(self, image: torch.Tensor) -> torch.Tensor:
        """The image a user gets (the content's chroma put back, in luminance mode)."""
        s = self.settings
        if s.preserve_color == "luminance":
            return color.with_chroma(color.luminance(image, s.luminance_space), self.content,
                                     s.luminance_space)
        return image


def as_styles(style: Any) -> list[Any]:
    """One style source, a list of them, or None (no style) -> a list."""
    if style is None:
        return []
    return list(style) if isinstance(style, (list, tuple)) else [style]


def load_inputs(content: images.ImageSource, styles_src: Sequence[Any], s: Settings,
                device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor], int, int]:
    """The content at output size and the styles at their working scale (their area is the
    content's times style_scale^2), histogram-matched when that option is on; and (w, h)."""
    content_img = images.load_image(content, name="content image")
    # Too small a side for the deepest layer fails inside VGG19: refuse it here, by name.
    need, deepest = images.vgg_min_side(
        (*(s.content_layers if s.content_weight > 0 else ()),
         *(s.style_layers if s.style_weight > 0 and styles_src else ())))
    images.check_min_side("content image", s.size,
                          lambda z: images.fit_size(*content_img.size, z), need, deepest)
    width, height = images.fit_size(*content_img.size, s.size)
    content_t = images.to_tensor(images.resize(content_img, (width, height)), device)
    styles = []
    for i, src in enumerate(styles_src):
        name = f"style image {i + 1}" if len(styles_src) > 1 else "style image"
        img = images.load_image(src, name=name)
        images.check_min_side(name, s.size, lambda z: images.style_size(
            img.size, images.fit_size(*content_img.size, z), s.style_scale), need, deepest)
        styles.append(images.to_tensor(images.resize(img, images.style_size(
            img.size, (width, height), s.style_scale)), device))
    if s.preserve_color == "histogram":
        styles = [color.match_histogram(t, content_t) for t in styles]
    return content_t, styles, width, height


def _views(s: Settings, content: torch.Tensor, styles: list[torch.Tensor]
           ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """What VGG sees of the content and the styles: in luminance mode their luminance (the
    styles' matched to the content's mean and spread, Gatys et al. 2016b), else the images."""
    if s.preserve_color != "luminance":
        return content, styles
    content_y = color.luminance(content, s.luminance_space)
    return color.gray3(content_y), [
        color.gray3(color.match_luminance(color.luminance(t, s.luminance_space), content_y))
        for t in styles]


def build_objective(s: Settings, device: torch.device, has_styles: bool) -> Objective:
    """The settings' objective on the shared VGG19, without targets yet."""
    content = dict(zip(s.content_layers, s.content_layer_weights or
                       (1.0,) * len(s.content_layers))) if s.content_weight > 0 else {}
    style = dict(zip(s.style_layers, s.style_layer_weights or
                     (1.0,) * len(s.style_layers))) if s.style_weight > 0 and has_styles else {}
    if not content and not style and s.tv_weight <= 0:
        raise ValueError("every loss weight is 0: nothing to optimize")
    layers = tuple(dict.fromkeys((*content, *style))) or ("relu1_1",)
    net = vgg.get_vgg(s.weights, s.pooling, device)
    extractor = vgg.FeatureExtractor(net, layers, dtype=vgg.resolve_precision(s.precision, device))
    return Objective(extractor, content_layers=content, style_layers=style,
                     content_weight=s.content_weight, style_weight=s.style_weight,
                     tv_weight=s.tv_weight, tv_exponent=s.tv_exponent, style_loss=s.style_loss)


def _check_inputs(s: Settings, n_styles: int) -> None:
    """What the settings alone cannot say: they must fit the images given."""
    if s.style_weight > 0 and not n_styles:
        raise ValueError("style_weight > 0 needs at least one style image")
    if s.size > images.MAX_SIDE:
        raise ValueError(f"size {s.size} is larger than the {images.MAX_SIDE}-pixel limit")
    if s.init == "style" and not n_styles:
        raise ValueError("init 'style' needs a style image")


def prepare(content: images.ImageSource, style: Any, settings: Settings, *,
            init_image: images.ImageSource | None = None,
            masks: Sequence[Any] | None = None, tiled: bool = False) -> Prepared:
    """Load the inputs, resize them, and compute the loss targets once.

    ``settings`` are taken as valid (the caller's edge checked them: :func:`settings.validate`).
    ``init_image`` (any image source, resized to the output size) overrides ``settings.init``;
    multi-scale runs pass the upsampled previous level here. ``masks`` (one image source per
    style; white = that style applies, unmasked areas get no style) turn on spatial control.
    ``tiled`` prepares a level that is optimized in tiles (:func:`prepare_tile`): the style
    targets are computed over the whole style image in pieces (:func:`tiling.
    global_style_features`) and the content target is set per tile.
    """
    start = time.perf_counter()
    s = settings
    styles_src = as_styles(style)
    _check_inputs(s, len(styles_src))
    device = resolve_device(s.device)
    tune_backend(device)
    content_t, styles, width, height = load_inputs(content, styles_src, s, device)
    content_view, styles_view = _views(s, content_t, styles)
    objective = build_objective(s, device, bool(styles))
    seed = s.seed if s.seed is not None else random.randrange(2 ** 31)
    blend = s.style_blend_weights
    if tiled:
        generator = torch.Generator().manual_seed(seed)
        objective.set_styles([tiling.global_style_features(
            objective.extractor, t, objective.style_layers, generator=generator)
            for t in styles_view], blend)
    else:
        mask_t = spatial.load_masks(masks, len(styles_src), (height, width), device=device)
        edge = (spatial.edge_mask(content_view, s.edge_threshold, s.edge_blur)
                if s.edge_weight is not None else None)
        objective.set_content(content_view)
        objective.set_style_images(styles_view, blend=blend, masks=mask_t, edge=edge,
                                   edge_weight=s.edge_weight)
    init = _start_image(s, init_image, content_t, styles, (height, width), device)
    return Prepared(s, device, content_t, styles, objective, init, seed,
                    time.perf_counter() - start)


def prepare_tile(level: Prepared, box: tuple[int, int, int, int], init: torch.Tensor,
                 seed: int) -> Prepared:
    """A tile of a tiled level as a run of its own: the content crop under ``box`` (top,
    bottom, left, right) becomes the content target; the level's style targets stay."""
    y0, y1, x0, x1 = box
    crop = level.content[..., y0:y1, x0:x1]
    level.objective.set_content(level.view(crop))
    return dataclasses.replace(level, content=crop, init=init, seed=seed, setup_seconds=0.0)


def _start_image(s: Settings, init_image: images.ImageSource | None, content: torch.Tensor,
                 styles: list[torch.Tensor], size: tuple[int, int],
                 device: torch.device) -> torch.Tensor | None:
    """The image the run starts from, or None for the parameterization's own noise."""
    if init_image is not None:
        return _init_tensor(init_image, size, device)
    if s.init == "content":
        return content
    if s.init == "style":
        return torch.nn.functional.interpolate(styles[0], size=size, mode="bilinear",
                                               align_corners=False, antialias=True).clamp(0, 1)
    return None


def _init_tensor(src: images.ImageSource, size: tuple[int, int],
                 device: torch.device) -> torch.Tensor:
    if isinstance(src, torch.Tensor) and src.ndim == 4:
        t = src.detach().float().to(device)
    else:
        t = images.to_tensor(images.load_image(src, name="init image"), device)
    if t.shape[-2:] != size:
        t = torch.nn.functional.interpolate(t, size=size, mode="bicubic", align_corners=False)
    return t.clamp(0, 1)


def _floats(terms: dict[str, torch.Tensor]) -> dict[str, float]:
    # One copy to the host for all terms: each float() of a GPU tensor waits for the GPU.
    values = torch.stack([terms[k].detach().float() for k in LOSS_TERMS]).cpu()
    return dict(zip(LOSS_TERMS, map(float, values)))


def evaluate(prepared: Prepared, image: torch.Tensor) -> dict[str, float]:
    """The objective of an (output) image, without gradients, in full precision."""
    with torch.no_grad(), prepared.objective.extractor.full_precision():
        return _floats(prepared.objective(prepared.view(image.to(prepared.device))))


def _start_run(prepared: Prepared):
    """The parameterization, its optimizer and the run facts of a prepared run."""
    s, device = prepared.settings, prepared.device
    param = get_param(s.param)
    generator = torch.Generator().manual_seed(prepared.seed)
    torch.manual_seed(prepared.seed)  # parameterizations that build modules draw from it
    shape = tuple(prepared.content.shape[:1]) + (3,) + tuple(prepared.content.shape[-2:])
    params, image_fn = param.make(shape, prepared.init, generator=generator, device=device,
                                  **dict(s.param_options))
    lr = s.lr if s.lr is not None else param.default_lr(s.optimizer, shape)
    optimizer = make_optimizer(s.optimizer, params, lr)
    info = {"size": [shape[3], shape[2]], "device": str(device), "param": s.param,
            "optimizer": s.optimizer, "lr": lr, "seed": prepared.seed,
            "parameters": count_parameters(params), "setup_seconds": prepared.setup_seconds}
    # Facts a parameterization reports about its own set-up (e.g. a DIP warm-up).
    info.update(getattr(image_fn, "info", {}))
    return image_fn, optimizer, info


class _Closure:
    """One objective evaluation per call: forward, backward, and what the report needs.

    Optimizers in ``optim.NORMALIZED_OBJECTIVE`` see the objective divided by its value at the
    first evaluation (the starting image); those in the parameterization's ``log_objective``
    see it divided by its current value at every evaluation (the gradient of its log). The
    reported losses are never scaled.
    """

    def __init__(self, prepared: Prepared, image_fn, optimizer: torch.optim.Optimizer):
        self.prepared, self.image_fn, self.optimizer = prepared, image_fn, optimizer
        s = prepared.settings
        self.normalize = s.optimizer in NORMALIZED_OBJECTIVE
        self.log = s.optimizer in get_param(s.param).log_objective
        self.scale: float | None = None
        # fp16 convolutions need their gradients scaled up through the backward pass.
        self.loss_scale = (LossScale(prepared.device)
                           if prepared.objective.extractor.dtype is torch.float16 else None)
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.step = 0
        self.terms: dict[str, torch.Tensor] = {}
        self.image: torch.Tensor | None = None

    def __call__(self) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        image = self.image_fn()
        terms = self.prepared.objective(self.prepared.view(image))
        if self.scale is None:
            start = float(terms["total"].detach())
            self.scale = 1.0 / start if self.normalize and _positive(start) else 1.0
        scale = self.scale
        if self.log:  # one host sync per step, which the log needs (its value)
            now = float(terms["total"].detach())
            scale = 1.0 / now if _positive(now) else 1.0
        scaled = terms["total"] * scale
        if self.loss_scale is not None:
            self.loss_scale.backward(scaled, self.params)
        else:
            scaled.backward()
        self.step += 1
        # Kept for the report and the preview, so neither costs another forward pass.
        self.terms = {k: v.detach() for k, v in terms.items()}
        self.image = image.detach()
        return scaled


class _Average:
    """Iterate averaging: a bias-corrected exponential moving average of the image, as
    crowsonkb/style-transfer-pytorch's ``EMA`` (which divides by 1 - decay^n so the first
    steps are not pulled towards zero)."""

    def __init__(self, decay: float):
        self.decay, self.weight, self.sum = decay, 1.0, None

    def update(self, image: torch.Tensor) -> None:
        self.weight *= self.decay
        self.sum = image * (1 - self.decay) if self.sum is None else \
            self.sum * self.decay + image * (1 - self.decay)

    @property
    def value(self) -> torch.Tensor:
        return self.sum / (1 - self.weight)


def resolve_average(s: Settings) -> float:
    """The EMA decay of a run: ``settings.average``, or the method's measured default."""
    if s.average is not None:
        return s.average
    return get_param(s.param).average.get(s.optimizer, 0.0)


class _Clock:
    """Seconds of the loop's own work: time spent suspended at a yield (a consumer drawing
    or scoring a preview) does not count, so a time budget and the reported seconds are the
    method's, whatever the caller does with the records."""

    def __init__(self, already: float = 0.0):
        self.spent, self.since = already, time.perf_counter()

    def read(self) -> float:
        now = time.perf_counter()
        self.spent, self.since = self.spent + now - self.since, now
        return self.spent

    def resume(self) -> None:
        """Back from a yield: the time spent suspended is not the loop's."""
        self.since = time.perf_counter()


def optimize(prepared: Prepared, *, lean: bool = False) -> Iterator[Progress]:
    """The optimization loop on prepared targets: a :class:`Progress` per reported step, and a
    final record with the result (``image``, and ``tensor`` in [0, 1]).

    The loop ends after ``settings.steps`` steps, or once ``settings.time_budget`` seconds of
    its own work are spent (a parameterization's set-up, e.g. a DIP warm-up, counts).
    The first record (step 0) scores the starting image and the final one scores the saved
    8-bit result in full precision. ``lean`` leaves both out (a tile of a large level makes
    only a few steps, and two extra forward passes would cost a third of them): the final
    record then carries the last step's losses. With iterate averaging (``settings.average``)
    previews and the result are the average.
    """
    s = prepared.settings
    image_fn, optimizer, info = _start_run(prepared)
    # The parameterization's warm-up (a DIP generator fits the start image) spends the time
    # budget first.
    info.update(warm_up(image_fn, s.time_budget))
    closure = _Closure(prepared, image_fn, optimizer)
    decay = resolve_average(s)
    average = _Average(decay) if decay > 0 else None
    info["average"] = decay
    if not lean:
        with torch.no_grad():
            first = image_fn()
            losses = _floats(prepared.objective(prepared.view(first)))
        start = prepared.output(first).clone()
        yield Progress(0, s.steps, 0.0, losses, info=dict(info), tensor=start,
                       preview=images.to_pil(start) if s.preview_every else None)
    report_every = resolve_report_every(s.report_every, prepared.device)
    clock = _Clock(info.get("warmup_seconds", 0.0))
    while closure.step < s.steps:
        optimizer.step(closure)
        step = closure.step
        if average is not None:
            average.update(closure.image)
        out_of_time = s.time_budget is not None and clock.read() >= s.time_budget
        is_preview = bool(s.preview_every) and step % s.preview_every == 0 and step < s.steps
        if step % report_every and not is_preview and step < s.steps and not out_of_time:
            continue  # no record: the GPU runs on without waiting for the loss values
        losses = _checked(closure.terms, step, s, optimizer)
        with torch.no_grad():
            shown = average.value if average is not None else closure.image
            # A copy: the optimizer changes the parameters in place at the next step.
            now = prepared.output(shown).clone()
        preview = images.to_pil(now) if is_preview else None
        yield Progress(step, s.steps, clock.read(), losses, preview=preview, tensor=now)
        clock.resume()
        if out_of_time:
            info["stopped_by"] = "time_budget"
            break
    yield _final(prepared, image_fn, closure, average, clock.read(), info, lean)


def _final(prepared: Prepared, image_fn, closure: _Closure, average: _Average | None,
           elapsed: float, info: dict, lean: bool) -> Progress:
    with torch.no_grad():
        raw = average.value if average is not None else image_fn()
        final = images.quantize(prepared.output(raw))
    # The reported result is scored on exactly the 8-bit image the user saves.
    losses = _floats(closure.terms) if lean else evaluate(prepared, final)
    info.update(seconds=elapsed, seconds_per_step=elapsed / max(closure.step, 1),
                steps_done=closure.step)
    result = images.to_pil(final)
    return Progress(closure.step, prepared.settings.steps, elapsed, losses, preview=result,
                    done=True, image=result, tensor=final, info=info)


def _checked(terms: dict[str, torch.Tensor], step: int, s: Settings,
             optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """The step's losses as floats; NonFiniteLossError when they are NaN or infinite."""
    losses = _floats(terms)
    if not all(map(_finite, losses.values())):
        lr = optimizer.param_groups[0]["lr"]
        raise NonFiniteLossError(
            f"the loss became {losses['total']} at step {step} "
            f"({s.optimizer} on {s.param}, lr {lr:g}); try a smaller learning rate or "
            "smaller loss weights")
    return losses


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def _positive(x: float) -> bool:
    """A finite objective above 0, which can be divided by (a NaN is left for _checked)."""
    return _finite(x) and x > 0
