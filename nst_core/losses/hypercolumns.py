"""Hypercolumns: the activations of several layers read at the same image positions.

STROTSS (Kolkin, Salavon and Shakhnarovich, "Style Transfer by Relaxed Optimal Transport and
Self-Similarity", CVPR 2019) describes each sampled position by the concatenation of its VGG
activations at every chosen layer, the deeper (coarser) maps upsampled bilinearly, and compares
two positions by the sum over layers of the cosine distances of their activation vectors. Its
losses compare every sampled position with every other, so they are computed on a random sample
of positions: this module draws the positions, reads the hypercolumns there and builds the
distance matrices.

Losses built on it receive a mapping layer -> activation map (``Objective`` passes every layer
of the term at once, under the key :data:`HYPERCOLUMNS`); a single activation tensor is taken as
a hypercolumn of one layer.
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

# Key under which an Objective keeps a loss that takes every layer of its term at once.
HYPERCOLUMNS = "hypercolumns"
# Seed of the fixed positions a loss is read with (a forward pass without a gradient), so a loss
# that is only read is deterministic; optimization steps draw new positions from torch's
# generator, which the engine seeds.
EVALUATION_SEED = 0
# Extra constant coordinate, relative to the layer's root-mean-square activation, appended before
# the cosine: two silent positions (all-zero ReLU outputs) are then equal rather than orthogonal,
# and non-silent vectors move by a negligible angle.
SILENT_EPS = 1e-3

Layers = Mapping[str, torch.Tensor]


def as_layers(features: torch.Tensor | Layers) -> dict[str, torch.Tensor]:
    """A layer mapping as it is, or one activation tensor as a one-layer mapping."""
    if isinstance(features, torch.Tensor):
        return {"": features}
    return dict(features)


def is_optimizing(layers: Layers) -> bool:
    """True in a forward pass that takes a gradient (an optimization step)."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in layers.values())


def fixed_generator() -> torch.Generator:
    """A generator at the start of the fixed positions' sequence."""
    return torch.Generator().manual_seed(EVALUATION_SEED)


def sampler(layers: Layers) -> torch.Generator | None:
    """The generator positions are drawn from: torch's own while optimizing, else a fixed one."""
    return None if is_optimizing(layers) else fixed_generator()


def finest_size(layers: Layers) -> tuple[int, int]:
    """(height, width) of the largest map: the grid positions are drawn on."""
    return max((tuple(t.shape[-2:]) for t in layers.values()), key=lambda hw: hw[0] * hw[1])


def sample_positions(size: tuple[int, int], count: int, weights: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` cell centres of an HxW grid as count x 2 (x, y) in grid_sample's [-1, 1].

    Cells are drawn with replacement, with probability proportional to ``weights`` (a 1x1xhxw
    map, averaged onto the grid; None: uniform), as STROTSS samples inside a region. Drawn on
    the CPU so a seed gives the same positions on every device.
    """
    h, w = size
    if weights is None:
        p = torch.ones(h * w)
    else:
        p = F.adaptive_avg_pool2d(weights.detach().float(), (h, w))[0, 0].flatten().cpu()
        # Divided by its maximum so a uniform map draws exactly what no map draws.
        p = p / p.max().clamp_min(1e-12)
    cells = torch.multinomial(p, count, replacement=True, generator=generator)
    x = ((cells % w).float() + 0.5) / w * 2 - 1
    y = ((cells // w).float() + 0.5) / h * 2 - 1
    return torch.stack([x, y], dim=-1)


def read(layers: Layers, points: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each layer's activations at ``points`` (count x 2), bilinearly: (N*count) x C rows."""
    out = {}
    for name, f in layers.items():
        n, c = f.shape[:2]
        grid = points.to(f.device, f.dtype).view(1, 1, -1, 2).expand(n, 1, -1, 2)
        sampled = F.grid_sample(f, grid, mode="bilinear", align_corners=False)
        out[name] = sampled[:, :, 0].transpose(1, 2).reshape(-1, c)
    return out


def cosine_distances(a: torch.Tensor, b: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
    """1 - cos between every row of ``a`` and every row of ``b`` (with the silent coordinate
    ``eps`` appended to both), clamped at 0 against rounding."""
    def unit(t: torch.Tensor) -> torch.Tensor:
        pad = torch.as_tensor(eps, dtype=t.dtype, device=t.device).expand(t.shape[0], 1)
        return F.normalize(torch.cat([t, pad], dim=1), dim=1)

    return (1 - unit(a) @ unit(b).T).clamp_min(0)


def distances(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor],
              layer_weights: Mapping[str, float], eps: Mapping[str, torch.Tensor]
              ) -> torch.Tensor:
    """STROTSS's cost matrix: the layer-weighted mean of the per-layer cosine distances."""
    total = sum(layer_weights[n] for n in a)
    return sum(layer_weights[n] * cosine_distances(a[n], b[n], eps[n]) for n in a) / total


def rms(maps: Layers) -> dict[str, torch.Tensor]:
    """Root-mean-square activation of each layer (the scale its distances are taken at)."""
    return {n: f.detach().square().mean().sqrt().clamp_min(1e-12) for n, f in maps.items()}


class LayerMaps(nn.Module):
    """Activation maps of several layers kept as buffers (so they follow ``.to(device)``)."""

    def __init__(self, maps: Layers):
        super().__init__()
        self.names = list(maps)
        for i, name in enumerate(self.names):
            self.register_buffer(f"layer{i}", maps[name].detach())

    def maps(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, f"layer{i}") for i, name in enumerate(self.names)}
