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

from . import vgg
from .settings import Settings


def gram(features: torch.Tensor) -> torch.Tensor:
    """NxCxHxW -> NxCxC Gram matrix divided by H*W, so its scale does not depend on image size."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


class ContentLoss(nn.Module):
    """MSE between activations and the content image's activations at one layer."""

    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.register_buffer("target", target.detach())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(x, self.target)


class StyleLoss(nn.Module):
    """Base of the style losses: match statistics of one layer's activations.

    Subclasses implement ``stats(features)`` (computed for every style image once, then blended
    with the blend weights into one target buffer) and ``distance(x_stats, target)``.
    ``channels`` is the layer's width, for the per-layer normalization.
    """

    def __init__(self, style_features: Sequence[torch.Tensor], blend: Sequence[float]):
        super().__init__()
        total = float(sum(blend))
        with torch.no_grad():
            target = sum((w / total) * self.stats(f) for f, w in zip(style_features, blend))
        self.register_buffer("target", target)
        self.channels = style_features[0].shape[1]

    def stats(self, features: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def distance(self, stats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(stats, target)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.distance(self.stats(x), self.target)


class GramLoss(StyleLoss):
    """Gatys et al.'s style loss: MSE of Gram matrices, scaled by 1/C^2 per layer.

    The 1/C^2 layer weight is pastiche's (which writes 10/C^2; the 10 lives in the default
    style_weight here). It keeps the 64-channel and 512-channel layers in balance.
    """

    def stats(self, features: torch.Tensor) -> torch.Tensor:
        return gram(features)

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
    """

    def __init__(self, extractor: vgg.FeatureExtractor, content: torch.Tensor | None,
                 styles: Sequence[torch.Tensor], settings: Settings,
                 blend: Sequence[float] | None = None):
        super().__init__()
        self.extractor = extractor
        self.settings = s = settings
        self.content_layers = tuple(s.content_layers) if s.content_weight > 0 else ()
        self.style_layers = tuple(s.style_layers) if s.style_weight > 0 and styles else ()
        cw = s.content_layer_weights or (1.0,) * len(s.content_layers)
        sw = s.style_layer_weights or (1.0,) * len(s.style_layers)
        self.content_layer_weights = dict(zip(s.content_layers, cw))
        self.style_layer_weights = dict(zip(s.style_layers, sw))
        blend = list(blend) if blend is not None else [1.0] * len(styles)
        self.content_losses = nn.ModuleDict()
        self.style_losses = nn.ModuleDict()
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
                for name in self.style_layers:
                    self.style_losses[name] = loss_cls([f[name] for f in per_style], blend)
        self.layers = tuple(dict.fromkeys(self.content_layers + self.style_layers))

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        s = self.settings
        zero = image.new_zeros(())
        feats = self.extractor(image, self.layers) if self.layers else {}
        content = sum((self.content_layer_weights[n] * loss(feats[n])
                       for n, loss in self.content_losses.items()), zero)
        style = sum((self.style_layer_weights[n] * loss(feats[n])
                     for n, loss in self.style_losses.items()), zero)
        tv = tv_loss(image, s.tv_exponent) if s.tv_weight > 0 else zero
        terms = {"content": s.content_weight * content, "style": s.style_weight * style,
                 "tv": s.tv_weight * tv}
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms


LossFn = Callable[[torch.Tensor], dict[str, torch.Tensor]]
