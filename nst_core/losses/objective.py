"""Loss modules and the full objective.

Each loss is a small module in the manner of crowsonkb/style-transfer-pytorch: its target is
computed once under ``no_grad`` and kept as a buffer, and ``forward`` returns the loss value.
The :class:`Objective` is built from plain weights and layer names and returns every term
separately (already weighted) plus their total, so the UI can plot each. Its targets are set
through :meth:`Objective.set_content` and :meth:`Objective.set_styles`, which may be called
again to retarget it (as pystiche's ``set_target_image`` does): a tiled run points the content
loss at each tile's crop while the style targets stay those of the whole image.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from . import spatial
from ..imaging import vgg
from .content import ContentLoss, get_content_loss
from .hypercolumns import HYPERCOLUMNS
from .style import get_style_loss

__all__ = ["ContentLoss", "Objective", "tv_loss"]


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
    """content + style + tv; ``forward(image)`` returns every weighted term and ``total``.

    ``content_layers`` and ``style_layers`` map VGG19 layer names to per-layer weights; an empty
    mapping switches that term off. ``image`` is NCHW RGB in [0, 1]. Targets come from
    :meth:`set_content` and :meth:`set_styles`; ``style_losses`` is the first style group's
    per-layer losses (without masks, the only group).
    """

    def __init__(self, extractor: vgg.FeatureExtractor, *,
                 content_layers: Mapping[str, float] | None = None,
                 style_layers: Mapping[str, float] | None = None,
                 content_weight: float = 1.0, style_weight: float = 1.0,
                 tv_weight: float = 0.0, tv_exponent: float = 1.25, style_loss: str = "gram",
                 content_loss: str = "mse"):
        super().__init__()
        self.extractor = extractor
        self.content_layer_weights = dict(content_layers or {})
        self.style_layer_weights = dict(style_layers or {})
        self.content_layers = tuple(self.content_layer_weights)
        self.style_layers = tuple(self.style_layer_weights)
        self.layers = tuple(dict.fromkeys(self.content_layers + self.style_layers))
        self.weights = {"content": float(content_weight), "style": float(style_weight),
                        "tv": float(tv_weight)}
        self.tv_exponent = tv_exponent
        self.style_loss_cls = get_style_loss(style_loss)
        self.content_loss_cls = get_content_loss(content_loss)
        self.content_losses = nn.ModuleDict()
        self.group_losses = nn.ModuleList()
        self.regions: list[spatial.Region] = []

    @property
    def style_losses(self) -> nn.ModuleDict:
        return self.group_losses[0] if len(self.group_losses) else nn.ModuleDict()

    def set_content(self, content: torch.Tensor) -> None:
        """(Re)target the content losses at ``content`` (what VGG sees of the content image)."""
        if not self.content_layers:
            return
        with torch.no_grad():
            feats = self.extractor(content, self.content_layers)
        cls = self.content_loss_cls
        if getattr(cls, "hypercolumns", False):  # every layer at once, the loss weighs them
            self.content_losses = nn.ModuleDict({HYPERCOLUMNS: cls(
                feats, self.content_layer_weights)})
        else:
            self.content_losses = nn.ModuleDict({name: cls(feats[name])
                                                 for name in self.content_layers})

    def set_styles(self, features: Sequence[Mapping[str, torch.Tensor]],
                   blend: Sequence[float] | None = None,
                   masks: Sequence[torch.Tensor] | None = None,
                   edge: torch.Tensor | None = None, edge_weight: float | None = None) -> None:
        """(Re)target the style losses at the styles' features (one layer dict per style).

        Without ``masks`` one target blends every style by ``blend`` (default equal); with
        masks (one 1x1xHxW map per style, :mod:`nst_core.losses.spatial`) each style is its own
        group on its region. ``edge`` and ``edge_weight`` split every region at the content's
        edges.
        """
        if not self.style_layers:
            return
        n = len(features)
        weights = list(blend) if blend is not None else [1.0] * n
        groups = [(range(n), weights)] if masks is None else [([i], [1.0]) for i in range(n)]
        with torch.no_grad():
            self.group_losses = nn.ModuleList(self._style_group([features[i] for i in idx], w)
                                              for idx, w in groups)
            self.regions = spatial.style_regions(n, blend, masks, edge, edge_weight)

    def _style_group(self, features: Sequence[Mapping[str, torch.Tensor]],
                     blend: Sequence[float]) -> nn.ModuleDict:
        """One style group's losses: one per layer, or one over every layer (hypercolumns)."""
        cls = self.style_loss_cls
        if getattr(cls, "hypercolumns", False):
            return nn.ModuleDict({HYPERCOLUMNS: cls(
                [{n: f[n] for n in self.style_layers} for f in features], blend,
                self.style_layer_weights)})
        return nn.ModuleDict({name: cls([f[name] for f in features], blend)
                              for name in self.style_layers})

    def set_style_images(self, styles: Sequence[torch.Tensor], **kwargs) -> None:
        """:meth:`set_styles` from style images (what VGG sees of them)."""
        with torch.no_grad():
            features = [self.extractor(img, self.style_layers) for img in styles]
        self.set_styles(features, **kwargs)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if (self.content_layers and not len(self.content_losses)) or \
                (self.style_layers and not self.regions):
            raise RuntimeError("the objective has no targets yet: call set_content/set_styles")
        zero = image.new_zeros(())
        feats = self.extractor(image, self.layers) if self.layers else {}
        content = sum((loss(_only(feats, self.content_layers)) if n == HYPERCOLUMNS else
                       self.content_layer_weights[n] * loss(feats[n])
                       for n, loss in self.content_losses.items()), zero)
        style = zero
        for group, weights, multiplier in self.regions:
            for n, loss in self.group_losses[group].items():
                if n == HYPERCOLUMNS:  # every layer at once; the loss weighs the layers
                    style = style + multiplier * loss(_only(feats, self.style_layers), weights)
                    continue
                w = None if weights is None else spatial.resize_weights(weights,
                                                                        feats[n].shape[-2:])
                style = style + multiplier * self.style_layer_weights[n] * loss(feats[n], w)
        tv = tv_loss(image, self.tv_exponent) if self.weights["tv"] > 0 else zero
        terms = {"content": self.weights["content"] * content,
                 "style": self.weights["style"] * style, "tv": self.weights["tv"] * tv}
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms


def _only(feats: Mapping[str, torch.Tensor], layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """The activations of ``layers`` (a term's hypercolumn) out of every extracted layer."""
    return {name: feats[name] for name in layers}
