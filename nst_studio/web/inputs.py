"""A job's inputs from the page: the content image, the style slots with their blend weights,
and the masks (painted or uploaded), each read and checked once, with messages naming it."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from nst_core.imaging import images
from nst_core.losses import spatial
from . import files
from .jobs import JOBS

# Image formats every browser shows (others are shown, and used, as a PNG of what is read).
BROWSER_FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP", "BMP"})


@dataclass
class Inputs:
    """A job's images, read: what the engine gets (it reads nothing from disk again)."""

    content: Image.Image | None
    styles: list[Image.Image]
    masks: list[Image.Image] | None = None  # one per style, at the content's size (greyscale)


def check_upload(path: str | os.PathLike, label: str) -> str:
    """A clear message for an upload the image reader refuses (for the app's upload hook)."""
    try:
        images.load_image(path, name=label)
    except images.ImageError as exc:
        return str(exc)
    return f"{label}: could not be read as an image"


def collect_styles(styles: Sequence[Any], weights: Sequence[Any]) -> tuple[list[Any], list[float]]:
    """The style slots that hold an image, with their blend weights."""
    chosen, blend = [], []
    for i, (style, weight) in enumerate(zip(styles, weights)):
        if style is None:
            continue
        try:
            w = float(weight if weight not in (None, "") else 1.0)
        except (TypeError, ValueError):
            raise ValueError(f"blend weight of style {i + 1} must be a number, "
                             f"got {weight!r}") from None
        if math.isnan(w):
            raise ValueError(f"blend weight of style {i + 1} is not a number (NaN); give a "
                             "weight from 0 to 1")
        if not (w >= 0 and math.isfinite(w)):
            raise ValueError(f"blend weight of style {i + 1} must be >= 0, got {weight!r}")
        chosen.append(style)
        blend.append(w)
    if len(chosen) > 1 and sum(blend) <= 0:
        raise ValueError("every style's blend weight is 0; give at least one a weight above 0")
    return chosen, blend


def load_inputs(content: Any, styles: Sequence[Any], need_content: bool = True) -> Inputs:
    """Read and check the uploaded images once, with messages naming each one.
    ``need_content=False`` (texture synthesis) accepts a missing content image."""
    if content is None and need_content:
        raise ValueError("no content image: upload one (or pick an example)")
    content_img = None if content is None else images.load_image(content, name="content image")
    style_imgs = [images.load_image(s, name="style image" if len(styles) == 1
                                    else f"style image {i + 1}") for i, s in enumerate(styles)]
    return Inputs(content_img, style_imgs)


def browser_copy(path: str | os.PathLike | None, label: str) -> str | None:
    """For an upload a browser cannot show (TIFF, PPM, ...): a PNG of the image exactly as the
    reader reads it (8-bit RGB, so reading the PNG gives the same pixels), to show and use in
    its place; None for formats a browser shows (the upload stays as it was sent)."""
    if path is None:
        return None
    images.check_header(path, name=label)
    with Image.open(path) as img:
        if img.format in BROWSER_FORMATS:
            return None
    png = files.output_dir() / f"upload_{JOBS.next_id()}.png"
    images.load_image(path, name=label).save(png, format="PNG")
    return str(png)


def mask_canvas(content: Any) -> dict[str, Any] | None:
    """The value of a mask painter: the content image as its background, nothing painted.
    The background is the content as the job reads it (8-bit RGB, any format a browser
    cannot show converted); an image the reader refuses (a bomb: by its header) raises."""
    if content is None:
        return None
    image = images.load_image(content, name="content image")
    return {"background": image, "layers": [], "composite": image}


def _as_pil(image: Any) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return Image.fromarray(image)
    return Image.open(image)  # a file path (an editor with type="filepath")


def painted_mask(value: Any) -> Image.Image | None:
    """A mask painter's value (``{"background", "layers", "composite"}``) -> the painted area
    as a greyscale mask (white = painted: the union of every layer's opaque pixels), or None
    when nothing is painted. The background (the content image) is not part of the mask."""
    if not value or not isinstance(value, Mapping):
        return None
    alpha = None
    for layer in value.get("layers") or ():
        if layer is None:
            continue
        a = np.asarray(_as_pil(layer).convert("RGBA"))[..., 3]
        alpha = a if alpha is None or alpha.shape != a.shape else np.maximum(alpha, a)
    if alpha is None or not alpha.any():
        return None
    return Image.fromarray(alpha, "L")


def collect_masks(styles: Sequence[Any], painted: Sequence[Any], uploaded: Sequence[Any]
                  ) -> list[Any] | None:
    """One mask per style slot that holds an image (an uploaded mask wins over a painted one),
    or None when no slot has a mask (no spatial control). Masks must be given for every style
    or for none: the engine gives unmasked areas no style, so a style without a mask would
    simply never apply."""
    n = len(styles)
    painted = list(painted) + [None] * (n - len(painted))
    uploaded = list(uploaded) + [None] * (n - len(uploaded))
    masks, missing = [], []
    for i in range(n):
        mask = uploaded[i] if uploaded[i] is not None else painted_mask(painted[i])
        if styles[i] is None:
            if mask is not None:
                raise ValueError(f"mask {i + 1} is for an empty style slot: upload style image "
                                 f"{i + 1} or clear its mask")
            continue
        masks.append(mask)
        if mask is None:
            missing.append(i + 1)
    if len(missing) == len(masks):
        return None
    if missing:
        which = ", ".join(map(str, missing))
        raise ValueError(f"style image {which} has no mask: with spatial control every style "
                         "needs one (white/painted = where that style applies; areas no mask "
                         "covers get no style)")
    return masks


def read_masks(masks: Sequence[Any] | None, content: Image.Image | None
               ) -> list[Image.Image] | None:
    """Read every mask once against the content image's shape, so an unreadable, empty or
    wrongly shaped mask is reported before the job starts (the engine's messages). Returns
    them as greyscale images at the content's size: the engine takes them from memory."""
    if masks is None or content is None:
        return None
    loaded = spatial.load_masks(list(masks), len(masks), (content.height, content.width))
    return [Image.fromarray(np.round(t[0, 0].numpy() * 255).astype(np.uint8), "L")
            for t in loaded]
