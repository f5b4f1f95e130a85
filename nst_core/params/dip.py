"""Deep Image Prior parameterization (Ulyanov, Vedaldi and Lempitsky, "Deep Image Prior", CVPR
2018; the structure follows their ``skip`` network in DmitryUlyanov/deep-image-prior).

The image is the output of a small convolutional encoder-decoder with skip connections applied
to a fixed noise tensor; the optimizer changes the network's weights, never the pixels. The
architecture itself is the prior: convolutions fit smooth, structured images much sooner than
noise, so the result looks different from optimizing pixels even with the same loss.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..fields import option, option_values
from . import warm_cache
from .base import Parameterization, Parameterized

# Ulyanov et al.'s shape (5 levels, 4-channel skips, a 32-channel input) at 48 channels, not
# 128: ~0.3 M parameters, what a CPU affords at 256-512 px (docs/calibration.md).
DEPTH = 5
CHANNELS = 48
SKIP_CHANNELS = 4
INPUT_CHANNELS = 32
# Their noise input: uniform in [0, 0.1] ("var = 1/10" in get_noise).
INPUT_SCALE = 0.1
# Their LeakyReLU slope.
LEAKY_SLOPE = 0.2
# Warm-up (the generator fitted to the init image under MSE before the run): Adam at Ulyanov et
# al.'s usual rate, which fitted fastest (docs/calibration.md#deep-image-prior-warm-up).
WARMUP_LR = 0.01
# Warm-up steps unless ``warmup_steps`` says otherwise: a fixed count keeps the set-up's cost
# known before the run; 300 keeps more of the photo than 100 (docs/calibration.md).
WARMUP_STEPS = 300


def _conv(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    # Reflection padding, as in their code, so borders are not pulled towards black.
    return nn.Sequential(nn.ReflectionPad2d(k // 2), nn.Conv2d(c_in, c_out, k, stride))


def _bn_act(c: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(c), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]


class SkipNet(nn.Module):
    """U-Net-like generator: ``depth`` stride-2 levels down, bilinear upsampling back up, and a
    thin 1x1 skip branch at each level, as in Ulyanov et al.'s ``skip``."""

    def __init__(self, in_channels: int = INPUT_CHANNELS, channels: int = CHANNELS,
                 skip_channels: int = SKIP_CHANNELS, depth: int = DEPTH, out_channels: int = 3):
        super().__init__()
        self.depth = depth
        self.down, self.skip, self.up = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        c_in = in_channels
        for _ in range(depth):
            self.skip.append(nn.Sequential(_conv(c_in, skip_channels, 1), *_bn_act(skip_channels))
                             if skip_channels else nn.Identity())
            self.down.append(nn.Sequential(_conv(c_in, channels, 3, 2), *_bn_act(channels),
                                           _conv(channels, channels, 3), *_bn_act(channels)))
            self.up.append(nn.Sequential(nn.BatchNorm2d(channels + skip_channels),
                                         _conv(channels + skip_channels, channels, 3),
                                         *_bn_act(channels),
                                         _conv(channels, channels, 1), *_bn_act(channels)))
            c_in = channels
        self.skip_channels = skip_channels
        self.out = _conv(channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level in range(self.depth):
            skips.append(self.skip[level](x) if self.skip_channels else None)
            x = self.down[level](x)
        for level in reversed(range(self.depth)):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            if self.skip_channels:
                x = torch.cat([x, skips[level]], 1)
            x = self.up[level](x)
        return torch.sigmoid(self.out(x))


def padded_size(height: int, width: int, depth: int) -> tuple[int, int]:
    """The smallest size >= (height, width) that ``depth`` halvings divide exactly, and at
    least twice 2**depth per side: batch norm needs more than one value per channel at the
    deepest level (one image, so its spatial positions are the batch)."""
    m = 2 ** depth
    return max(-(-height // m), 2) * m, max(-(-width // m), 2) * m


# The options (Settings.param_options) and their ranges. Ulyanov et al.'s usual network (5
# levels of 128 channels, 4-channel skips, a 32-channel input: see DEPTH above) fits well inside
# them; a 256-channel generator already costs about 28 times the default's 48 per step. Past 6
# levels the noise input is padded to at least 2**(depth+1) px a side however small the image,
# a cost out of proportion to it.
OPTIONS = (
    option("depth", DEPTH, minimum=1, maximum=6,
           help="levels of the encoder-decoder (each halves the resolution)"),
    option("channels", CHANNELS, minimum=1, maximum=256, help="channels of every level"),
    option("skip_channels", SKIP_CHANNELS, minimum=0, maximum=128,
           help="channels of each skip connection (0: none)"),
    option("input_channels", INPUT_CHANNELS, minimum=1, maximum=128,
           help="channels of the fixed noise input"),
    option("input_noise", 0.0, minimum=0.0, maximum=1.0,
           help="std of the noise added to the input at every step (Ulyanov et al.'s "
                "reg_noise_std, e.g. 1/30; 0: off)"),
    option("warmup_steps", None, kind="int", optional=True, minimum=0, maximum=10_000,
           help=f"Adam steps fitting the generator to the start image before the run "
                f"(none: {WARMUP_STEPS}; 0: off)"),
)


def make_dip(shape: Sequence[int], init: Optional[torch.Tensor] = None, *,
             generator: Optional[torch.Generator] = None, device: str | torch.device = "cpu",
             **options) -> Parameterized:
    """Registry factory: a fresh generator and its fixed noise input.

    Options (``Settings.param_options``): :data:`OPTIONS`. With an init image and
    ``warmup_steps`` > 0 (None: WARMUP_STEPS) the generator is first fitted to the image: the
    record's ``warm_up`` (a :class:`WarmUp`), run by the engine before the first step and
    outside the step budget (:func:`nst_core.params.base.warm_up` runs it for a direct caller).
    Without a warm-up the run starts from the generator's random output.

    Sizes that ``2**depth`` does not divide are handled by running the network on a larger
    noise input and cropping its output (Ulyanov et al. crop the image instead).
    """
    o = option_values("dip", OPTIONS, options)
    depth, channels, skip_channels = o["depth"], o["channels"], o["skip_channels"]
    input_channels, input_noise, warmup_steps = (o["input_channels"], o["input_noise"],
                                                 o["warmup_steps"])
    n, c, h, w = shape
    if 2 ** depth > 4 * max(h, w):
        raise ValueError(f"dip depth {depth} is too deep for a {w}x{h} image")
    ph, pw = padded_size(h, w, depth)
    steps = WARMUP_STEPS if warmup_steps is None else warmup_steps
    cache_key = (warm_cache.key("dip", init, o, device, steps, torch.get_rng_state(), generator)
                 if init is not None and steps > 0 else None)
    net = SkipNet(input_channels, channels, skip_channels, depth, c).to(device)
    noise = (torch.rand((n, input_channels, ph, pw), generator=generator) * INPUT_SCALE).to(device)
    top, left = (ph - h) // 2, (pw - w) // 2

    def forward(x: torch.Tensor) -> torch.Tensor:
        return net(x)[:, :, top:top + h, left:left + w]

    def image_fn() -> torch.Tensor:
        x = noise
        # Perturb only while optimizing: the step-0 image and the result (read under no_grad)
        # are the generator's output on the fixed input, as in Ulyanov et al.
        if input_noise > 0 and torch.is_grad_enabled():
            # Drawn on the network's device: a CPU draw copied to a GPU at every step would
            # wait for the GPU each time. A GPU draws from its default generator, which the
            # engine seeds per run (torch.manual_seed); the CPU keeps the run's generator.
            drawn = generator if noise.device.type == "cpu" else None
            x = noise + torch.randn(noise.shape, generator=drawn, device=noise.device,
                                    dtype=noise.dtype) * input_noise
        return forward(x)

    warm = (WarmUp(net, image_fn, init.to(device=device, dtype=torch.float32), steps,
                   generator, cache_key) if cache_key is not None else None)
    return Parameterized(list(net.parameters()), image_fn, warm)


class WarmUp:
    """Fitting the generator to the start image under MSE with Adam (WARMUP_LR), one step per
    :meth:`step`. The engine drives it (:func:`nst_core.params.base.warm_up`), so a time budget
    and a stop land between its steps as between the run's; :meth:`finish` reports it."""

    def __init__(self, net: nn.Module, image_fn, target: torch.Tensor, steps: int,
                 generator: torch.Generator | None = None, cache_key: str | None = None):
        self._net, self._generator, self._key = net, generator, cache_key
        self._image_fn, self._target = image_fn, target
        self.done = 0
        # The same warm-up finished earlier in this process (nst_core.params.warm_cache):
        # taken over, with the random state it left, instead of run again.
        kept = warm_cache.take(cache_key) if cache_key else None
        self.reused = kept["steps"] if kept else 0
        if kept:
            net.load_state_dict(kept["weights"])
            if generator is not None:
                generator.set_state(kept["generator"])
            torch.set_rng_state(kept["rng"])
        self.steps = 0 if kept else steps
        self._opt: torch.optim.Optimizer | None = (
            None if kept else torch.optim.Adam(net.parameters(), lr=WARMUP_LR))

    def step(self) -> None:
        self._opt.zero_grad(set_to_none=True)
        F.mse_loss(self._image_fn(), self._target).backward()
        self._opt.step()
        self.done += 1

    def finish(self) -> tuple[float, float]:
        """How close the warm-up came: MSE and PSNR (dB) to the start image; frees Adam's
        moments, which are as large as the generator. A complete warm-up is kept for reuse."""
        self._opt = None
        if self._key and not self.reused and self.done >= self.steps:
            warm_cache.keep(self._key, {
                "steps": self.done, "rng": torch.get_rng_state(),
                "weights": {k: v.detach().clone() for k, v in self._net.state_dict().items()},
                "generator": self._generator.get_state() if self._generator else None})
        with torch.no_grad():
            mse = float(F.mse_loss(self._image_fn(), self._target))
        return mse, _psnr(mse)


def _psnr(mse: float) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1]."""
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


DIP = Parameterization(
    make_dip,
    {"lbfgs": 1.0,  # L-BFGS without a line search suits the generator poorly: use Adam or SGD
     "adam": 0.001,  # the fastest rate that stays stable after the warm-up
     "sgd": 0.0012},  # relative, on the log objective: most style that keeps the photo
    "Deep Image Prior: weights of a skip encoder-decoder on fixed noise (Ulyanov et al.)",
    best="adam", log_objective=frozenset({"sgd"}), options=OPTIONS,
    warmup_option="warmup_steps",
    # read when asked: tests and callers may change the module's value
    warmup_default=lambda: WARMUP_STEPS)
