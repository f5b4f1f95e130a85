"""Style losses by name (:data:`STYLE_LOSSES`): Gatys et al.'s Gram matrices and the variants
below, each a small module whose target is computed once and kept as a buffer.

Li et al. 2017 ("Demystifying Neural Style Transfer") read style transfer as matching the
*distribution* of a layer's activation vectors (one C-vector per position) between the output and
the style. Gram matching is one such distance (MMD with the kernel k(x, y) = (x.y)^2); the
entries here are others:

- ``mean_cov``: the Wasserstein-2 distance between Gaussians with the two mean vectors and
  covariance matrices, as crowsonkb/style-transfer-pytorch's ``StyleLossW2`` does.
- ``mmd_poly``: MMD with the polynomial kernel (x.y / C + c)^2 of Li et al.; c = 0 is exactly
  the Gram loss, c > 0 adds a mean-matching term.
- ``bn``: per-channel mean and standard deviation ("BN statistics", Li et al. section 4.2).
- ``histogram``: per-channel histograms, matched exactly in 1-D (Risser et al. 2017, "Stable and
  Controllable Neural Texture Synthesis and Style Transfer Using Histogram Losses").

Every statistic here is computed over *weighted* positions (``weights`` Nx1xHxW), so a masked
region or the edge/flat split of the edge-preserving loss gets its own statistics, and every
target of several styles is the statistic of the weighted *mixture* of their distributions (the
combination of expectations is linear; histograms get a weighted-CDF mixture).

Normalization. Each per-layer loss is divided by the style's mean squared activation at that
layer, so it has no units and the layers are balanced without hand-set weights, then multiplied
by a constant (``SCALE``) that puts it on the Gram loss's scale, so the default
``Settings.style_weight`` gives a similar content/style balance for every entry. How the
constants were measured: docs/calibration.md#style-loss-scales (``python bench/calibrate.py
style-scales`` re-measures them). The shared statistics live in :mod:`nst_core.losses.base`.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import (HIST_LEVELS, StyleLoss, _flat, _flat_weights, channel_rows, gram,
                   match_quantiles, sqrtm_eigh, weighted_moments, weighted_quantiles)
from .sliced import SlicedWassersteinLoss
from .strotss import StrotssLoss


class GramLoss(StyleLoss):
    """Gatys et al.'s style loss: MSE of Gram matrices, scaled by 1/C^2 per layer.

    The 1/C^2 layer weight is pastiche's (which writes 10/C^2; the 10 lives in the default
    style_weight here). It keeps the 64-channel and 512-channel layers in balance.
    """

    def stats(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        return gram(features, weights)

    def distance(self, stats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(stats, target.expand_as(stats)) / self.channels ** 2




class MeanCovLoss(StyleLoss):
    """Wasserstein-2 distance between Gaussian fits of the output's and the style's activations.

    W2^2 = |mu - mu_t|^2 + tr(S + S_t - 2 (S_t^1/2 S S_t^1/2)^1/2), following crowsonkb's
    ``StyleLossW2`` (which averages both terms over channels). Here the sum is divided by
    tr(E[y y^T]) of the style (its mean squared activation times C) instead, so it has no units.
    """

    # Ridge added to both covariances, relative to the style's mean squared activation. crowsonkb
    # adds an absolute 1e-4 on activations of torchvision's VGG; ours are Caffe-scaled (~60x
    # larger), so the ridge is made relative.
    COV_EPS = 1e-4
    SCALE = 3.5e5  # the Gram loss's scale at the start (docs/calibration.md)

    def __init__(self, style_features: Sequence[torch.Tensor], blend: Sequence[float]):
        super().__init__(style_features, blend)
        with torch.no_grad():
            mean, srm = self._split(self.target)
            scale = torch.diagonal(srm, dim1=-2, dim2=-1).sum(-1)  # E|y|^2
            eps = self.COV_EPS * scale / self.channels
            cov = self._cov(mean, srm, eps)
            self.register_buffer("norm", scale.clamp_min(1e-12))
            self.register_buffer("eps", eps)
            self.register_buffer("cov_t", cov)
            self.register_buffer("cov_t_sqrt", sqrtm_eigh(cov))

    @staticmethod
    def _split(stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return stats[..., -1], stats[..., :-1]

    def _cov(self, mean: torch.Tensor, srm: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        eye = torch.eye(srm.shape[-1], dtype=srm.dtype, device=srm.device)
        return srm - mean.unsqueeze(-1) * mean.unsqueeze(-2) + eps.view(-1, 1, 1) * eye

    def stats(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        mean, srm = weighted_moments(features, weights)
        return torch.cat([srm, mean.unsqueeze(-1)], dim=-1)  # N x C x (C+1)

    def distance(self, stats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mean, srm = self._split(stats)
        mean_t, _ = self._split(target)
        cov = self._cov(mean, srm, self.eps)
        # tr((S_t^1/2 S S_t^1/2)^1/2) is the sum of the square roots of that matrix's
        # eigenvalues. eigvalsh's gradient (V diag(g) V^T) involves no eigenvalue gaps, so it stays
        # finite where eigenvalues repeat, and it is ~10x faster on a CPU than crowsonkb's
        # Newton-Schulz iterations (docs/calibration.md#style-loss-scales).
        # The ridge keeps every eigenvalue >= eps^2 > 0, where the square root is smooth.
        vals = torch.linalg.eigvalsh(self.cov_t_sqrt @ cov @ self.cov_t_sqrt)
        cross = vals.clamp_min(self.eps.unsqueeze(-1) ** 2).sqrt().sum(-1)
        trace = torch.diagonal(self.cov_t + cov, dim1=-2, dim2=-1).sum(-1) - 2.0 * cross
        w2 = (mean - mean_t).square().sum(-1) + trace
        return self.SCALE * (w2 / self.norm).mean()


class MMDPolyLoss(StyleLoss):
    """MMD^2 between the output's and the style's activation vectors, kernel (x.y / C + c)^2.

    Li et al. 2017 (section 3) show Gram matching is MMD with (x.y)^2. Expanding the square, the
    MMD with (x.y/C + c)^2 is |G - G_t|_F^2 / C^2 + 2c |mu - mu_t|^2 / C in closed form (G the
    Gram matrix, mu the mean), which costs no more than a Gram matrix; we divide it by C^2 like
    :class:`~nst_core.losses.GramLoss`, so c = 0 gives exactly the Gram loss. Li et al. leave c
    free (their code defaults to 0); here c is ``C_FACTOR`` times the style's mean squared
    activation at the layer, the typical size of x.y/C, so both terms count at every layer.
    """

    C_FACTOR = 1.0
    # SCALE brings the mean term's extra back to the Gram loss's magnitude at the start
    # (docs/calibration.md#style-loss-scales). C_FACTOR = 0 and SCALE = 1 give exactly GramLoss.
    SCALE = 0.35

    def __init__(self, style_features: Sequence[torch.Tensor], blend: Sequence[float]):
        super().__init__(style_features, blend)
        with torch.no_grad():
            g = self.target[..., :-1]
            self.register_buffer("c", self.C_FACTOR * torch.diagonal(g, dim1=-2, dim2=-1)
                                 .mean(-1))

    def stats(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        mean, srm = weighted_moments(features, weights)
        return torch.cat([srm, mean.unsqueeze(-1)], dim=-1)

    def distance(self, stats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        c = self.channels
        gram_term = (stats[..., :-1] - target[..., :-1]).square().sum((-2, -1)) / c ** 2
        mean_term = 2.0 * self.c * (stats[..., -1] - target[..., -1]).square().sum(-1) / c
        return self.SCALE * ((gram_term + mean_term) / c ** 2).mean()


class BNStatsLoss(StyleLoss):
    """Per-channel mean and standard deviation (Li et al. 2017, section 4.2, "BN statistics").

    Their loss is (|mu - mu_t|^2 + |sigma - sigma_t|^2) / C per layer; here it is further
    divided by the style's mean squared activation (no units). The target keeps E[y] and E[y^2]
    so that several styles blend as a mixture.
    """

    # Added to the variance before the square root, relative to the style's mean squared
    # activation, so a dead channel (variance 0) has a finite gradient.
    VAR_EPS = 1e-6
    SCALE = 6e5  # the Gram loss's scale at the start (docs/calibration.md)

    def __init__(self, style_features: Sequence[torch.Tensor], blend: Sequence[float]):
        super().__init__(style_features, blend)
        with torch.no_grad():
            m2 = self.target[..., 1, :].mean(-1)
            self.register_buffer("norm", m2.clamp_min(1e-12))
            self.register_buffer("eps", self.VAR_EPS * self.norm)

    def stats(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        flat, wf = _flat(features), _flat_weights(features, weights)
        return torch.stack([(flat * wf).sum(-1), (flat.square() * wf).sum(-1)], dim=-2)

    def _mean_std(self, stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = stats[..., 0, :]
        var = (stats[..., 1, :] - mean.square()).clamp_min(0)
        return mean, (var + self.eps.unsqueeze(-1)).sqrt()

    def distance(self, stats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mean, std = self._mean_std(stats)
        mean_t, std_t = self._mean_std(target)
        d = ((mean - mean_t).square() + (std - std_t).square()).mean(-1)
        return self.SCALE * (d / self.norm).mean()


class HistogramLoss(StyleLoss):
    """Risser et al. 2017's histogram loss: each channel's activations against the style's
    histogram.

    Risser et al. histogram-match the activations to the style (R(x)) and penalize |x - R(x)|^2
    with R(x) held fixed. Matching by sorting (each activation's rank picks the style quantile
    at the same level) makes that penalty the exact 1-D Wasserstein-2 distance per channel, with
    the same gradient 2 (x - R(x)); we compute it that way, with positions weighted for masks.
    The per-layer value (mean over channels) is divided by the style's mean squared activation.
    """

    SCALE = 5e5  # the Gram loss's scale at the start (docs/calibration.md)

    def __init__(self, style_features: Sequence[torch.Tensor], blend: Sequence[float]):
        super().__init__(style_features, blend)
        with torch.no_grad():
            self.register_buffer("norm", self.target.square().mean().clamp_min(1e-12))

    def stats(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """C x HIST_LEVELS quantiles per channel (the batch is pooled into one distribution)."""
        values, w = self._rows(features, weights)
        return weighted_quantiles(values, w, HIST_LEVELS)

    _rows = staticmethod(channel_rows)

    @staticmethod
    def combine(stats: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        """Quantiles of the weighted mixture: pool every style's quantile samples, each with its
        style's weight, and read the pooled weighted CDF at the same levels."""
        values = torch.cat(list(stats), dim=-1)
        w = torch.cat([torch.full((1, s.shape[-1]), float(wt), dtype=s.dtype, device=s.device)
                       for s, wt in zip(stats, weights)], dim=-1)
        keep = w[0] > 0
        return weighted_quantiles(values[:, keep], w[:, keep], stats[0].shape[-1])

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        values, w = self._rows(x, weights)
        return self.SCALE * match_quantiles(values, w, self.target).mean() / self.norm


# name -> style loss class. A new entry is picked up by settings validation, the CLI, the app
# and the parametrized tests. Each is a module built from (style_features, blend), one
# activation tensor per style, with a ``target`` buffer, called as loss(x, weights); one that
# declares ``hypercolumns = True`` is built from and called with every style layer at once
# (:mod:`.hypercolumns`).
STYLE_LOSSES: dict[str, type[nn.Module]] = {
    "gram": GramLoss,
    "mean_cov": MeanCovLoss,
    "mmd_poly": MMDPolyLoss,
    "bn": BNStatsLoss,
    "histogram": HistogramLoss,
    "sliced": SlicedWassersteinLoss,
    "strotss": StrotssLoss,
}

# One line each, for the CLI help and the app.
DESCRIPTIONS = {
    "gram": "Gram matrices (Gatys et al.; MMD with the kernel (x.y)^2)",
    "mean_cov": "mean + covariance, Wasserstein-2 between Gaussians (crowsonkb)",
    "mmd_poly": "MMD with the polynomial kernel (x.y/C + c)^2 (Li et al. 2017)",
    "bn": "per-channel mean and std, 'BN statistics' (Li et al. 2017)",
    "histogram": "per-channel activation histograms (Risser et al. 2017)",
    "sliced": "sliced Wasserstein: sorted projections on random directions, new every step "
              "(Heitz et al. 2021)",
    "strotss": "relaxed earth mover's distance + mean and covariance on sampled hypercolumns "
               "of every style layer (STROTSS, Kolkin et al. 2019)",
}


def get_style_loss(name: str) -> type[nn.Module]:
    if name not in STYLE_LOSSES:
        raise ValueError(f"unknown style loss {name!r}; choose from: {', '.join(STYLE_LOSSES)}")
    return STYLE_LOSSES[name]
