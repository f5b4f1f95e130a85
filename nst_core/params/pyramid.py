"""Laplacian-pyramid parameterization: the image as a sum of band-pass levels.

STROTSS (Kolkin, Salavon and Shakhnarovich, "Style Transfer by Relaxed Optimal Transport and
Self-Similarity", CVPR 2019) optimizes the Laplacian pyramid of the output instead of its
pixels, and Lucid's experiments with multi-resolution parameterizations found the same: a
coefficient of a coarse band moves a whole region at once, so the layout and the large strokes
form in the first steps and the fine bands add texture later, without a coarse-to-fine schedule.

The bands live in logit space and the image is ``sigmoid(collapse(bands))``: any value of the
parameters is a valid image, so every optimizer (L-BFGS included) runs unconstrained, and the
init image is exactly representable (its logit pyramid collapses back to it).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from ..fields import option, option_values
from .base import Parameterization, per_pixel_lr

# STROTSS builds 5 levels at its smallest scale; the coarsest band here keeps at least this
# many pixels on its short side, so a small image gets fewer levels instead of 1-pixel bands.
LEVELS = 5
MIN_BAND_SIDE = 8
# Logit of init values clipped away from 0 and 1, where the logit is infinite (1/255 keeps
# every 8-bit value apart from the two extremes exact).
EPS = 1 / 255


def band_sizes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """(h, w) of each band, finest first: halved (rounded up) down to ``MIN_BAND_SIDE``."""
    sizes = [(height, width)]
    while len(sizes) < levels:
        h, w = sizes[-1]
        nh, nw = -(-h // 2), -(-w // 2)
        if min(nh, nw) < MIN_BAND_SIDE:
            break
        sizes.append((nh, nw))
    return sizes


def _down(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def _up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def decompose(image: torch.Tensor, sizes: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
    """Laplacian pyramid of ``image`` (finest band first, the low-pass residual last)."""
    gaussian = [image]
    for size in sizes[1:]:
        gaussian.append(_down(gaussian[-1], size))
    bands = [g - _up(coarser, g.shape[-2:]) for g, coarser in zip(gaussian, gaussian[1:])]
    return bands + [gaussian[-1]]


def collapse(bands: Sequence[torch.Tensor]) -> torch.Tensor:
    """The inverse of :func:`decompose`: upsample from the coarsest and add each band."""
    x = bands[-1]
    for band in reversed(bands[:-1]):
        x = band + _up(x, band.shape[-2:])
    return x


# The option (Settings.param_options) and its range: bands stop at MIN_BAND_SIDE anyway, which
# an 8192 px side reaches after 11.
OPTIONS = (option("levels", LEVELS, minimum=1, maximum=12,
                  help="bands of the pyramid (fewer when the image is small)"),)


def make_pyramid(shape: Sequence[int], init: Optional[torch.Tensor] = None, *,
                 generator: Optional[torch.Generator] = None,
                 device: str | torch.device = "cpu", **options
                 ) -> "tuple[list[torch.Tensor], callable]":
    """Registry factory: one learnable tensor per band, initialized from the init image's
    logit pyramid (or from uniform noise's, without an init image).

    Option (``Settings.param_options``, :data:`OPTIONS`): ``levels``, the number of bands
    (default 5; fewer when the image is small, so the coarsest keeps ``MIN_BAND_SIDE`` px).
    """
    levels = option_values("pyramid", OPTIONS, options)["levels"]
    n, c, h, w = shape
    if init is None:
        init = torch.rand(tuple(shape), generator=generator)
    start = init.detach().to(device=device, dtype=torch.float32).clamp(EPS, 1 - EPS)
    with torch.no_grad():
        bands = decompose(torch.logit(start), band_sizes(h, w, levels))
    params = [b.clone().requires_grad_(True) for b in bands]

    def image_fn() -> torch.Tensor:
        return torch.sigmoid(collapse(params))

    return params, image_fn


PYRAMID = Parameterization(
    make_pyramid,
    {"lbfgs": 1.0,  # a unit quasi-Newton step, as on pixels
     "adam": 0.1,  # in logit units; a coarse coefficient moves a whole region
     "sgd": per_pixel_lr(3e-8)},  # the finest band's gradients shrink with the pixel count
    "Laplacian pyramid: band-pass levels summed through a sigmoid, coarse structure first "
    "(STROTSS, Kolkin et al. 2019)", best="lbfgs", options=OPTIONS)
