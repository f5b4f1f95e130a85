"""Loss modules and the full objective.

Each loss is a small module in the manner of crowsonkb/style-transfer-pytorch: its target is
computed once under ``no_grad`` and kept as a buffer, and ``forward`` returns the loss value.
The :class:`Objective` returns every term separately (already weighted) plus their total, so the
UI can plot each.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import spatial, vgg
from .settings import Settings


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


class ContentLoss(nn.Module):
    """MSE between activations and the content image's activations at one layer."""

    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.register_buffer("target", target.detach())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(x, self.target)


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


class GramLoss(StyleLoss):
    """Gatys et al.'s style loss: MSE of Gram matrices, scaled by 1/C^2 per layer.

    The 1/C^2 layer weight is pastiche's (which writes 10/C^2; the 10 lives in the default
    style_weight here). It keeps the 64-channel and 512-channel layers in balance.
    """

    def stats(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        return gram(features, weights)

    def distance(self, stats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(stats, target.expand_as(stats)) / self.channels ** 2


# name -> StyleLoss subclass. A new entry is picked up by settings validation, the CLI, the app
# and the parametrized tests.
STYLE_LOSSES: dict[str, type[StyleLoss]] = {"gram": GramLoss}


def get_style_loss(name: str) -> type[StyleLoss]:
    if name not in STYLE_LOSSES:
        raise ValueError(f"unknown style loss {name!r}; choose from: {', '.join(STYLE_LOSSES)}")
    return STYLE_LOSSES[name]


def tv_loss(image: torch.Tensor, exponent: float = 1.25) -> torch.Tensor:
    """Total variation mean((dx^2 + dy^2)^exponent) of an NCHW image.

    exponent 0.5 is isotropic TV; 1.25 follows the Keras neural style transfer example
    ("beta = 1.25" in Mahendran & Vedaldi's notation, which the example credits).
    """
    dx = image[..., :-1, 1:] - image[..., :-1, :-1]
    dy = image[..., 1:, :-1] - image[..., :-1, :-1]
    # A small epsilon keeps the gradient finite where the image is flat and exponent < 1.
    return (dx.square() + dy.square() + 1e-8).pow(exponent).mean()


class Objective(nn.Module):
    """content + style + tv for one run; ``forward(image)`` returns all terms and ``total``.

    ``image`` is NCHW RGB in [0, 1]. Targets are computed here, once, under no_grad.
    ``masks`` (one 1x1xHxW map per style, see :mod:`nst_core.spatial`) confine each style to its
    region; ``settings.edge_weight`` splits the style loss at the content's edges.
    ``style_losses`` holds the first style target per layer (without masks, the only one);
    ``group_losses[i]`` the targets of style group i and ``regions`` the weighted terms.
    """

    def __init__(self, extractor: vgg.FeatureExtractor, content: torch.Tensor | None,
                 styles: Sequence[torch.Tensor], settings: Settings,
                 blend: Sequence[float] | None = None,
                 masks: Sequence[torch.Tensor] | None = None):
        super().__init__()
        self.extractor = extractor
        self.settings = s = settings
        self.content_layers = tuple(s.content_layers) if s.content_weight > 0 else ()
        self.style_layers = tuple(s.style_layers) if s.style_weight > 0 and styles else ()
        cw = s.content_layer_weights or (1.0,) * len(s.content_layers)
        sw = s.style_layer_weights or (1.0,) * len(s.style_layers)
        self.content_layer_weights = dict(zip(s.content_layers, cw))
        self.style_layer_weights = dict(zip(s.style_layers, sw))
        user_blend = blend
        blend = list(blend) if blend is not None else [1.0] * len(styles)
        self.content_losses = nn.ModuleDict()
        self.style_losses = nn.ModuleDict()
        self.group_losses = nn.ModuleList()
        self.regions: list[spatial.Region] = []
        with torch.no_grad():
            if self.content_layers:
                if content is None:
                    raise ValueError("content_weight > 0 needs a content image")
                feats = extractor(content, self.content_layers)
                for name in self.content_layers:
                    self.content_losses[name] = ContentLoss(feats[name])
            if self.style_layers:
                loss_cls = get_style_loss(s.style_loss)
                per_style = [extractor(img, self.style_layers) for img in styles]
                # Without masks one target blends every style; with masks each style is its own.
                groups = ([(range(len(styles)), blend)] if masks is None else
                          [([i], [1.0]) for i in range(len(styles))])
                for idx, weights in groups:
                    self.group_losses.append(nn.ModuleDict({
                        name: loss_cls([per_style[i][name] for i in idx], weights)
                        for name in self.style_layers}))
                self.style_losses = self.group_losses[0]
                edge = None
                if s.edge_weight is not None and content is not None:
                    edge = spatial.edge_mask(content, s.edge_threshold, s.edge_blur)
                self.regions = spatial.style_regions(len(styles), user_blend, masks, edge,
                                                     s.edge_weight)
        self.layers = tuple(dict.fromkeys(self.content_layers + self.style_layers))

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        s = self.settings
        zero = image.new_zeros(())
        feats = self.extractor(image, self.layers) if self.layers else {}
        content = sum((self.content_layer_weights[n] * loss(feats[n])
                       for n, loss in self.content_losses.items()), zero)
        style = zero
        for group, weights, multiplier in self.regions:
            for n, loss in self.group_losses[group].items():
                w = None if weights is None else spatial.resize_weights(weights,
                                                                        feats[n].shape[-2:])
                style = style + multiplier * self.style_layer_weights[n] * loss(feats[n], w)
        tv = tv_loss(image, s.tv_exponent) if s.tv_weight > 0 else zero
        terms = {"content": s.content_weight * content, "style": s.style_weight * style,
                 "tv": s.tv_weight * tv}
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms


LossFn = Callable[[torch.Tensor], dict[str, torch.Tensor]]

# The variants register themselves into STYLE_LOSSES; importing them here (after everything they
# use is defined) means `from nst_core.losses import STYLE_LOSSES` always sees every entry.
from . import style_losses as _style_losses  # noqa: E402,F401
