"""Fourier parameterization with decorrelated colour (Mordvintsev et al., "Differentiable Image
Parameterizations", Distill 2018; Lucid's ``fft_image`` and ``to_valid_rgb``).

Two independent pieces, composed by :func:`make_fft`:

* spatial: :class:`FourierImage` holds the real-FFT coefficients of an unbounded image, each
  frequency scaled by ``1 / f**decay_power``, so plain gradient steps change low frequencies more
  than high ones (the spectrum of natural images falls roughly as 1/f);
* colour: :func:`to_valid_rgb` maps three decorrelated channels to RGB with the square root of
  ImageNet's colour correlation matrix, then squashes them into [0, 1] with a sigmoid.
  :func:`from_valid_rgb` is its exact inverse, which is how the coefficients are initialized
  from the content image.

The pieces are separate so either can be reused (e.g. decorrelated colour on raw pixels).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from ..imaging.device_constants import constant
from ..fields import option, option_values
from .base import Parameterization

# Lucid's ``color_correlation_svd_sqrt`` (lucid/optvis/param/color.py): the square root, by SVD,
# of the 3x3 correlation of RGB values over ImageNet. Multiplying by it turns three
# uncorrelated channels into naturally correlated RGB.
COLOR_CORRELATION_SVD_SQRT = torch.tensor([[0.26, 0.09, 0.02],
                                           [0.27, 0.00, -0.05],
                                           [0.27, -0.09, 0.03]])
# Lucid divides by the largest column norm so no decorrelated channel is amplified.
COLOR_CORRELATION_NORMALIZED = (COLOR_CORRELATION_SVD_SQRT
                                / COLOR_CORRELATION_SVD_SQRT.norm(dim=0).max())
# Lucid's fft_image divides the spatial image by 4 ("magic" constant in lucent too): it keeps the
# sigmoid's input small at the start, where its slope is largest.
SPATIAL_SCALE = 4.0
# Lucid's standard deviation of the random initial coefficients.
NOISE_SD = 0.01
# Inverting the sigmoid needs values strictly inside (0, 1). 1e-3 is far below half an 8-bit
# level (1/510), so the 8-bit image of an inverted content is the content itself.
SIGMOID_EPS = 1e-3


def _to_rgb_matrix(device, dtype) -> torch.Tensor:
    # Kept on the device: image_fn reads it at every step.
    return constant("fft_color_correlation", device, dtype, lambda: COLOR_CORRELATION_NORMALIZED)


def decorrelated_to_rgb(t: torch.Tensor) -> torch.Tensor:
    """Nx3xHxW decorrelated channels -> unbounded RGB (Lucid's ``_linear_decorelate_color``)."""
    return torch.einsum("ij,njhw->nihw", _to_rgb_matrix(t.device, t.dtype), t)


def rgb_to_decorrelated(t: torch.Tensor) -> torch.Tensor:
    """Exact inverse of :func:`decorrelated_to_rgb`."""
    inverse = torch.linalg.inv(_to_rgb_matrix(t.device, torch.float64)).to(t.dtype)
    return torch.einsum("ij,njhw->nihw", inverse, t)


def to_valid_rgb(t: torch.Tensor, decorrelate: bool = True) -> torch.Tensor:
    """Unbounded channels -> RGB in (0, 1): optional colour decorrelation, then a sigmoid."""
    if decorrelate:
        t = decorrelated_to_rgb(t)
    return torch.sigmoid(t)


def from_valid_rgb(image: torch.Tensor, decorrelate: bool = True) -> torch.Tensor:
    """The unbounded channels whose :func:`to_valid_rgb` is ``image`` (clipped to (eps, 1-eps))."""
    t = torch.logit(image.clamp(SIGMOID_EPS, 1 - SIGMOID_EPS))
    return rgb_to_decorrelated(t) if decorrelate else t


def rfft2d_freqs(height: int, width: int) -> torch.Tensor:
    """|f| of every coefficient of an rfft2 of an HxW image (Lucid's ``rfft2d_freqs``).

    Lucid takes ``w // 2 + 2`` columns for odd widths; an rfft of width w has ``w // 2 + 1``,
    which is what ``torch.fft.irfft2(..., s=(h, w))`` reads, so we use that for every width.
    """
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


class FourierImage:
    """An unbounded Nx3xHxW image stored as scaled rfft2 coefficients (the spatial piece).

    ``coeffs`` is a real tensor Nx3xHx(W//2+1)x2 (real and imaginary parts), so every optimizer,
    L-BFGS included, sees plain real parameters. ``image = irfft2(coeffs * scale) * 4``, with
    an orthonormal FFT so the coefficient scale does not depend on the image size.
    """

    def __init__(self, shape: Sequence[int], decay_power: float = 1.0,
                 device: str | torch.device = "cpu"):
        if decay_power < 0:
            raise ValueError(f"decay_power must be >= 0, got {decay_power}")
        n, c, h, w = shape
        self.size = (h, w)
        freqs = rfft2d_freqs(h, w)
        # Lucid: 1 / max(f, 1/max(h, w))^decay. The floor keeps the DC term finite, at the
        # weight of the lowest non-zero frequency.
        self.scale = (1.0 / freqs.clamp(min=1.0 / max(h, w)) ** decay_power).to(device)
        self.coeffs = torch.zeros((n, c, h, w // 2 + 1, 2), device=device)

    def image(self) -> torch.Tensor:
        spectrum = torch.view_as_complex(self.coeffs) * self.scale
        return torch.fft.irfft2(spectrum, s=self.size, norm="ortho") / SPATIAL_SCALE

    def set_image(self, t: torch.Tensor) -> None:
        """Set the coefficients so that :meth:`image` returns ``t`` (to float precision)."""
        spectrum = torch.fft.rfft2(t.to(self.coeffs.device, torch.float64) * SPATIAL_SCALE,
                                   norm="ortho") / self.scale.double()
        with torch.no_grad():
            self.coeffs.copy_(torch.view_as_real(spectrum).float())


# The options (Settings.param_options) and their ranges: Lucid's decay power is 1 and its noise
# spread 0.01; the ranges leave room for steeper spectra and wider noise.
OPTIONS = (
    option("decay_power", 1.0, minimum=0.0, maximum=4.0,
           help="how steeply high frequencies are damped, 1/f^p (1 as in Lucid; 0: a plain "
                "Fourier basis)"),
    option("decorrelate", True, help="decorrelated colour (false: the channels are RGB "
                                     "logits)"),
    option("sd", NOISE_SD, minimum=0.0, maximum=1.0,
           help="spread of the random coefficients when there is no init image"),
)


def make_fft(shape: Sequence[int], init: Optional[torch.Tensor] = None, *,
             generator: Optional[torch.Generator] = None, device: str | torch.device = "cpu",
             **options) -> "tuple[list[torch.Tensor], callable]":
    """Registry factory: Fourier coefficients -> decorrelated colour -> sigmoid -> RGB.

    Options (``Settings.param_options``, :data:`OPTIONS`): ``decay_power`` (1 as in Lucid; 0
    gives a plain, unscaled Fourier basis), ``decorrelate`` (False: the three channels are RGB
    logits) and ``sd`` (spread of the random coefficients when there is no init image).
    """
    o = option_values("fft", OPTIONS, options)
    decay_power, decorrelate, sd = o["decay_power"], o["decorrelate"], o["sd"]
    spatial = FourierImage(shape, float(decay_power), device)
    if init is not None:
        if tuple(init.shape) != tuple(shape):
            raise ValueError(f"init image of shape {tuple(init.shape)} does not match "
                             f"{tuple(shape)}")
        spatial.set_image(from_valid_rgb(init.double(), decorrelate))
    else:
        noise = torch.randn(spatial.coeffs.shape, generator=generator) * float(sd)
        spatial.coeffs.copy_(noise.to(spatial.coeffs.device))
    spatial.coeffs.requires_grad_(True)

    def image_fn() -> torch.Tensor:
        return to_valid_rgb(spatial.image(), decorrelate)

    return [spatial.coeffs], image_fn


FFT = Parameterization(
    make_fft,
    {"lbfgs": 1.0,  # a unit quasi-Newton step, as on pixels
     "adam": 0.05,  # Lucid's default for Fourier coefficients
     "sgd": 5e-8},  # swept: the best rate barely moves with the size, so a constant
    "Fourier coefficients scaled by 1/f, decorrelated colour, sigmoid (Distill "
    "'Differentiable Image Parameterizations')", best="lbfgs", options=OPTIONS)
