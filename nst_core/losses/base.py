"""What every style loss shares: the :class:`StyleLoss` module (a target computed once, kept as
a buffer, retargeted through a public method, as in crowsonkb's style-transfer-pytorch) and the
weighted statistics the losses are built from (Gram matrices, moments, matrix square roots,
quantiles and 1-D optimal transport by sorting, which the histogram loss uses per channel and the
sliced Wasserstein loss along random directions). A new style loss is a module that imports this one and is registered by name in
:mod:`nst_core.losses.style`."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def gram(features: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """NxCxHxW -> NxCxC Gram matrix divided by H*W, so its scale does not depend on image size.

    With ``weights`` (Nx1xHxW, >= 0) each position counts with its weight and the sum is divided
    by the total weight: the Gram matrix of a masked region (Gatys et al. 2017, spatial control).
    """
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    if weights is None:
        return flat @ flat.transpose(1, 2) / (h * w)
    wflat = weights.reshape(n, 1, h * w)
    return (flat * wflat) @ flat.transpose(1, 2) / wflat.sum(-1, keepdim=True).clamp_min(1e-12)


class StyleLoss(nn.Module):
    """Base of the style losses: match statistics of one layer's activations.

    Subclasses implement ``stats(features, weights=None)`` (computed for every style image once,
    then blended by :meth:`combine` into one target buffer) and ``distance(x_stats, target)``.
    ``weights`` (Nx1xHxW, >= 0, or None for all positions equally) makes the statistics those of
    a weighted region: masks and the edge-preserving split use it.
    ``channels`` is the layer's width, for the per-layer normalization.
    """

    def __init__(self, style_features: Sequence[torch.Tensor], blend: Sequence[float]):
        super().__init__()
        total = float(sum(blend))
        with torch.no_grad():
            target = self.combine([self.stats(f) for f in style_features],
                                  [w / total for w in blend])
        self.register_buffer("target", target)
        self.channels = style_features[0].shape[1]

    def stats(self, features: torch.Tensor,
              weights: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def combine(stats: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        """The blended target: a weighted sum (weights sum to 1). For statistics that are
        expectations (Gram matrices, moments) this is exactly the statistic of the mixture of the
        styles' feature distributions."""
        return sum(w * s for s, w in zip(stats, weights))

    def distance(self, stats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(stats, target)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        return self.distance(self.stats(x, weights), self.target)


def _flat(features: torch.Tensor) -> torch.Tensor:
    """NxCxHxW -> Nx C x HW (positions last)."""
    n, c, h, w = features.shape
    return features.reshape(n, c, h * w)


def _flat_weights(features: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Nx1xHW position weights that sum to 1 (uniform when ``weights`` is None)."""
    n, _, h, w = features.shape
    if weights is None:
        return features.new_full((n, 1, h * w), 1.0 / (h * w))
    wf = weights.reshape(n, 1, h * w).to(features.dtype)
    return wf / wf.sum(-1, keepdim=True).clamp_min(1e-12)


def weighted_moments(features: torch.Tensor, weights: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean NxC, second raw moment NxCxC) of the activation vectors, positions weighted.

    Raw moments (not the covariance) because they combine linearly across styles, as
    crowsonkb's ``StyleLossW2.get_target`` notes.
    """
    flat, wf = _flat(features), _flat_weights(features, weights)
    mean = (flat * wf).sum(-1)
    srm = (flat * wf) @ flat.transpose(1, 2)
    return mean, srm


def sqrtm_eigh(a: torch.Tensor) -> torch.Tensor:
    """Exact square root of a symmetric PSD matrix (for targets, which need no gradient)."""
    vals, vecs = torch.linalg.eigh(a)
    return (vecs * vals.clamp_min(0).sqrt().unsqueeze(-2)) @ vecs.transpose(-2, -1)


# Quantiles kept per channel for a histogram target: 256 levels resolve the distribution well
# beyond what the loss can use and keep the buffer small (Risser et al. use 256 bins).
HIST_LEVELS = 256


def channel_rows(features: torch.Tensor, weights: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """NxCxHxW activations -> C x (N*H*W) rows (the batch pooled into one distribution) and
    their position weights, 1 x (N*H*W) (ones without ``weights``)."""
    n, c, h, w = features.shape
    values = features.transpose(0, 1).reshape(c, n * h * w)
    if weights is None:
        return values, values.new_ones(1, n * h * w)
    return values, weights.to(values.dtype).transpose(0, 1).reshape(1, n * h * w)


def _levels(k: int, like: torch.Tensor) -> torch.Tensor:
    return (torch.arange(k, dtype=like.dtype, device=like.device) + 0.5) / k


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Row-wise linear interpolation (numpy.interp) of increasing ``xp`` -> ``fp`` at ``x``."""
    idx = torch.searchsorted(xp.contiguous(), x.contiguous()).clamp(1, xp.shape[-1] - 1)
    x0, x1 = xp.gather(-1, idx - 1), xp.gather(-1, idx)
    f0, f1 = fp.gather(-1, idx - 1), fp.gather(-1, idx)
    t = ((x - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0, 1)
    return f0 + t * (f1 - f0)


def weighted_quantiles(values: torch.Tensor, weights: torch.Tensor, k: int) -> torch.Tensor:
    """Rows of ``values`` (R x P) with position weights (R x P or 1 x P) -> R x k quantiles at
    levels (i + 0.5) / k; each sample sits at the middle of its weight in the cumulative sum."""
    v, idx = values.sort(-1)
    w = weights.expand_as(values).gather(-1, idx)
    cw = w.cumsum(-1)
    pos = (cw - 0.5 * w) / cw[..., -1:].clamp_min(1e-12)
    levels = _levels(k, values).expand(values.shape[0], k)
    return _interp(levels, pos, v)


def match_quantiles(values: torch.Tensor, weights: torch.Tensor,
                    target: torch.Tensor) -> torch.Tensor:
    """Per row of ``values`` (R x P, position weights 1 x P or R x P), the weighted mean squared
    distance of each value to the target quantile (R x k, levels (i + 0.5) / k) at its own
    rank: the exact 1-D Wasserstein-2 distance, whatever P and k are. The target is held fixed,
    so the gradient is Risser et al.'s 2 (x - R(x))."""
    v, idx = values.sort(-1)
    with torch.no_grad():
        ws = weights.expand_as(values).gather(-1, idx)
        cw = ws.cumsum(-1)
        total = cw[..., -1:].clamp_min(1e-12)
        level = (cw - 0.5 * ws) / total
        k = target.shape[-1]
        remapped = _interp(level, _levels(k, level).expand(level.shape[0], k), target)
    return (ws * (v - remapped).square()).sum(-1) / total[..., 0]
