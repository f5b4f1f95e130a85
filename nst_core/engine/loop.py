"""The engine's one optimization loop, as a generator of progress records.

``optimize(prepare(content, style, settings))`` (:mod:`nst_core.engine.prepare`) computes the targets once, then runs the chosen
optimizer on the chosen parameterization for ``settings.steps`` objective evaluations, yielding
a :class:`Progress` after every reported step (a preview image every ``preview_every`` steps)
and a final record with the result. Closing the generator (``gen.close()``, or a web app
cancelling the job) stops the work at the next step boundary. Single runs, multi-scale levels
and tiles all go through this loop; :mod:`nst_core.engine.schedule` drives levels and tiles.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Iterator

import torch

from ..imaging import images
from ..optim.registry import NORMALIZED_OBJECTIVE, LossScale, make_optimizer
from ..params.base import count_parameters, warm_up
from ..params.registry import get_param
from ..records import LOSS_TERMS, Progress, RunFacts
from ..settings import Settings
from .prepare import Prepared

# Records per step on a GPU when report_every is 0 (auto): reading a loss value waits for the
# GPU to finish (a host-device sync), which costs a noticeable share of a few-ms step; on the
# CPU it is free, so every step is reported there.
GPU_REPORT_EVERY = 10


def resolve_report_every(report_every: int, device: torch.device) -> int:
    """Steps per record: ``report_every``, or when it is 0 (auto) the device's default above."""
    return report_every or (1 if torch.device(device).type == "cpu" else GPU_REPORT_EVERY)


class NonFiniteLossError(RuntimeError):
    """The objective became NaN or infinite; the message says at which step."""


def _floats(terms: dict[str, torch.Tensor]) -> dict[str, float]:
    # One copy to the host for all terms: each float() of a GPU tensor waits for the GPU.
    values = torch.stack([terms[k].detach().float() for k in LOSS_TERMS]).cpu()
    return dict(zip(LOSS_TERMS, map(float, values)))


def evaluate(prepared: Prepared, image: torch.Tensor) -> dict[str, float]:
    """The objective of an (output) image, without gradients, in full precision."""
    with torch.no_grad(), prepared.objective.extractor.full_precision():
        return _floats(prepared.objective(prepared.view(image.to(prepared.device))))


def _start_run(prepared: Prepared):
    """What the parameterization made (:class:`Parameterized`), its optimizer and the run facts
    of a prepared run."""
    s, device = prepared.settings, prepared.device
    param = get_param(s.param)
    generator = torch.Generator().manual_seed(prepared.seed)
    torch.manual_seed(prepared.seed)  # parameterizations that build modules draw from it
    shape = tuple(prepared.content.shape[:1]) + (3,) + tuple(prepared.content.shape[-2:])
    made = param.build(shape, prepared.init, generator=generator, device=device,
                       **dict(s.param_options))
    params = made.params
    lr = s.lr if s.lr is not None else param.default_lr(s.optimizer, shape)
    optimizer = make_optimizer(s.optimizer, params, lr)
    facts = RunFacts(size=(shape[3], shape[2]), device=str(device), param=s.param,
                     optimizer=s.optimizer, lr=lr, seed=prepared.seed,
                     parameters=count_parameters(params), setup_seconds=prepared.setup_seconds)
    return made, optimizer, facts


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
    made, optimizer, facts = _start_run(prepared)
    image_fn = made.image_fn
    # The parameterization's warm-up (a DIP generator fits the start image) spends the time
    # budget first.
    warm = warm_up(made, s.time_budget)
    closure = _Closure(prepared, image_fn, optimizer)
    decay = resolve_average(s)
    average = _Average(decay) if decay > 0 else None
    facts = dataclasses.replace(facts, warmup=warm, average=decay)
    if not lean:
        with torch.no_grad():
            first = image_fn()
            losses = _floats(prepared.objective(prepared.view(first)))
        start = prepared.output(first).clone()
        yield Progress(0, s.steps, 0.0, losses, run=facts, tensor=start,
                       preview=images.to_pil(start) if s.preview_every else None)
    report_every = resolve_report_every(s.report_every, prepared.device)
    clock = _Clock(warm.seconds if warm is not None else 0.0)
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
            facts = dataclasses.replace(facts, stopped_by="time_budget")
            break
    yield _final(prepared, image_fn, closure, average, clock.read(), facts, lean)


def _final(prepared: Prepared, image_fn, closure: _Closure, average: _Average | None,
           elapsed: float, facts: RunFacts, lean: bool) -> Progress:
    with torch.no_grad():
        raw = average.value if average is not None else image_fn()
        final = images.quantize(prepared.output(raw))
    # The reported result is scored on exactly the 8-bit image the user saves.
    losses = _floats(closure.terms) if lean else evaluate(prepared, final)
    result = images.to_pil(final)
    return Progress(closure.step, prepared.settings.steps, elapsed, losses, preview=result,
                    done=True, image=result, tensor=final,
                    run=facts.finished(elapsed, closure.step))


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
