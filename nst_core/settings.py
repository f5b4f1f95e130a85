"""Run settings: one frozen dataclass whose fields describe themselves, and named presets.

Change a preset with ``dataclasses.replace(PRESETS["gatys"], style_weight=3e3)`` or
:func:`from_preset`. Every field is declared with :func:`setting`, which carries its label, a
one-line help, its group, allowed choices and range: the command line (``nst_core.cli``) and the
app's form are generated from that, and :func:`validate` checks a run against it before any work
starts, so a typo in a name fails at once with the list of choices instead of deep inside the
optimization. A field added (here or in a subclass) with :func:`setting` appears in ``--help`` and
in the form without other edits.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .imaging import vgg
from .fields import FieldInfo, bound_json, check_field, option_values

# Gatys et al. 2016 ("Image Style Transfer Using Convolutional Neural Networks", section 3):
# content at conv4_2, style at conv1_1 ... conv5_1 (we read the ReLU outputs, as the paper does).
GATYS_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

# STROTSS's hypercolumn (Kolkin et al. 2019: VGG16 relu1_1, 1_2, 2_1, 2_2, 3_1, 3_2, 3_3, 4_3
# and 5_3), by the same names in VGG19.
STROTSS_LAYERS = ("relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3",
                  "relu4_3", "relu5_3")

INITS = ("content", "noise", "style")
PRESERVE_COLORS = ("none", "luminance", "histogram")
LUMINANCE_SPACES = ("yiq", "ycbcr")

# Group key -> heading, in the order the CLI help and the form show them.
GROUPS: dict[str, str] = {
    "method": "Method",
    "loss": "Loss",
    "images": "Images and colour",
    "multiscale": "Multi-scale and tiling",
    "network": "Network and device",
    "output": "Output",
}

KINDS = ("int", "float", "str", "bool", "ints", "floats", "strs", "mapping")
_META_KEY = "nst_setting"  # where setting() keeps the description in a field's metadata
def setting(default: Any = dataclasses.MISSING, *, label: str, help: str, group: str,
            choices: tuple | Callable[[], Any] | None = None, minimum: float | None = None,
            maximum: float | None = None, advanced: bool = False, cli: bool = True,
            form: bool = True, log: bool = False, default_factory: Callable[[], Any] | None = None,
            strict: bool = False, unit: str = "", noun: str = "", flag: str = "",
            metavar: str = "", choice_help: Callable[[], Mapping[str, str]] | None = None
            ) -> Any:
    """A dataclass field that describes itself (see :class:`FieldInfo`).

    ``choices`` and ``choice_help`` may be zero-argument callables that read a registry, so the
    registry stays the one source of names and entries registered later are seen.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown settings group {group!r}; choose from: {', '.join(GROUPS)}")
    meta = dict(label=label, help=help, group=group, choices=choices, minimum=minimum,
                maximum=maximum, advanced=advanced, cli=cli, form=form, log=log, strict=strict,
                unit=unit, noun=noun, flag=flag, metavar=metavar, choice_help=choice_help)
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata={_META_KEY: meta})
    return dataclasses.field(default=default, metadata={_META_KEY: meta})


# Registries are read when asked (not at import): the modules that hold them build on settings,
# and entries registered after import must show up.
def _param_names() -> tuple[str, ...]:
    from .params.registry import PARAMETERIZATIONS
    return tuple(PARAMETERIZATIONS)


def _param_help() -> dict[str, str]:
    from .params.registry import PARAMETERIZATIONS
    return {k: p.description for k, p in PARAMETERIZATIONS.items() if p.description}


def _optimizer_names() -> tuple[str, ...]:
    from .optim.registry import OPTIMIZERS
    return tuple(OPTIMIZERS)


def _style_loss_names() -> tuple[str, ...]:
    from .losses.style import STYLE_LOSSES
    return tuple(STYLE_LOSSES)


def _style_loss_help() -> dict[str, str]:
    from .losses.style import DESCRIPTIONS
    return dict(DESCRIPTIONS)


def _content_loss_names() -> tuple[str, ...]:
    from .losses.content import CONTENT_LOSSES
    return tuple(CONTENT_LOSSES)


def _content_loss_help() -> dict[str, str]:
    from .losses.content import CONTENT_DESCRIPTIONS
    return dict(CONTENT_DESCRIPTIONS)


@dataclass(frozen=True)
class Settings:
    # --- what is matched (VGG19 layer names, see nst_core.imaging.vgg.LAYER_NAMES)
    content_layers: tuple[str, ...] = setting(
        ("relu4_2",), label="Content layers", group="loss", advanced=True,
        choices=vgg.LAYER_NAMES, noun="VGG19 layer", metavar="LAYER",
        help="VGG19 layers whose activations the content loss matches (e.g. relu4_2); "
             "replaces the preset's")
    style_layers: tuple[str, ...] = setting(
        GATYS_STYLE_LAYERS, label="Style layers", group="loss", advanced=True,
        choices=vgg.LAYER_NAMES, noun="VGG19 layer", metavar="LAYER",
        help="VGG19 layers whose feature statistics the style loss matches; replaces the "
             "preset's")
    content_layer_weights: tuple[float, ...] | None = setting(
        None, label="Content layer weights", group="loss", advanced=True, form=False,
        metavar="W", help="one weight per content layer (none: all 1)")
    style_layer_weights: tuple[float, ...] | None = setting(
        None, label="Style layer weights", group="loss", advanced=True, form=False,
        metavar="W", help="one weight per style layer (none: all 1)")
    # --- loss weights (each term is reported already multiplied by its weight)
    content_weight: float = setting(
        1.0, label="Content weight", group="loss", minimum=0.0,
        help="how much the result keeps the photo's shapes (0: a pure texture)")
    # 1e2 keeps faces recognizable at 256 and 512 px after 300 L-BFGS steps; 1e3 is pastiche's
    # balance (its 10/C^2 style vs 0.01 content), heavier on style.
    style_weight: float = setting(
        1e2, label="Style weight", group="loss", minimum=0.0, log=True,
        help="how strongly the painting's textures and colours are imposed")
    # 0 (off) as in Gatys et al. and pastiche; values around 1e5-1e7 smooth the result at the
    # default weights.
    tv_weight: float = setting(
        0.0, label="Smoothness (TV weight)", group="loss", minimum=0.0,
        help="total variation: higher evens out speckle and noise (0: off)")
    # 1.25 as in the Keras tutorial
    tv_exponent: float = setting(
        1.25, label="TV exponent", group="loss", minimum=0.0, strict=True, advanced=True,
        help="TV = mean((dx^2+dy^2)^exponent); 0.5 is plain TV")
    style_loss: str = setting(
        "gram", label="Style loss", group="loss", advanced=True, choices=_style_loss_names,
        choice_help=_style_loss_help, noun="style loss",
        help="statistic matched at the style layers")
    content_loss: str = setting(
        "mse", label="Content loss", group="loss", advanced=True, choices=_content_loss_names,
        choice_help=_content_loss_help, noun="content loss",
        help="what is kept of the photo at the content layers")
    # --- edge-preserving style loss (nst_core.losses.spatial): the style loss splits at the
    # content's edges into a flat-region term (x1) and an edge-region term (x edge_weight). None =
    # no split; 0 = no style on strong content edges; 1 = the same push everywhere, per region.
    edge_weight: float | None = setting(
        None, label="Style weight on edges", group="loss", minimum=0.0, advanced=True,
        help="edge-preserving style loss: weight of the style loss on the content's strong "
             "edges relative to flat areas (0: keep edges free of style; none: no split)")
    edge_threshold: float = setting(
        0.2, label="Edge threshold", group="loss", minimum=0.0, maximum=1.0, strict=True,
        advanced=True,
        help="Sobel magnitude, as a fraction of its 99th percentile, that counts as an edge")
    edge_blur: float = setting(
        2.0, label="Edge blur (px)", group="loss", minimum=0.0, maximum=64.0, unit="pixels",
        advanced=True, help="Gaussian sigma (output pixels) that widens the edge band")
    # --- what is optimized and how
    param: str = setting(
        "pixels", label="What is optimized (parameterization)", group="method",
        choices=_param_names, choice_help=_param_help, noun="parameterization",
        help="what is optimized")
    optimizer: str = setting(
        "lbfgs", label="Optimizer", group="method", choices=_optimizer_names,
        help="lbfgs (classic), adam or sgd (with momentum)")
    lr: float | None = setting(
        None, label="Learning rate", group="method", minimum=0.0, strict=True, advanced=True,
        help="learning rate (none: the parameterization's value for the optimizer)")
    steps: int = setting(
        300, label="Steps", group="method", minimum=1,
        help="how many times the image is improved: more steps, closer to the style; each "
             "is one pass through VGG19 and back")
    # Equal-time comparisons and demos that must answer in time stop on the clock.
    time_budget: float | None = setting(
        None, label="Time budget (s)", group="method", minimum=0.0, strict=True,
        unit="seconds", advanced=True,
        help="stop after this many seconds of the method's own work (a DIP warm-up included), "
             "whatever steps remain (none: run every step)")
    # Iterate averaging as crowsonkb/style-transfer-pytorch does it (its EMA of the image,
    # decay 0.99) and as Ulyanov et al. average the DIP output (exp_weight 0.99); 0.999
    # already averages over about a thousand steps.
    average: float | None = setting(
        None, label="Iterate averaging (EMA decay)", group="method", minimum=0.0,
        maximum=0.999, advanced=True,
        help="previews and the result show an exponential moving average of the image over "
             "the steps, with this decay (Adam and SGD; 0: off; none: the method's measured "
             "default)")
    init: str = setting(
        "content", label="Start from", group="method", choices=INITS,
        help="the starting image: the content photo, random noise, or the style image (DIP "
             "first fits its generator to the start image)")
    # torch's generators take a 64-bit seed.
    seed: int | None = setting(
        0, label="Seed", group="method", minimum=0, maximum=2 ** 63 - 1,
        help="random seed: the same seed gives the same image (none: random; the result "
             "records the seed used)")
    # --- images
    size: int = setting(
        512, label="Output size (px)", group="images", minimum=16, unit="pixels",
        help="longest side of the result in pixels; bigger is slower")
    style_scale: float = setting(
        1.0, label="Style scale", group="images", minimum=0.05, maximum=8.0, advanced=True,
        help="style image scale relative to the content (1: same pixel count)")
    style_blend_weights: tuple[float, ...] | None = setting(
        None, label="Style blend weights", group="loss", form=False, flag="--style-blend",
        metavar="W", help="one weight per style image (none: equal)")
    preserve_color: str = setting(
        "none", label="Keep the photo's colours", group="images", choices=PRESERVE_COLORS,
        help="keep the content's colours: luminance-only transfer, or match the style's "
             "colour histogram to the content's first (Gatys et al. 2016, colour paper)")
    luminance_space: str = setting(
        "yiq", label="Luminance space", group="images", choices=LUMINANCE_SPACES,
        advanced=True, help="colour space of the luminance option of preserve colour")
    # --- multi-scale and tiling (nst_core.engine.schedule, nst_core.engine.tiling)
    multiscale: bool = setting(
        False, label="Multi-scale (coarse to fine)", group="multiscale", advanced=True,
        help="coarse-to-fine: stylize at the smallest size first, then at twice the size, each "
             "level starting from the previous result, up to the output size")
    min_size: int = setting(
        128, label="Smallest level (px)", group="multiscale", minimum=16, unit="pixels",
        advanced=True, help="longest side of the smallest multi-scale level (crowsonkb's "
                            "min_scale)")
    level_steps: tuple[int, ...] | None = setting(
        None, label="Steps per level", group="multiscale", minimum=1, advanced=True, form=False,
        metavar="N", help="steps per level, smallest first (per tile on tiled levels); none: "
                          "steps at the smallest level, steps/4 at each later one")
    # Tiles bound memory; the README (Multi-scale and tiling) has the measured peak.
    tile_size: int = setting(
        1024, label="Tile size (px)", group="multiscale", minimum=0, unit="pixels",
        advanced=True, form=False,
        help="levels larger than this are optimized in overlapping tiles of this size, which "
             "bounds memory (0: never tile)")
    tile_overlap: int = setting(
        128, label="Tile overlap (px)", group="multiscale", minimum=0, unit="pixels",
        advanced=True, form=False,
        help="minimum overlap of neighbouring tiles, pixels (blended with a ramp)")
    # --- network
    pooling: str = setting(
        "max", label="VGG pooling", group="network", choices=vgg.POOLINGS, advanced=True,
        help="VGG19 pooling (Gatys et al. report avg gives slightly smoother results)")
    weights: str = setting(
        "pastiche", label="VGG19 weights", group="network", advanced=True, form=False,
        help="VGG19 weights: pastiche (bundled), a local file, or hf://owner/repo/file")
    device: str = setting(
        "auto", label="Device", group="network", advanced=True, form=False,
        help="auto (cuda > mps > cpu), cpu, cuda, cuda:N, mps")
    # auto is fp32 on a CPU (vgg.resolve_precision; docs/calibration.md#convolution-precision).
    precision: str = setting(
        "auto", label="Convolution precision", group="network", choices=vgg.PRECISIONS,
        advanced=True,
        help="convolution precision: auto (fp32, the fastest that keeps the objective within "
             "1%; TF32 convolutions on CUDA), fp32, bf16 (about 1.7x faster per step on CPUs "
             "with AVX512-BF16, objective 1-4% higher), fp16 (GPU, loss-scaled); losses stay "
             "fp32")
    # --- reporting
    preview_every: int = setting(
        10, label="Preview every N steps", group="output", minimum=0, advanced=True,
        help="a preview image every this many steps (0: final image only); the page also "
             "shows one at least every 2 seconds")
    # Reading a loss on a GPU forces a host-device sync, hence the GPU's coarser auto rate.
    report_every: int = setting(
        0, label="Report every N steps", group="output", minimum=0, advanced=True, form=False,
        help="a progress record (loss values) every this many steps; 0: auto, every step on "
             "the CPU, every 10 on a GPU; stops land at records")
    # --- free-form options of parameterizations (e.g. {"decay_power": 1.0} for fft)
    param_options: Mapping[str, Any] = setting(
        label="Parameterization options", group="network", advanced=True, default_factory=dict,
        flag="--param-option", metavar="KEY=VALUE",
        help="options of the parameterization, e.g. decay_power=1.0 for fft")

    def __hash__(self) -> int:
        # The generated hash would fail on param_options (a dict); settings are hashed as the
        # JSON they save to (e.g. by Gradio, which hashes a page's stored values).
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["param_options"] = dict(self.param_options)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _type_text(tp: Any) -> str:
    if isinstance(tp, str):
        return tp
    return getattr(tp, "__name__", None) if isinstance(tp, type) else str(tp)


def _kind(f: dataclasses.Field) -> tuple[str, bool]:
    """(kind, optional) from a field's annotation (a string under postponed annotations)."""
    text = _type_text(f.type).replace("typing.", "").replace(" ", "")
    optional = "None" in text
    if text.startswith("Optional["):
        text = text[len("Optional["):-1]
    base = "|".join(p for p in text.split("|") if p != "None")
    if base in ("int", "float", "str", "bool"):
        return base, optional
    for item in ("int", "float", "str"):
        if base.startswith((f"tuple[{item}", f"Tuple[{item}")):
            return item + "s", optional
    if base.startswith(("Mapping", "dict", "Dict")):
        return "mapping", optional
    raise TypeError(f"setting {f.name!r} has type {text}; settings are one of: {', '.join(KINDS)}")


def _resolve(value: Any) -> Any:
    return value() if callable(value) else value


def _info(f: dataclasses.Field) -> FieldInfo:
    meta = dict(f.metadata[_META_KEY])
    kind, optional = _kind(f)
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default
    choices = _resolve(meta.pop("choices"))
    choice_help = _resolve(meta.pop("choice_help"))
    return FieldInfo(name=f.name, kind=kind, default=default, optional=optional,
                     choices=None if choices is None else tuple(choices),
                     choice_help=None if choice_help is None else dict(choice_help), **meta)


def field_infos(cls: type = Settings) -> tuple[FieldInfo, ...]:
    """Every field of ``cls`` declared with :func:`setting`, in declaration order."""
    return tuple(_info(f) for f in dataclasses.fields(cls) if _META_KEY in f.metadata)


def field_info(name: str, cls: type = Settings) -> FieldInfo:
    """The description of one field; ValueError naming the fields for an unknown name."""
    for info in field_infos(cls):
        if info.name == name:
            return info
    names = ", ".join(i.name for i in field_infos(cls))
    raise ValueError(f"unknown setting {name!r}; known: {names}")


def from_dict(data: Mapping[str, Any], base: Settings | None = None) -> Settings:
    """Build Settings from a (JSON) dict; unknown keys raise ValueError naming them. Lists
    become tuples; a value of another type is kept as it is, for :func:`validate` to name."""
    base = base if base is not None else Settings()
    names = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; known: {', '.join(sorted(names))}")
    clean = dict(data)
    for info in field_infos(type(base)):
        if info.kind in ("ints", "floats", "strs") and isinstance(clean.get(info.name), list):
            clean[info.name] = tuple(clean[info.name])
    return dataclasses.replace(base, **clean)


def from_json(text: str, base: Settings | None = None) -> Settings:
    bound_json(text, "settings")
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
    # STROTSS as a method (Kolkin et al. 2019): its losses on its hypercolumn, the Laplacian
    # pyramid it optimizes and its coarse-to-fine schedule from 64 px. Adam: L-BFGS's curvature
    # pairs do not survive positions sampled anew at every step. Style weight 2: the losses'
    # SCALEs put them on the Gram and MSE losses' scales (bench/calibrate.py style-scales and
    # content-scales); docs/methods.md shows the preset's results.
    "strotss": Settings(param="pyramid", optimizer="adam", multiscale=True, min_size=64,
                        style_loss="strotss", content_loss="self_similarity",
                        content_layers=STROTSS_LAYERS, style_layers=STROTSS_LAYERS,
                        content_weight=1.0, style_weight=2.0),
}


def get_preset(name: str, cls: type = Settings) -> Settings:
    """The preset ``name`` as a ``cls`` (a Settings subclass gets its own fields' defaults);
    ValueError listing the presets if there is none by that name."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    if cls is type(preset):
        return preset
    return cls(**{f.name: getattr(preset, f.name) for f in dataclasses.fields(preset)})


def from_preset(name: str, **overrides: Any) -> Settings:
    """A preset with some fields changed; unknown preset names raise ValueError."""
    return dataclasses.replace(get_preset(name), **overrides)


# ----------------------------------------------------------------------------------- validation

def _check_layers(s: Settings) -> None:
    if not s.content_layers and not s.style_layers:
        raise ValueError("no content or style layers: nothing to optimize")
    for name, weights, layers in (("content_layer_weights", s.content_layer_weights,
                                   s.content_layers),
                                  ("style_layer_weights", s.style_layer_weights, s.style_layers)):
        if weights is not None and len(weights) != len(layers):
            raise ValueError(f"{name} has {len(weights)} values for {len(layers)} layers")


def _check_blend(s: Settings, n_styles: int) -> None:
    if s.style_blend_weights is None:
        return
    if len(s.style_blend_weights) != n_styles:
        raise ValueError(f"style_blend_weights has {len(s.style_blend_weights)} values for "
                         f"{n_styles} style image(s)")
    if any(w < 0 for w in s.style_blend_weights) or sum(s.style_blend_weights) <= 0:
        raise ValueError("style_blend_weights must be >= 0 and not all 0")


def _check_tiles(s: Settings) -> None:
    if not (s.tile_size == 0 or s.tile_size >= 64):
        raise ValueError(f"tile_size must be 0 (no tiling) or >= 64 pixels, got {s.tile_size!r}")
    if s.tile_size and not s.tile_overlap <= s.tile_size // 2:
        raise ValueError(f"tile_overlap must be between 0 and half the tile size, got "
                         f"{s.tile_overlap}")


def _check_average(s: Settings) -> None:
    if s.average and s.optimizer == "lbfgs":
        # L-BFGS's iterates follow a quasi-Newton path with a memory; averaging them mixes
        # images from different curvature models (crowsonkb averages Adam's iterates only).
        raise ValueError("average (iterate averaging) works with adam and sgd, not lbfgs; "
                         "set it to 0 or choose another optimizer")


def validate(s: Settings, *, n_styles: int = 1) -> None:
    """Raise ValueError with a clear message for any unusable field.

    Each field is checked against its description (type, choices, range), the options of the
    parameterization against theirs, then the rules that tie fields together (layer weights
    per layer, one blend weight per style image, tiles).
    """
    for info in field_infos(type(s)):
        check_field(info, getattr(s, info.name))
    from .params.registry import get_param  # the registry builds on settings: read when asked
    option_values(s.param, get_param(s.param).options, s.param_options)
    _check_layers(s)
    _check_blend(s, n_styles)
    _check_tiles(s)
    _check_average(s)
