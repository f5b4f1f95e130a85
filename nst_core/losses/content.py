"""Content losses by name (:data:`CONTENT_LOSSES`): what is kept of the photo at the content
layers. Each is a module whose target is computed once and kept as a buffer; one that declares
``hypercolumns = True`` is built from every content layer at once (with the layer weights) and
called with all of them (:mod:`.hypercolumns`), as STROTSS's self-similarity loss is."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .strotss import SelfSimilarityLoss


class ContentLoss(nn.Module):
    """MSE between activations and the content image's activations at one layer."""

    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.register_buffer("target", target.detach())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(x, self.target)


# name -> content loss class. A new entry is picked up by settings validation, the CLI, the app
# and the parametrized tests.
CONTENT_LOSSES: dict[str, type[nn.Module]] = {
    "mse": ContentLoss,
    "self_similarity": SelfSimilarityLoss,
}

# One line each, for the CLI help and the app.
CONTENT_DESCRIPTIONS = {
    "mse": "mean squared error of the activations (Gatys et al.)",
    "self_similarity": "the pattern of similarities between positions, on sampled "
                       "hypercolumns (STROTSS, Kolkin et al. 2019)",
}


def get_content_loss(name: str) -> type[nn.Module]:
    if name not in CONTENT_LOSSES:
        raise ValueError(f"unknown content loss {name!r}; choose from: "
                         f"{', '.join(CONTENT_LOSSES)}")
    return CONTENT_LOSSES[name]
