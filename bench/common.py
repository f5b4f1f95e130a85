"""Shared pieces of the benchmarks: pastiche driven in-process, and one evaluator for all.

The evaluator is pastiche's own objective (pastiche 1.6.0, ``PasticheArtist._calc_loss``):
content relu4_2 MSE x 0.01 + sum over relu1_1..relu5_1 of Gram MSE x 10/C^2, Grams divided by
h*w, the style image resized to the output's pixel count. It scores saved 8-bit PNGs, so every
method is judged on the file a user gets.
"""
from __future__ import annotations

import os
import platform
import struct
import sys
import time
import zlib
from pathlib import Path

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from nst_core.imaging import images  # noqa: E402
from nst_core.losses.base import gram  # noqa: E402
from nst_core.imaging.vgg import FeatureExtractor, get_vgg  # noqa: E402

CONTENT = os.path.join(ROOT, "examples", "astronaut.png")
STYLE = os.path.join(ROOT, "examples", "starry_night.jpg")
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# pastiche's default layer weights: 0.01 for content, 10/C^2 per style layer.
PASTICHE_CONTENT_WEIGHT = 0.01
PASTICHE_STYLE_NUMERATOR = 10.0
# Our settings that optimize the same balance: our content term is the plain MSE and our style
# term is MSE/C^2, so style_weight = 10 / 0.01 with content_weight 1 (our objective = 100 x its).
SAME_BALANCE = dict(content_weight=1.0, style_weight=1e3, tv_weight=0.0)


def machine() -> str:
    """The CPU (model name, family and model numbers, its widest vector extension), cores, GPU
    and torch: what every figure a benchmark prints is tied to."""
    cpu = platform.processor() or platform.machine()
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" in info:
        flags = info.get("flags", "").split()
        vector = next((f for f in ("avx512_bf16", "avx512f", "avx2") if f in flags), None)
        cpu = ", ".join(x for x in (info["model name"], f"family {info.get('cpu family', '?')} "
                                    f"model {info.get('model', '?')}", vector) if x)
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}"


def to_caffe(rgb01: torch.Tensor) -> torch.Tensor:
    from nst_core.imaging.vgg import VGG_MEAN_BGR

    return rgb01.flip(1) * 255.0 - torch.tensor(VGG_MEAN_BGR).view(1, 3, 1, 1)


def from_caffe(caffe: torch.Tensor) -> torch.Tensor:
    from nst_core.imaging.vgg import VGG_MEAN_BGR

    return ((caffe + torch.tensor(VGG_MEAN_BGR).view(1, 3, 1, 1)) / 255.0).flip(1)


class PasticheEvaluator:
    """pastiche's objective for any image of the output size (fp32, no gradients)."""

    def __init__(self, size: int, content: str = CONTENT, style: str = STYLE):
        from pastiche.pastiche import load_image as p_load

        self.extractor = FeatureExtractor(get_vgg(), ("relu4_2",) + STYLE_LAYERS)
        content_caffe = p_load(content, size=size)
        self.shape = tuple(content_caffe.shape[2:])
        style_caffe = p_load(style, pixels=self.shape[0] * self.shape[1])
        with torch.no_grad():
            self.content = self.extractor(from_caffe(content_caffe), ("relu4_2",))["relu4_2"]
            feats = self.extractor(from_caffe(style_caffe), STYLE_LAYERS)
            self.grams = {k: gram(v) for k, v in feats.items()}

    def __call__(self, image01: torch.Tensor) -> float:
        with torch.no_grad():
            f = self.extractor(image01)
            loss = PASTICHE_CONTENT_WEIGHT * torch.nn.functional.mse_loss(f["relu4_2"],
                                                                          self.content)
            for name in STYLE_LAYERS:
                c = f[name].shape[1]
                loss = loss + PASTICHE_STYLE_NUMERATOR / c ** 2 * torch.nn.functional.mse_loss(
                    gram(f[name]), self.grams[name])
        return float(loss)

    def score_pil(self, img) -> float:
        """Score an 8-bit image as a saved PNG loads back."""
        t = images.to_tensor(img)
        if tuple(t.shape[2:]) != self.shape:
            raise ValueError(f"image is {tuple(t.shape[2:])}, evaluator expects {self.shape}")
        return self(t)


def pastiche_inputs(size: int, content: str = CONTENT, style: str = STYLE):
    """Content and style exactly as pastiche resizes them (PIL bilinear), as RGB PIL images.

    Our engine resizes with LANCZOS, which keeps more fine detail in the style image and so
    gives different deep-layer Gram targets; feeding it these images makes both engines
    optimize the identical objective, so the benchmarks compare speed alone. (Our engine's
    resize is then a no-op: the sizes already match.)
    """
    from pastiche.pastiche import load_image as p_load

    c = p_load(content, size=size)
    s = p_load(style, pixels=c.shape[2] * c.shape[3])
    return (images.to_pil(images.quantize(from_caffe(c))),
            images.to_pil(images.quantize(from_caffe(s))))


def pastiche_artist(size: int, content: str = CONTENT, style: str = STYLE):
    """pastiche's own optimizer state (L-BFGS, max_iter=1: one evaluation per draw())."""
    from pastiche.pastiche import PasticheArtist

    return PasticheArtist(content, [style], device="cpu", size=size, style_weights=[1.0])


def pastiche_image(artist):
    """The PNG pastiche would save (its save_image: unnormalize, round, clamp), as PIL."""
    x = from_caffe(artist.pastiche.detach().cpu())
    return images.to_pil(images.quantize(x))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def write_bomb_png(path: Path, width: int = 12000, height: int = 12000) -> Path:
    """A decompression bomb: a 1-bit all-zero PNG of a few KB on disk whose header says
    ``width`` x ``height`` pixels (144 megapixels by default; decoding it would take hundreds
    of MB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
        ">IIBBBBB", width, height, 1, 0, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path
