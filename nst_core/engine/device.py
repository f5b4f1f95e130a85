"""Which device a run uses, and the per-device switches that pay for a style-transfer loop."""
from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an unavailable explicit device raises ValueError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None)
                                     and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but MPS is not available")
    return device


def tune_backend(device: torch.device) -> None:
    """Per-device switches that pay for a style-transfer loop.

    cuDNN's autotuner (``cudnn.benchmark``) times the convolution algorithms for each new input
    shape once and keeps the fastest; a run evaluates one shape hundreds of times (one per
    multi-scale level), so the one-off search is repaid within a few steps. TF32 is left at
    PyTorch's default (on for cuDNN convolutions, off for matmuls): its 10-bit mantissa is finer
    than bf16's 7, which already missed the 1% objective bound on the CPU (bench/quality.py),
    and it could not be checked on a GPU here.
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
