"""Where each style applies: user masks (spatial control) and the content's edge mask.

Spatial control follows Gatys et al. 2017 ("Controlling Perceptual Factors in Neural Style
Transfer", section 4): each region r has a guidance map T_r; at every layer the map is
downsampled to the layer's resolution and the style statistics are computed over the features
weighted by it, against region r's own style. Positions no map covers get no style loss.

The edge-preserving split (after "Improved Image Style Transfer via CNN"-style edge losses) uses
the same machinery with two complementary maps from the content: E (strong edges) and 1 - E.

A region's loss is multiplied by its share of the image, so each pixel is pushed towards its
style with the same strength whatever the region's size, and a set of maps that covers the image
once gives a loss on the same scale as the unmasked one.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..imaging import images

# Two masks whose aspect ratios differ by more than this are taken to be for another image.
ASPECT_TOLERANCE = 0.03
# A region smaller than this share of the image is treated as empty (a stray painted pixel
# would otherwise get a full style target of its own).
MIN_MASK_SHARE = 1e-3

Region = tuple[int, "torch.Tensor | None", float]  # (style group, weight map 1x1xHxW, multiplier)


def _mask_array(src: Any, name: str) -> np.ndarray:
    """A mask source -> HxW float array in [0, 1].

    White (or opaque, for an image with transparency such as a painted layer) means "this style
    applies". Images with an alpha channel that is not fully opaque use the alpha channel, so a
    stroke layer from an image editor works as it is; everything else uses the luminance.
    """
    if isinstance(src, Image.Image):
        pil = src
    elif isinstance(src, np.ndarray) and src.ndim == 3 and src.shape[-1] == 4:
        pil = images._from_array(src, name)  # handles uint8/uint16/float; keeps the alpha
    else:
        pil = None
        rgb = images.load_image(src, name=name)  # validates paths, bytes, arrays, tensors
        if isinstance(src, (str, bytes, bytearray)) or hasattr(src, "__fspath__"):
            import io

            try:
                pil = Image.open(io.BytesIO(src) if isinstance(src, (bytes, bytearray)) else src)
                pil.load()
            except OSError:
                pil = None
        if pil is None:
            pil = rgb
    if pil.mode in ("RGBA", "LA", "PA") or (pil.mode == "P" and "transparency" in pil.info):
        alpha = np.asarray(pil.convert("RGBA"))[..., 3]
        if alpha.min() < 255:
            return alpha.astype(np.float32) / 255.0
    gray = images.load_image(pil, name=name).convert("L")
    return np.asarray(gray, dtype=np.float32) / 255.0


def load_mask(src: Any, size: tuple[int, int], *, name: str = "mask",
              device: str | torch.device = "cpu") -> torch.Tensor:
    """One mask source -> 1x1xHxW tensor in [0, 1] at ``size`` = (height, width).

    Raises :class:`~nst_core.imaging.images.ImageError` naming the mask if it cannot be read, is
    for an image of another shape, or is empty.
    """
    if src is None:
        raise images.ImageError(f"{name}: no mask given")
    arr = _mask_array(src, name)
    height, width = size
    mh, mw = arr.shape
    if abs(np.log((mw / mh) / (width / height))) > ASPECT_TOLERANCE:
        raise images.ImageError(f"{name}: {mw}x{mh} does not have the content image's aspect "
                                f"ratio ({width}x{height}); paint or scale it on the content")
    t = torch.from_numpy(np.ascontiguousarray(arr))[None, None]
    if (mh, mw) != (height, width):
        t = F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False,
                          antialias=True).clamp(0, 1)
    if float(t.mean()) < MIN_MASK_SHARE:
        raise images.ImageError(f"{name}: the mask is empty (no white or painted pixels); "
                                "white marks where its style applies")
    return t.to(device)


def load_masks(sources: Sequence[Any] | None, n_styles: int, size: tuple[int, int], *,
               device: str | torch.device = "cpu") -> list[torch.Tensor] | None:
    """One mask per style image (or None for no spatial control), validated."""
    if sources is None:
        return None
    if not isinstance(sources, (list, tuple)):
        sources = [sources]
    if len(sources) != n_styles:
        raise ValueError(f"{len(sources)} mask(s) for {n_styles} style image(s): give one mask "
                         "per style (white = where that style applies)")
    return [load_mask(src, size, name=f"mask {i + 1}" if n_styles > 1 else "mask",
                      device=device) for i, src in enumerate(sources)]


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of an NxCxHxW tensor (reflect padding); sigma in pixels."""
    if sigma <= 0:
        return image
    radius = max(1, int(3 * sigma + 0.5))  # +-3 sigma holds 99.7% of the kernel's mass
    radius = min(radius, image.shape[-1] - 1, image.shape[-2] - 1)
    x = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c = image.shape[1]
    out = F.pad(image, (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


# ITU-R BT.601 luma weights (the Y of YIQ/YCbCr).
_LUMA = (0.299, 0.587, 0.114)
# Sobel magnitudes are divided by this quantile of the image's own magnitudes, so the threshold
# means the same on a soft photo and on a sharp drawing; the top 1% are "full strength" edges.
EDGE_NORM_QUANTILE = 0.99


def sobel_magnitude(image: torch.Tensor) -> torch.Tensor:
    """Nx3xHxW RGB (or Nx1xHxW gray) in [0, 1] -> Nx1xHxW gradient magnitude of the luma."""
    if image.shape[1] == 3:
        luma = torch.tensor(_LUMA, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
        gray = (image * luma).sum(1, keepdim=True)
    else:
        gray = image
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                      dtype=image.dtype, device=image.device) / 8.0
    padded = F.pad(gray, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, kx.view(1, 1, 3, 3))
    gy = F.conv2d(padded, kx.t().contiguous().view(1, 1, 3, 3))
    return (gx.square() + gy.square()).sqrt()


def edge_mask(image: torch.Tensor, threshold: float, blur: float) -> torch.Tensor:
    """The content's edge map E in [0, 1] (1x1xHxW): Sobel magnitude of the (lightly
    pre-smoothed) luma, normalized by its 99th percentile, thresholded, then blurred so the edge
    band is soft and a few pixels wide."""
    with torch.no_grad():
        # Pre-smoothing keeps JPEG noise and fine texture from counting as edges.
        mag = sobel_magnitude(gaussian_blur(image, 1.0))
        top = torch.quantile(mag.flatten(), EDGE_NORM_QUANTILE).clamp_min(1e-6)
        strong = ((mag / top) >= threshold).to(image.dtype)
        return gaussian_blur(strong, blur).clamp(0, 1)


def style_regions(n_styles: int, blend: Sequence[float] | None,
                  masks: Sequence[torch.Tensor] | None, edge: torch.Tensor | None,
                  edge_weight: float | None) -> list[Region]:
    """The (style group, weight map, multiplier) terms of the style loss.

    Without masks there is one group (all styles blended) over the whole image. With masks,
    group i is style i alone on mask i, multiplied by mask i's share of the image and by its
    blend weight (normalized to a mean of 1, so 1:0 switches style 2 off). With an edge map,
    every term splits into its flat part (times 1) and its edge part (times ``edge_weight``).
    """
    if masks is None:
        base: list[Region] = [(0, None, 1.0)]
    else:
        w = list(blend) if blend is not None else [1.0] * n_styles
        total = float(sum(w))
        base = [(i, m, w[i] * n_styles / total * float(m.mean()))
                for i, m in enumerate(masks) if w[i] > 0]
    if edge is None or edge_weight is None:
        return base
    out: list[Region] = []
    for group, m, mult in base:
        full = m if m is not None else torch.ones_like(edge)
        share = float(full.mean())
        for part, k in ((full * (1 - edge), 1.0), (full * edge, float(edge_weight))):
            part_share = float(part.mean())
            if k > 0 and part_share >= MIN_MASK_SHARE * share:
                out.append((group, part, mult * k * part_share / share))
    return out


def resize_weights(weights: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """A 1x1xHxW map at a layer's resolution: the share of each feature cell's footprint that
    lies in the region (area averaging; Gatys et al. 2017 also downsample the guidance)."""
    if tuple(weights.shape[-2:]) == tuple(size):
        return weights
    return F.adaptive_avg_pool2d(weights, tuple(size))
