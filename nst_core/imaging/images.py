"""Image input/output: any source and mode in, validated RGB out; tensors in [0, 1].

Every problem with an input raises :class:`ImageError` (a ValueError) whose message names the
input and the problem, so the CLI and the app can show it as it is.
"""
from __future__ import annotations

import io
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence, Union

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from . import vgg
from ..fields import bound_json

# Largest decoded input we accept. PIL's own bomb guard (Image.MAX_IMAGE_PIXELS, ~89 MP) only
# warns below twice its limit; we refuse earlier and with our own message.
MAX_INPUT_PIXELS = 64_000_000
# Largest output side the engine accepts unless a caller raises it (tiling handles larger).
MAX_SIDE = 8192

BOMB_GUARD = "image is too large to decode safely (decompression bomb guard)"

ImageSource = Union[str, os.PathLike, bytes, bytearray, Image.Image, np.ndarray, torch.Tensor]


class ImageError(ValueError):
    """An input image that cannot be used; the message says why."""


def _describe(src: Any, name: str | None) -> str:
    if name:
        return name
    if isinstance(src, (str, os.PathLike)):
        return os.fspath(src)
    return type(src).__name__


def _from_array(arr: np.ndarray, label: str) -> Image.Image:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # CHW -> HWC
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ImageError(f"{label}: array of shape {arr.shape} is not an image "
                         "(expected HxW, HxWx3 or HxWx4)")
    if arr.size == 0:
        raise ImageError(f"{label}: empty array")
    if arr.dtype == np.uint8:
        pass
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageError(f"{label}: array holds NaN or infinite values")
        # Floats are taken as [0, 1] unless they are clearly 0-255.
        scale = 255.0 if arr.max() <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).round().astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        top = 1 if arr.dtype == np.bool_ else (65535 if arr.max() > 255 else 255)
        arr = np.clip(arr.astype(np.float64) * (255.0 / top), 0, 255).round().astype(np.uint8)
    else:
        raise ImageError(f"{label}: unsupported array type {arr.dtype}")
    return Image.fromarray(arr)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparency is composited over white."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # PIL's own convert("RGB") clips these to 0-255; rescale by the type's range instead.
        arr = np.asarray(img, dtype=np.float64)
        if mode == "F":
            top = 1.0 if np.nanmax(arr) <= 1.0 else 255.0
        else:
            top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(np.nan_to_num(arr) * (255.0 / top), 0, 255).round().astype(np.uint8)
        return Image.fromarray(arr).convert("RGB")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, img).convert("RGB")
    return img.convert("RGB")


def _open_file(src: Any, label: str) -> Image.Image:
    """A path or bytes opened lazily: Pillow reads the header only, no pixels yet."""
    if isinstance(src, (bytes, bytearray)):
        if not src:
            raise ImageError(f"{label}: empty file")
        fp: Any = io.BytesIO(src)
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise ImageError(f"{label}: file not found")
        if path.stat().st_size == 0:
            raise ImageError(f"{label}: empty file")
        fp = path
    else:
        raise ImageError(f"{label}: cannot read an image from a {type(src).__name__}")
    try:
        with warnings.catch_warnings():
            # Pillow warns from its own limit: the caller checks the dimensions first (with a
            # message that names them), then Pillow's limit (:func:`_check_pixels`).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(fp)
    except Image.DecompressionBombError:
        raise ImageError(f"{label}: {BOMB_GUARD}") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image file (or a format Pillow cannot read)") \
            from None
    except OSError as exc:
        raise ImageError(f"{label}: could not open image: {exc}") from None


def _check_pixels(img: Image.Image, label: str, max_pixels: int, from_file: bool) -> None:
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageError(f"{label}: image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise ImageError(f"{label}: {w}x{h} is {w * h / 1e6:.3g} megapixels; the limit is "
                         f"{max_pixels / 1e6:.3g} megapixels")
    if from_file and Image.MAX_IMAGE_PIXELS and w * h > Image.MAX_IMAGE_PIXELS:
        raise ImageError(f"{label}: {BOMB_GUARD}")


def check_header(src: str | os.PathLike | bytes, *, name: str | None = None,
                 max_pixels: int = MAX_INPUT_PIXELS) -> tuple[int, int]:
    """(width, height) of an image file from its header alone, with the checks
    :func:`load_image` makes before decoding: a file that is no image, or one whose dimensions
    are over ``max_pixels`` (a decompression bomb: a few KB that decode to gigabytes), is
    refused here without decoding a pixel. For callers that must refuse before anything else
    touches the file (an upload)."""
    label = _describe(src, name)
    with _open_file(src, label) as img:
        _check_pixels(img, label, max_pixels, from_file=True)
        return img.size


def load_image(src: ImageSource, *, name: str | None = None,
               max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """Load any supported source into an RGB PIL image, EXIF orientation applied.

    Accepts a path, bytes, a PIL image, a NumPy array (HxW, HxWxC or CxHxW; uint8, uint16 or
    float in [0, 1]) or a tensor (CHW/NCHW in [0, 1]). Files are checked by their header
    (dimensions within ``max_pixels``) before any pixel is decoded.
    """
    label = _describe(src, name)
    if src is None:
        raise ImageError(f"{name or 'image'}: no image given")
    if isinstance(src, torch.Tensor):
        t = src.detach().float().cpu()
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise ImageError(f"{label}: a batch of {t.shape[0]} images; pass one")
            t = t[0]
        return load_image(t.numpy(), name=label, max_pixels=max_pixels)
    if isinstance(src, np.ndarray):
        img = _from_array(src, label)
    elif isinstance(src, Image.Image):
        img = src
    else:
        img = _open_file(src, label)
    _check_pixels(img, label, max_pixels,
                  from_file=isinstance(src, (bytes, bytearray, str, os.PathLike)))
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
        return _to_rgb(img)
    except OSError as exc:  # truncated or corrupt data shows up when pixels are decoded
        raise ImageError(f"{label}: image data is corrupt or truncated ({exc})") from None


def saturated_fraction(img: Image.Image) -> float:
    """The fraction of an RGB image's channel values at 0 or 255: near 1 for the binary noise
    an optimizer that blew up leaves (e.g. an absurd learning rate), small for a picture."""
    arr = np.asarray(img.convert("RGB"))
    return float(np.mean((arr == 0) | (arr == 255))) if arr.size else 0.0


# A result with more than this share of its colour values at 0 or 255 is reported as saturated.
SATURATED = 0.5


def saturation_note(image: Image.Image, content: Image.Image | None) -> str | None:
    """A warning when most of a result's values sit at 0 or 255 (and far more than in the
    content): the binary noise of a run that blew up, which the loss alone does not show."""
    share = saturated_fraction(image)
    if share <= SATURATED:
        return None
    if content is not None and share - saturated_fraction(
            resize(content, image.size)) < SATURATED / 2:
        return None  # the content itself is mostly pure black or white
    return (f"{share:.0%} of the result's colour values are pure 0 or 255: the run saturated "
            "(usually a learning rate far too high); lower lr or use the method's default")


def vgg_min_side(layers: Sequence[str]) -> tuple[int, str]:
    """(shortest image side in pixels the layers need, the deepest of them): VGG19 halves the
    image at each 2x2 pooling up to the deepest layer, and a side below one position after
    them fails inside the network."""
    chosen = [layer for layer in layers if layer in vgg.LAYER_INDEX]
    if not chosen:
        return 1, ""
    deepest = max(chosen, key=vgg.LAYER_INDEX.__getitem__)
    pools = sum(1 for name in vgg.LAYER_NAMES[:vgg.LAYER_INDEX[deepest] + 1]
                if name.startswith("pool"))
    return 2 ** pools, deepest


def check_min_side(label: str, size: int, dims_at: Callable[[int], tuple[int, int]],
                   need: int, deepest: str, limit: int = MAX_SIDE) -> None:
    """ImageError unless the image, at output size ``size`` (``dims_at(size)``: its (w, h)
    there), has a short side of at least ``need`` px (:func:`vgg_min_side`). The message names
    the smallest output size that would work, if one up to ``limit`` does."""
    w, h = dims_at(size)
    if min(w, h) >= need:
        return
    working = next((z for z in range(size + 1, limit + 1) if min(dims_at(z)) >= need), None)
    hint = (f"size {working} px or more would work" if working is not None
            else f"no size up to {limit} px works")
    raise ImageError(f"{label}: at size {size} px it is {w}x{h} px, but the layers chosen "
                     f"(deepest: {deepest}) need a short side of at least {need} px; {hint}, "
                     "or crop it to a less extreme aspect ratio")


def fit_size(width: int, height: int, longest: int) -> tuple[int, int]:
    """(w, h) scaled so that the longest side is `longest`, each side at least 1."""
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def area_size(width: int, height: int, pixels: float) -> tuple[int, int]:
    """(w, h) with the aspect ratio of (width, height) and about `pixels` pixels."""
    h = math.sqrt(pixels * height / width)
    return max(1, round(width * h / height)), max(1, round(h))


def style_size(style: tuple[int, int], content: tuple[int, int], scale: float = 1.0
               ) -> tuple[int, int]:
    """A style image's working (w, h): its aspect ratio, the content's area times scale^2."""
    return area_size(*style, content[0] * content[1] * scale ** 2)


def resize(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    if img.size == tuple(size):
        return img
    # LANCZOS when shrinking avoids aliasing that the style loss would read as texture.
    return img.resize(tuple(size), Image.Resampling.LANCZOS)


def to_tensor(img: Image.Image, device: str | torch.device = "cpu") -> torch.Tensor:
    """RGB PIL image -> 1x3xHxW float tensor in [0, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


def quantize(t: torch.Tensor) -> torch.Tensor:
    """[0, 1] tensor -> the tensor an 8-bit PNG of it would load back as."""
    return (t.detach().clamp(0, 1) * 255.0).round() / 255.0


def to_pil(t: torch.Tensor) -> Image.Image:
    """1x3xHxW (or 3xHxW) tensor in [0, 1] -> RGB PIL image."""
    if t.ndim == 4:
        t = t[0]
    arr = (t.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    return Image.fromarray(arr.permute(1, 2, 0).cpu().numpy(), "RGB")


SETTINGS_PNG_KEY = "nst_settings"


def save_png(img: Image.Image, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Save as PNG; `metadata` is embedded as JSON in a text chunk (see :func:`read_png_settings`)."""
    info = PngImagePlugin.PngInfo()
    if metadata is not None:
        info.add_text(SETTINGS_PNG_KEY, json.dumps(metadata, sort_keys=True))
    img.save(path, format="PNG", pnginfo=info)


def png_bytes(img: Image.Image, metadata: dict | None = None) -> bytes:
    buf = io.BytesIO()
    save_png(img, buf, metadata)
    return buf.getvalue()


def read_png_settings(src: ImageSource) -> dict:
    """The metadata dict :func:`save_png` embedded; ImageError if there is none."""
    label = _describe(src, None)
    try:
        img = src if isinstance(src, Image.Image) else Image.open(
            io.BytesIO(src) if isinstance(src, (bytes, bytearray)) else src)
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(f"{label}: not an image file ({exc})") from None
    text = getattr(img, "text", {}) or img.info
    raw = text.get(SETTINGS_PNG_KEY)
    if raw is None:
        raise ImageError(f"{label}: holds no settings (only PNGs saved by this tool do)")
    try:
        bound_json(raw, f"{label}: its settings")
    except ValueError as exc:
        raise ImageError(str(exc)) from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise ImageError(f"{label}: its settings text is not valid JSON") from None
