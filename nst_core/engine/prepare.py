"""A run prepared once: the inputs loaded and resized, the objective built and its targets
computed (:func:`prepare`), before the loop (:mod:`nst_core.engine.loop`) optimizes it."""
from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from ..imaging import color, images, vgg
from ..losses import spatial
from ..losses.objective import Objective
from ..job import as_styles, check_inputs
from ..settings import Settings
from . import tiling
from .device import resolve_device, tune_backend


@dataclass
class Prepared:
    """Everything a run needs, computed once: images at working size, objective, views."""

    settings: Settings
    device: torch.device
    content: torch.Tensor  # 1x3xHxW in [0, 1], the content at output size
    styles: list[torch.Tensor]  # style images as the loss sees them (colour-adjusted)
    objective: Objective
    init: torch.Tensor | None  # starting image, or None for the parameterization's noise
    seed: int
    setup_seconds: float

    def view(self, image: torch.Tensor) -> torch.Tensor:
        """What VGG sees of an image (its luminance, in luminance mode)."""
        s = self.settings
        if s.preserve_color == "luminance":
            return color.gray3(color.luminance(image, s.luminance_space))
        return image

    def output(self, image: torch.Tensor) -> torch.Tensor:
        """The image a user gets (the content's chroma put back, in luminance mode)."""
        s = self.settings
        if s.preserve_color == "luminance":
            return color.with_chroma(color.luminance(image, s.luminance_space), self.content,
                                     s.luminance_space)
        return image


def load_inputs(content: images.ImageSource, styles_src: Sequence[Any], s: Settings,
                device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor], int, int]:
    """The content at output size and the styles at their working scale (their area is the
    content's times style_scale^2), histogram-matched when that option is on; and (w, h)."""
    content_img = images.load_image(content, name="content image")
    # Too small a side for the deepest layer fails inside VGG19: refuse it here, by name.
    need, deepest = images.vgg_min_side(
        (*(s.content_layers if s.content_weight > 0 else ()),
         *(s.style_layers if s.style_weight > 0 and styles_src else ())))
    images.check_min_side("content image", s.size,
                          lambda z: images.fit_size(*content_img.size, z), need, deepest)
    width, height = images.fit_size(*content_img.size, s.size)
    content_t = images.to_tensor(images.resize(content_img, (width, height)), device)
    styles = []
    for i, src in enumerate(styles_src):
        name = f"style image {i + 1}" if len(styles_src) > 1 else "style image"
        img = images.load_image(src, name=name)
        images.check_min_side(name, s.size, lambda z: images.style_size(
            img.size, images.fit_size(*content_img.size, z), s.style_scale), need, deepest)
        styles.append(images.to_tensor(images.resize(img, images.style_size(
            img.size, (width, height), s.style_scale)), device))
    if s.preserve_color == "histogram":
        styles = [color.match_histogram(t, content_t) for t in styles]
    return content_t, styles, width, height


def _views(s: Settings, content: torch.Tensor, styles: list[torch.Tensor]
           ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """What VGG sees of the content and the styles: in luminance mode their luminance (the
    styles' matched to the content's mean and spread, Gatys et al. 2016b), else the images."""
    if s.preserve_color != "luminance":
        return content, styles
    content_y = color.luminance(content, s.luminance_space)
    return color.gray3(content_y), [
        color.gray3(color.match_luminance(color.luminance(t, s.luminance_space), content_y))
        for t in styles]


def build_objective(s: Settings, device: torch.device, has_styles: bool) -> Objective:
    """The settings' objective on the shared VGG19, without targets yet."""
    content = dict(zip(s.content_layers, s.content_layer_weights or
                       (1.0,) * len(s.content_layers))) if s.content_weight > 0 else {}
    style = dict(zip(s.style_layers, s.style_layer_weights or
                     (1.0,) * len(s.style_layers))) if s.style_weight > 0 and has_styles else {}
    if not content and not style and s.tv_weight <= 0:
        raise ValueError("every loss weight is 0: nothing to optimize")
    layers = tuple(dict.fromkeys((*content, *style))) or ("relu1_1",)
    net = vgg.get_vgg(s.weights, s.pooling, device)
    extractor = vgg.FeatureExtractor(net, layers, dtype=vgg.resolve_precision(s.precision, device))
    return Objective(extractor, content_layers=content, style_layers=style,
                     content_weight=s.content_weight, style_weight=s.style_weight,
                     tv_weight=s.tv_weight, tv_exponent=s.tv_exponent, style_loss=s.style_loss,
                     content_loss=s.content_loss)


def prepare(content: images.ImageSource, style: Any, settings: Settings, *,
            init_image: images.ImageSource | None = None,
            masks: Sequence[Any] | None = None, tiled: bool = False) -> Prepared:
    """Load the inputs, resize them, and compute the loss targets once.

    ``settings`` are taken as valid (the caller's edge checked them: :func:`settings.validate`).
    ``init_image`` (any image source, resized to the output size) overrides ``settings.init``;
    multi-scale runs pass the upsampled previous level here. ``masks`` (one image source per
    style; white = that style applies, unmasked areas get no style) turn on spatial control.
    ``tiled`` prepares a level that is optimized in tiles (:func:`prepare_tile`): the style
    targets are computed over the whole style image in pieces (:func:`tiling.
    global_style_features`) and the content target is set per tile.
    """
    start = time.perf_counter()
    s = settings
    styles_src = as_styles(style)
    check_inputs(s, len(styles_src))  # its own precondition, whoever calls it
    device = resolve_device(s.device)
    tune_backend(device)
    content_t, styles, width, height = load_inputs(content, styles_src, s, device)
    content_view, styles_view = _views(s, content_t, styles)
    objective = build_objective(s, device, bool(styles))
    seed = s.seed if s.seed is not None else random.randrange(2 ** 31)
    blend = s.style_blend_weights
    if tiled:
        generator = torch.Generator().manual_seed(seed)
        objective.set_styles([tiling.global_style_features(
            objective.extractor, t, objective.style_layers, generator=generator)
            for t in styles_view], blend)
    else:
        mask_t = spatial.load_masks(masks, len(styles_src), (height, width), device=device)
        edge = (spatial.edge_mask(content_view, s.edge_threshold, s.edge_blur)
                if s.edge_weight is not None else None)
        objective.set_content(content_view)
        objective.set_style_images(styles_view, blend=blend, masks=mask_t, edge=edge,
                                   edge_weight=s.edge_weight)
    init = _start_image(s, init_image, content_t, styles, (height, width), device)
    return Prepared(s, device, content_t, styles, objective, init, seed,
                    time.perf_counter() - start)


def prepare_tile(level: Prepared, box: tuple[int, int, int, int], init: torch.Tensor,
                 seed: int) -> Prepared:
    """A tile of a tiled level as a run of its own: the content crop under ``box`` (top,
    bottom, left, right) becomes the content target; the level's style targets stay."""
    y0, y1, x0, x1 = box
    crop = level.content[..., y0:y1, x0:x1]
    level.objective.set_content(level.view(crop))
    return dataclasses.replace(level, content=crop, init=init, seed=seed, setup_seconds=0.0)


def _start_image(s: Settings, init_image: images.ImageSource | None, content: torch.Tensor,
                 styles: list[torch.Tensor], size: tuple[int, int],
                 device: torch.device) -> torch.Tensor | None:
    """The image the run starts from, or None for the parameterization's own noise."""
    if init_image is not None:
        return _init_tensor(init_image, size, device)
    if s.init == "content":
        return content
    if s.init == "style":
        return torch.nn.functional.interpolate(styles[0], size=size, mode="bilinear",
                                               align_corners=False, antialias=True).clamp(0, 1)
    return None


def _init_tensor(src: images.ImageSource, size: tuple[int, int],
                 device: torch.device) -> torch.Tensor:
    if isinstance(src, torch.Tensor) and src.ndim == 4:
        t = src.detach().float().to(device)
    else:
        t = images.to_tensor(images.load_image(src, name="init image"), device)
    if t.shape[-2:] != size:
        t = torch.nn.functional.interpolate(t, size=size, mode="bicubic", align_corners=False)
    return t.clamp(0, 1)
