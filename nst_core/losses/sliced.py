"""Sliced Wasserstein style loss (Heitz, Vanhoey, Chambon and Belcour, "A Sliced Wasserstein
Loss for Neural Texture Synthesis", CVPR 2021).

A layer's activations are a cloud of C-vectors, one per position. Heitz et al. compare the
output's cloud with the style's by projecting both on random unit directions (as many as there
are channels), sorting each projection and taking the squared difference of the sorted values:
the sliced Wasserstein-2 distance. Unlike a Gram matrix it sees the whole distribution, not only
its second moments; the authors find it free of the Gram loss's loss of contrast and
oscillations, and as good with few directions as long as new ones are drawn at every step.

Sorting against a target is the histogram loss's 1-D matching (Risser et al.), so the weighted
quantile code it uses (:mod:`nst_core.losses.base`) does the matching here: masks weight the output's
positions, two clouds of different sizes are matched quantile to quantile, and a blend of styles
is the weighted mixture of their clouds.

Directions are new at every optimization step (a forward pass that takes a gradient), drawn from
torch's random generator, which the engine seeds. A forward pass without a gradient (a run's
first and last record, the scorer, a test) uses one fixed set of directions drawn at
construction, so a loss that is only read is deterministic and comparable between runs.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .base import channel_rows, match_quantiles, weighted_quantiles

# Seed of the fixed directions a loss is read with.
EVALUATION_SEED = 0
# Style positions kept per layer and style: 2^16 is relu1_1 of a 256 px style image whole. A
# larger style (a 512 px run, a style scale above 1) keeps a uniform random subset, whose
# quantiles differ from the whole cloud's by far less than the output's do at the start, and the
# buffer and the sort of every step stay bounded.
MAX_STYLE_POSITIONS = 2 ** 16


def random_directions(channels: int, generator: torch.Generator | None = None,
                      device: str | torch.device = "cpu") -> torch.Tensor:
    """C x C matrix whose columns are random unit vectors (Heitz et al.: normal draws,
    normalized). Drawn on the CPU so a seed gives the same directions on every device."""
    d = torch.randn(channels, channels, generator=generator)
    return (d / d.norm(dim=0, keepdim=True).clamp_min(1e-12)).to(device)


def _subset(rows: torch.Tensor) -> torch.Tensor:
    """At most MAX_STYLE_POSITIONS columns of ``rows``, a fixed random subset."""
    if rows.shape[1] <= MAX_STYLE_POSITIONS:
        return rows
    generator = torch.Generator().manual_seed(EVALUATION_SEED)
    keep = torch.randperm(rows.shape[1], generator=generator)[:MAX_STYLE_POSITIONS]
    return rows[:, keep.to(rows.device)]


class SlicedWassersteinLoss(nn.Module):
    """Sliced Wasserstein-2 distance between the output's and the style's activations.

    Per layer: the mean over directions of the squared distance between the sorted projections
    (quantile to quantile), divided by the style's mean squared activation (no units), times
    ``SCALE``. The style's activations are kept (a C x positions buffer per layer) because every
    step projects them on new directions.
    """

    # Puts the loss on the Gram loss's scale at the start (the content image), as every style
    # loss's SCALE: bench/calibrate.py style-scales measures it.
    SCALE = 8.7e5

    def __init__(self, style_features: Sequence[torch.Tensor], blend: Sequence[float]):
        super().__init__()
        total = float(sum(blend))
        kept = [(f, w / total) for f, w in zip(style_features, blend) if w > 0]
        with torch.no_grad():
            rows = [_subset(channel_rows(f, None)[0]) for f, _ in kept]
            # Each style's positions share its blend weight: the cloud of the mixture.
            weights = torch.cat([r.new_full((1, r.shape[1]), w / r.shape[1])
                                 for r, (_, w) in zip(rows, kept)], dim=1)
            self.register_buffer("style_rows", torch.cat(rows, dim=1))
            self.register_buffer("style_weights", weights)
            self.register_buffer("norm", (self.style_rows.square() * weights).sum() /
                                 self.style_rows.shape[0])
            self.channels = self.style_rows.shape[0]
            # As many quantiles as the largest style has positions: one style is matched
            # sample to sample, exactly as Heitz et al. sort and subtract.
            self.levels = max(r.shape[1] for r in rows)
            fixed = random_directions(self.channels, torch.Generator().manual_seed(
                EVALUATION_SEED), self.style_rows.device)
            self.register_buffer("directions", fixed)
            self.register_buffer("target", self.quantiles(fixed))

    def quantiles(self, directions: torch.Tensor) -> torch.Tensor:
        """The style mixture's projections on ``directions``, as C x levels quantiles."""
        with torch.no_grad():
            return weighted_quantiles(directions.T @ self.style_rows, self.style_weights,
                                      self.levels)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            directions = random_directions(self.channels, device=x.device)
            target = self.quantiles(directions)
        else:
            directions, target = self.directions, self.target
        values, w = channel_rows(x, weights)
        per_direction = match_quantiles(directions.T @ values, w, target)
        return self.SCALE * per_direction.mean() / self.norm
