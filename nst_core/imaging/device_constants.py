"""Small constant tensors (colour matrices, the VGG19 mean pixel, filter kernels), kept on
every device and in every dtype they are used with.

A constant written as ``torch.tensor(...)`` lives on the CPU. Met with image data on a GPU it
is either refused (a CUDA kernel takes no CPU tensor but a 0-dim one) or, moved with
``.to(image)`` at each use, a host-to-device copy that waits for the GPU at every step. Each
constant here is made once per (name, device, dtype) and reused.
"""
from __future__ import annotations

import threading
from typing import Callable

import torch

_CACHE: dict[tuple[str, str, torch.dtype], torch.Tensor] = {}
_LOCK = threading.Lock()


def constant(name: str, device: torch.device | str, dtype: torch.dtype,
             make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """The constant ``name`` on ``device`` in ``dtype``; ``make()`` builds it (on the CPU, in
    any dtype) the first time. Callers must not change it in place: it is shared."""
    key = (name, str(torch.device(device)), dtype)
    value = _CACHE.get(key)
    if value is None:
        value = make().to(device=device, dtype=dtype)
        with _LOCK:
            value = _CACHE.setdefault(key, value)
    return value
