"""CPPN parameterization: a small network from pixel coordinates to colour (Mordvintsev et al.,
"Differentiable Image Parameterizations", Distill 2018, section "Compositional Pattern Producing
Networks"; the shape follows lucent's ``param/cppn.py``).

Every pixel's colour is the same function of its (x, y) position: a stack of per-position dense
layers with a composite arctangent activation, then a sigmoid. The optimizer changes the
network's weights, never a pixel, so the image is a resolution-free pattern: smooth fields and
sharp, flowing, glassy contours rather than the per-pixel texture a raster image takes on. The
coordinates are joined by random Fourier features (Tancik et al. 2020; see FOURIER), without
which the network holds only a blurred silhouette of the photo and none of the style's texture.

What ``init`` means. A CPPN cannot hold a photograph exactly; with a start image it is first
fitted to it under MSE, with Adam, by the Deep Image Prior's warm-up (:class:`.dip.WarmUp`, run
by the engine before the first step), so the style run starts from the network's smooth
rendering of that image (the content's layout and colours, not its detail). Without one
(``init="noise"``) the run starts from the randomly initialized network's pattern.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import nn

from ..fields import option, option_values
from . import dip, warm_cache
from .base import Parameterization, Parameterized

# Half lucent's 8 layers, twice its 24 units (the composite activation doubles them again). With
# the Fourier features below, the warm-up fitted the astronaut at 128 px to 26.5 dB with 4 layers
# and 24.9 dB with 8 (300 steps), and 40 style steps (Adam, lr 0.001) kept more of the photo
# (luma SSIM 0.43 against 0.37) for about half the time per step.
LAYERS = 4
CHANNELS = 48
# Random Fourier features of the coordinates (Tancik et al., "Fourier Features Let Networks Learn
# High Frequency Functions in Low Dimensional Domains", NeurIPS 2020): sin and cos of FOURIER
# random projections, frequencies N(0, FOURIER_SCALE^2) per coordinate unit. A plain CPPN (0) is
# biased to smooth fields: fitted to the astronaut at 128 px for 300 Adam steps it reached
# 15.7 dB PSNR, a blurred silhouette, and then held no style texture at all; with 32 features
# at scale 4 it reached 25.3 dB.
FOURIER = 32
FOURIER_SCALE = 4.0
# Coordinates span [-sqrt(3), sqrt(3)] on the longer side (lucent): unit variance, so the first
# layer's N(0, 1/fan_in) weights give unit-variance pre-activations.
COORD_RANGE = math.sqrt(3.0)
# lucent's CompositeActivation divides atan(x) by 0.67 and atan(x)^2 by 0.6: about unit variance
# for unit-variance input, so depth does not shrink or blow up the signal.
ATAN_SCALE, ATAN_SQ_SCALE = 0.67, 0.6
# lucent zeroes the output layer (the start is flat grey); a small random one instead gives
# every weight a gradient from the first step and still starts close to grey.
OUTPUT_STD = 0.1

# The options (Settings.param_options) and their ranges: lucent's 8 x 24 network fits well
# inside them; 32 layers of 256 units already cost far more per step than VGG19 at 256 px.
OPTIONS = (
    option("layers", LAYERS, minimum=1, maximum=32, help="hidden layers of the network"),
    option("channels", CHANNELS, minimum=1, maximum=256, help="units per hidden layer"),
    option("fourier", FOURIER, minimum=0, maximum=1024,
           help="random Fourier features of the coordinates (0: lucent's plain CPPN)"),
    option("fourier_scale", FOURIER_SCALE, minimum=0.0, maximum=100.0,
           help="spread of the Fourier features' frequencies per coordinate unit"),
    option("warmup_steps", None, kind="int", optional=True, minimum=0, maximum=10_000,
           help=f"Adam steps fitting the network to the start image before the run (none: "
                f"{dip.WARMUP_STEPS}, as DIP; 0: start from the random network)"),
)


def coordinates(height: int, width: int) -> torch.Tensor:
    """(H*W) x 2 pixel-centre coordinates (x, y); the longer side spans +-COORD_RANGE and the
    other keeps the aspect ratio, so a pattern is not stretched on a non-square image."""
    side = max(height, width)
    ys = (torch.arange(height) + 0.5 - height / 2) / side * 2 * COORD_RANGE
    xs = (torch.arange(width) + 0.5 - width / 2) / side * 2 * COORD_RANGE
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], dim=1)


class CompositeActivation(nn.Module):
    """cat(atan(x) / 0.67, atan(x)^2 / 0.6): an odd and an even response per unit (lucent)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.atan(x)
        return torch.cat([a / ATAN_SCALE, a * a / ATAN_SQ_SCALE], dim=-1)


class CPPN(nn.Module):
    """Coordinates (P x 2) -> RGB (P x 3) in (0, 1), the coordinates optionally joined by
    ``fourier`` random Fourier features (see FOURIER)."""

    def __init__(self, layers: int = LAYERS, channels: int = CHANNELS, out_channels: int = 3,
                 fourier: int = FOURIER, fourier_scale: float = FOURIER_SCALE):
        super().__init__()
        frequencies = torch.randn(2, fourier) * fourier_scale
        self.register_buffer("frequencies", frequencies)
        body, width = [], 2 + 2 * fourier
        for _ in range(layers):
            body += [nn.Linear(width, channels), CompositeActivation()]
            width = 2 * channels
        self.body = nn.Sequential(*body)
        self.out = nn.Linear(width, out_channels)
        with torch.no_grad():
            for layer in (*body[::2], self.out):
                # lucent: weights N(0, 1/fan_in), biases 0.
                nn.init.normal_(layer.weight, 0.0, math.sqrt(1.0 / layer.in_features))
                nn.init.zeros_(layer.bias)
            self.out.weight.mul_(OUTPUT_STD)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        phase = coords @ self.frequencies
        features = torch.cat([coords, torch.sin(phase), torch.cos(phase)], dim=1)
        return torch.sigmoid(self.out(self.body(features)))


def make_cppn(shape: Sequence[int], init: Optional[torch.Tensor] = None, *,
              generator: Optional[torch.Generator] = None, device: str | torch.device = "cpu",
              **options) -> Parameterized:
    """Registry factory: a fresh CPPN (drawn from torch's generator, which the engine seeds).

    Options (``Settings.param_options``): :data:`OPTIONS`. With a start image and
    ``warmup_steps`` > 0 (None: DIP's ``WARMUP_STEPS``) the record's ``warm_up`` fits the
    network to it first (DIP's :class:`~.dip.WarmUp`, same rate), which the engine runs before
    the first step, outside the step budget.
    """
    o = option_values("cppn", OPTIONS, options)
    n, c, h, w = shape
    steps = dip.WARMUP_STEPS if o["warmup_steps"] is None else o["warmup_steps"]
    # Taken before the network is drawn: the same random state draws the same network, so an
    # equal key means an equal warm-up (nst_core.params.warm_cache).
    cache_key = (warm_cache.key("cppn", init, o, device, steps, torch.get_rng_state(), None)
                 if init is not None and steps > 0 else None)
    net = CPPN(o["layers"], o["channels"], c, o["fourier"], float(o["fourier_scale"])).to(device)
    coords = coordinates(h, w).to(device)

    def image_fn() -> torch.Tensor:
        rgb = net(coords).T.reshape(1, c, h, w)
        return rgb.expand(n, c, h, w)

    warm = (dip.WarmUp(net, image_fn, init.to(device=device, dtype=torch.float32), steps,
                       cache_key=cache_key) if cache_key is not None else None)
    return Parameterized(list(net.parameters()), image_fn, warm)


# Learning rates: bench/method_sweep.py --param cppn (docs/methods.md#learning-rates has the
# table). SGD descends the log of the objective, as on DIP: weights are shared by every pixel,
# and the raw objective's scale falls by orders of magnitude during a run.
CPPN_ENTRY = Parameterization(
    make_cppn,
    {"lbfgs": 0.03,  # 0.1 to 1 let the objective rise from some starts (no line search)
     "adam": 0.003,  # 0.01 scores lower at 128 px but blows out colours at 256 px (docs/methods.md)
     "sgd": 0.003},  # relative, on the log objective
    "weights of a small network from pixel coordinates (with Fourier features) to colour "
    "(CPPN, Distill 'Differentiable Image Parameterizations'); a start image is first fitted "
    "under MSE, as DIP's warm-up",
    best="adam", log_objective=frozenset({"sgd"}), options=OPTIONS,
    warmup_option="warmup_steps", warmup_default=lambda: dip.WARMUP_STEPS)
