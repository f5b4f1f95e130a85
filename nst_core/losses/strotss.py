"""STROTSS's losses (Kolkin, Salavon and Shakhnarovich, "Style Transfer by Relaxed Optimal
Transport and Self-Similarity", CVPR 2019), on sampled hypercolumns (:mod:`.hypercolumns`).

- :class:`StrotssLoss`, the style loss: the relaxed earth mover's distance between the output's
  and the style's sampled hypercolumns under the cosine cost, plus matching of their means and
  covariances (the paper's l_r + l_m; its palette term l_p is left out: colour comes through the
  first layers here).
- :class:`SelfSimilarityLoss`, the content loss: the output's pattern of cosine distances
  between its own sampled positions should be the content's, so the layout is kept while the
  features themselves are free to take the style's look.

Memory. Both compare every sampled position with every other, so they sample :data:`SAMPLES`
positions per term and step (STROTSS samples a strided grid of up to 128^2 on a GPU): the cost
matrices are 1024 x 1024 per layer, 4 MB each, whatever the image size.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from . import hypercolumns as hc

# Positions sampled per step, in the output and in each style image (and, for the content
# loss, the positions both the output and the content are read at).
SAMPLES = 1024


def _layer_weights(names: Sequence[str], given: Mapping[str, float] | None) -> dict[str, float]:
    given = given or {}
    return {n: float(given.get(n, 1.0)) for n in names}


def relaxed_emd(cost: torch.Tensor, column_weights: torch.Tensor) -> torch.Tensor:
    """STROTSS's relaxed EMD: each side's mean cost to its nearest point on the other side,
    the larger of the two (each relaxation alone has a trivial minimum). Columns carry weights
    summing to 1 (a blend of styles); rows count equally."""
    rows = cost.min(1).values.mean()
    cols = (cost.min(0).values * column_weights).sum()
    return torch.maximum(rows, cols)


def moment_distance(a: torch.Tensor, b: torch.Tensor, weights_b: torch.Tensor,
                    scale: torch.Tensor) -> torch.Tensor:
    """STROTSS's l_m on one layer: mean |mu_a - mu_b| + mean |Sigma_a - Sigma_b| of the sampled
    rows, in units of the layer's RMS activation (``b``'s rows weighted by ``weights_b``)."""
    mean_a, mean_b = a.mean(0), (b * weights_b[:, None]).sum(0)
    ca, cb = a - mean_a, b - mean_b
    cov_a = ca.T @ ca / a.shape[0]
    cov_b = (cb * weights_b[:, None]).T @ cb
    return ((mean_a - mean_b).abs().mean() / scale
            + (cov_a - cov_b).abs().mean() / scale ** 2)


class StrotssLoss(nn.Module):
    """STROTSS's style loss, l_r + l_m, over every style layer at once (a hypercolumn).

    ``style_features``: one layer mapping per style (or one activation tensor per style, a
    one-layer hypercolumn). The blend keeps styles with a positive weight, each contributing
    its share of the style samples' weight. ``forward(x, weights)`` samples the output's
    positions in proportion to ``weights`` (a mask), as STROTSS samples inside a region.
    """

    hypercolumns = True
    # On the Gram loss's scale at the start (the content image): bench/calibrate.py style-scales.
    SCALE = 1.59e6

    def __init__(self, style_features: Sequence[torch.Tensor | hc.Layers],
                 blend: Sequence[float], layer_weights: Mapping[str, float] | None = None):
        super().__init__()
        total = float(sum(blend))
        kept = [(hc.as_layers(f), w / total) for f, w in zip(style_features, blend) if w > 0]
        self.names = list(kept[0][0])
        self.layer_weights = _layer_weights(self.names, layer_weights)
        self.styles = nn.ModuleList(hc.LayerMaps(maps) for maps, _ in kept)
        self.channels = {n: kept[0][0][n].shape[1] for n in self.names}
        with torch.no_grad():
            scales = [hc.rms(maps) for maps, _ in kept]
            self.scale = {n: sum(w * s[n] for s, (_, w) in zip(scales, kept))
                          for n in self.names}
            self.eps = {n: hc.SILENT_EPS * s for n, s in self.scale.items()}
            self.register_buffer("shares", torch.tensor(  # on the features' device
                [w for _, w in kept], device=kept[0][0][self.names[0]].device))
            # The style's hypercolumns at the fixed positions, rows styles x SAMPLES.
            self.register_buffer("target", self._style_rows(fresh=False))

    def _style_rows(self, fresh: bool) -> torch.Tensor:
        """Every style's hypercolumns at SAMPLES positions (new ones when ``fresh``, else the
        fixed ones), as (styles x SAMPLES) x channels rows."""
        rows = []
        for style in self.styles:
            maps = style.maps()
            generator = None if fresh else hc.fixed_generator()
            points = hc.sample_positions(hc.finest_size(maps), SAMPLES, None, generator)
            read = hc.read(maps, points)
            rows.append(torch.cat([read[n] for n in self.names], dim=1))
        return torch.cat(rows, dim=0)

    def _split(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, rows.split([self.channels[n] for n in self.names], dim=1)))

    def forward(self, x: torch.Tensor | hc.Layers,
                weights: torch.Tensor | None = None) -> torch.Tensor:
        layers = hc.as_layers(x)
        generator = hc.sampler(layers)
        points = hc.sample_positions(hc.finest_size(layers), SAMPLES, weights, generator)
        out = hc.read(layers, points)
        with torch.no_grad():
            style = self._split(self._style_rows(fresh=True) if generator is None
                                else self.target)
        column_weights = self.shares.repeat_interleave(SAMPLES) / SAMPLES
        cost = hc.distances(out, style, self.layer_weights, self.eps)
        total = sum(self.layer_weights.values())
        moments = sum(self.layer_weights[n] * moment_distance(
            out[n], style[n], column_weights, self.scale[n]) for n in self.names) / total
        return self.SCALE * (relaxed_emd(cost, column_weights) + moments)


class SelfSimilarityLoss(nn.Module):
    """STROTSS's content loss: L1 between the output's and the content's self-similarity
    matrices (cosine distances between sampled positions, each column divided by its sum),
    summed down each column and averaged over columns (the paper's mean times the count).

    ``target`` is the content's activations: a layer mapping (every content layer, a
    hypercolumn) or one tensor. The same positions are read in the output and the content.
    """

    hypercolumns = True
    # On the MSE content loss's scale where the photo is lost (the style image, resized):
    # bench/calibrate.py style-scales.
    SCALE = 7.3e6

    def __init__(self, target: torch.Tensor | hc.Layers,
                 layer_weights: Mapping[str, float] | None = None):
        super().__init__()
        maps = hc.as_layers(target)
        self.content = hc.LayerMaps(maps)
        self.layer_weights = _layer_weights(list(maps), layer_weights)
        with torch.no_grad():
            self.eps = {n: hc.SILENT_EPS * s for n, s in hc.rms(maps).items()}
            self.register_buffer("target", self.matrix(maps, self._points(maps)))

    def _points(self, layers: hc.Layers) -> torch.Tensor:
        return hc.sample_positions(hc.finest_size(layers), SAMPLES, None, hc.sampler(layers))

    def matrix(self, layers: hc.Layers, points: torch.Tensor) -> torch.Tensor:
        """The column-normalized self-similarity matrix of ``layers`` at ``points``."""
        rows = hc.read(layers, points)
        d = hc.distances(rows, rows, self.layer_weights, self.eps)
        return d / d.sum(0, keepdim=True).clamp_min(1e-12)

    def forward(self, x: torch.Tensor | hc.Layers) -> torch.Tensor:
        layers = hc.as_layers(x)
        if hc.is_optimizing(layers):
            points = self._points(layers)
            with torch.no_grad():
                target = self.matrix(self.content.maps(), points)
        else:
            points, target = self._points(layers), self.target
        return self.SCALE * (self.matrix(layers, points) - target).abs().sum(0).mean()
