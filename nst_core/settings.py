"""Run settings: one frozen dataclass, and named presets built from it.

Change a preset with ``dataclasses.replace(PRESETS["gatys"], style_weight=3e3)`` or
:func:`from_preset`. Every field is validated by :func:`validate` before a run starts, so a typo
in a name fails at once with the list of choices instead of deep inside the optimization.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import vgg

# Gatys et al. 2016 ("Image Style Transfer Using Convolutional Neural Networks", section 3):
# content at conv4_2, style at conv1_1 ... conv5_1 (we read the ReLU outputs, as the paper does).
GATYS_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class Settings:
    # --- what is matched (VGG19 layer names, see nst_core.vgg.LAYER_NAMES)
    content_layers: tuple[str, ...] = ("relu4_2",)  # activations matched by the content loss
    style_layers: tuple[str, ...] = GATYS_STYLE_LAYERS  # activations whose statistics are matched
    content_layer_weights: tuple[float, ...] | None = None  # one per content layer; None = all 1
    style_layer_weights: tuple[float, ...] | None = None  # one per style layer; None = all 1
    # --- loss weights (each term is reported already multiplied by its weight)
    content_weight: float = 1.0  # multiplies the content MSE
    # multiplies the style loss. 1e2 keeps faces recognizable at 256 and 512 px after 300 L-BFGS
    # steps; 1e3 is pastiche's balance (its 10/C^2 style vs 0.01 content), heavier on style.
    style_weight: float = 1e2
    # total variation of the [0, 1] image. 0 (off) as in Gatys et al. and pastiche; values around
    # 1e5-1e7 smooth the result at the default weights.
    tv_weight: float = 0.0
    tv_exponent: float = 1.25  # TV = mean((dx^2 + dy^2)^exponent); 1.25 as in the Keras tutorial
    style_loss: str = "gram"  # key of nst_core.losses.STYLE_LOSSES
    # --- edge-preserving style loss (nst_core.spatial): the style loss splits at the content's
    # edges into a flat-region term (x1) and an edge-region term (x edge_weight). None = no split;
    # 0 = no style on strong content edges; 1 = the same push everywhere, per region.
    edge_weight: float | None = None
    edge_threshold: float = 0.2  # edge = Sobel magnitude >= this fraction of its 99th percentile
    edge_blur: float = 2.0  # Gaussian sigma in output pixels that widens and softens the edge band
    # --- what is optimized and how
    param: str = "pixels"  # key of nst_core.params.PARAMETERIZATIONS
    optimizer: str = "lbfgs"  # key of nst_core.optim.OPTIMIZERS
    lr: float | None = None  # learning rate; None = the parameterization's default for the optimizer
    steps: int = 300  # budget in objective evaluations (forward+backward), for every optimizer
    init: str = "content"  # content | noise | style: the image the optimization starts from
    seed: int | None = 0  # seeds noise init and any parameterization randomness; None = random
    # --- images
    size: int = 512  # longest side of the output in pixels (content is resized to it)
    style_scale: float = 1.0  # style image side relative to the content's (1 = same pixel count)
    style_blend_weights: tuple[float, ...] | None = None  # one per style image; None = equal
    preserve_color: str = "none"  # none | luminance | histogram (Gatys et al. 2016, colour paper)
    luminance_space: str = "yiq"  # yiq | ycbcr: colour space of the luminance option
    # --- multi-scale and tiling (nst_core.multiscale, nst_core.tiling)
    multiscale: bool = False  # coarse-to-fine pyramid from min_size up to size (factor 2)
    min_size: int = 128  # longest side of the smallest pyramid level (crowsonkb's min_scale)
    # steps per pyramid level, smallest first (per tile on tiled levels); None = steps at the
    # smallest level and steps // 4 at each later one
    level_steps: tuple[int, ...] | None = None
    # levels whose longest side is above this are optimized in overlapping tiles of this size,
    # which bounds memory (0 = never tile); the README (Multi-scale and tiling) has the measured peak.
    tile_size: int = 1024
    tile_overlap: int = 128  # minimum overlap of neighbouring tiles, px (blended with a ramp)
    # --- network
    pooling: str = "max"  # max | avg (Gatys et al. report avg gives slightly smoother results)
    weights: str = "pastiche"  # "pastiche" | a local file | "hf://owner/repo/file"
    device: str = "auto"  # auto (cuda > mps > cpu) | cpu | cuda | cuda:N | mps
    # convolution precision: auto (the fastest that keeps the objective within 1% of fp32; today
    # fp32, see vgg.resolve_precision) | fp32 | bf16 (~1.7x faster per step on AVX512-BF16 CPUs,
    # objective 1-4% higher at 300 steps) | fp16 (GPU). Losses and the final score are fp32.
    precision: str = "auto"
    # --- reporting
    preview_every: int = 10  # a preview image every this many steps (0 = final image only)
    # a progress record (loss values) every this many steps; 0 = auto: every step on the CPU,
    # every 10 on a GPU, where reading a loss forces a host-device sync. Stops land at records.
    report_every: int = 0
    # --- free-form options of parameterizations (e.g. {"decay_power": 1.0} for fft)
    param_options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["param_options"] = dict(self.param_options)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


_TUPLE_FIELDS = ("content_layers", "style_layers", "content_layer_weights", "style_layer_weights",
                 "style_blend_weights", "level_steps")


def from_dict(data: Mapping[str, Any], base: Settings | None = None) -> Settings:
    """Build Settings from a (JSON) dict; unknown keys raise ValueError naming them."""
    names = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; known: {', '.join(sorted(names))}")
    clean = dict(data)
    for key in _TUPLE_FIELDS:
        if clean.get(key) is not None:
            clean[key] = tuple(clean[key])
    return dataclasses.replace(base or Settings(), **clean)


def from_json(text: str, base: Settings | None = None) -> Settings:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"settings are not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("settings JSON must be an object")
    return from_dict(data, base)


PRESETS: dict[str, Settings] = {
    # The paper's choice.
    "gatys": Settings(),
    # Content from relu3_1: Gatys et al. (fig. 3) and the CMU 16-824 study find lower layers keep
    # the most photographic detail.
    "shallow-content": Settings(content_layers=("relu3_1",)),
    # Content from relu5_2: only the layout survives, the style takes over the rendering.
    "deep-content": Settings(content_layers=("relu5_2",)),
    # Small receptive fields only: brush strokes and colour, no large motifs.
    "fine-texture": Settings(style_layers=("relu1_1", "relu2_1", "relu3_1")),
    # Large receptive fields only: swirls and motifs, less local colour.
    "coarse-texture": Settings(style_layers=("relu3_1", "relu4_1", "relu5_1")),
}


def from_preset(name: str, **overrides: Any) -> Settings:
    """A preset with some fields changed; unknown preset names raise ValueError."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from: {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)


INITS = ("content", "noise", "style")
PRESERVE_COLORS = ("none", "luminance", "histogram")
LUMINANCE_SPACES = ("yiq", "ycbcr")


def _choice(what: str, value: Any, choices) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose from: {', '.join(choices)}")


def validate(s: Settings, *, n_styles: int = 1) -> None:
    """Raise ValueError with a clear message for any unusable field."""
    from .losses import STYLE_LOSSES
    from .optim import OPTIMIZERS
    from .params import PARAMETERIZATIONS

    _choice("parameterization", s.param, PARAMETERIZATIONS)
    _choice("optimizer", s.optimizer, OPTIMIZERS)
    _choice("style loss", s.style_loss, STYLE_LOSSES)
    _choice("init", s.init, INITS)
    _choice("preserve_color", s.preserve_color, PRESERVE_COLORS)
    _choice("luminance_space", s.luminance_space, LUMINANCE_SPACES)
    _choice("pooling", s.pooling, vgg.POOLINGS)
    _choice("precision", s.precision, vgg.PRECISIONS)
    vgg.check_layers(s.content_layers)
    vgg.check_layers(s.style_layers)
    if not s.content_layers and not s.style_layers:
        raise ValueError("no content or style layers: nothing to optimize")
    for name, weights, layers in (("content_layer_weights", s.content_layer_weights,
                                   s.content_layers),
                                  ("style_layer_weights", s.style_layer_weights, s.style_layers)):
        if weights is not None and len(weights) != len(layers):
            raise ValueError(f"{name} has {len(weights)} values for {len(layers)} layers")
    if s.style_blend_weights is not None:
        if len(s.style_blend_weights) != n_styles:
            raise ValueError(f"style_blend_weights has {len(s.style_blend_weights)} values for "
                             f"{n_styles} style image(s)")
        if any(w < 0 for w in s.style_blend_weights) or sum(s.style_blend_weights) <= 0:
            raise ValueError("style_blend_weights must be >= 0 and not all 0")
    for name in ("content_weight", "style_weight", "tv_weight"):
        value = getattr(s, name)
        if not (value >= 0 and value < float("inf")):
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    if s.edge_weight is not None and not (0 <= s.edge_weight < float("inf")):
        raise ValueError(f"edge_weight must be a finite number >= 0 (or None: off), "
                         f"got {s.edge_weight}")
    if not 0 < s.edge_threshold < 1:
        raise ValueError(f"edge_threshold must be between 0 and 1, got {s.edge_threshold}")
    if not 0 <= s.edge_blur <= 64:
        raise ValueError(f"edge_blur must be between 0 and 64 pixels, got {s.edge_blur}")
    if not s.tv_exponent > 0:
        raise ValueError(f"tv_exponent must be > 0, got {s.tv_exponent}")
    if s.lr is not None and not (0 < s.lr < float("inf")):
        raise ValueError(f"lr must be > 0, got {s.lr}")
    if not isinstance(s.steps, int) or s.steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {s.steps!r}")
    if not isinstance(s.size, int) or s.size < 16:
        raise ValueError(f"size must be a whole number of pixels >= 16, got {s.size!r}")
    if not 0.05 <= s.style_scale <= 8:
        raise ValueError(f"style_scale must be between 0.05 and 8, got {s.style_scale}")
    if not isinstance(s.min_size, int) or s.min_size < 16:
        raise ValueError(f"min_size must be a whole number of pixels >= 16, got {s.min_size!r}")
    if s.level_steps is not None and any(not isinstance(k, int) or k < 1
                                         for k in s.level_steps):
        raise ValueError(f"level_steps must be whole numbers >= 1, got {list(s.level_steps)}")
    if not isinstance(s.tile_size, int) or not (s.tile_size == 0 or s.tile_size >= 64):
        raise ValueError(f"tile_size must be 0 (no tiling) or >= 64 pixels, got {s.tile_size!r}")
    if s.tile_size and not 0 <= s.tile_overlap <= s.tile_size // 2:
        raise ValueError(f"tile_overlap must be between 0 and half the tile size, got "
                         f"{s.tile_overlap}")
    if not isinstance(s.report_every, int) or s.report_every < 0:
        raise ValueError(f"report_every must be a whole number >= 0, got {s.report_every!r}")
    if s.preview_every < 0:
        raise ValueError(f"preview_every must be >= 0, got {s.preview_every}")
