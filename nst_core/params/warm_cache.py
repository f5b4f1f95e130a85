"""Finished warm-ups kept for reuse within the process: a second run on the same start image,
size, seed and options (a second comparison on the same photo) takes the fitted generator
over instead of fitting it again. What is kept is everything the warm-up changed: the
generator's weights and the run's random generator, so the run that follows is the same as
after a fresh warm-up."""
from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from typing import Any, Iterator

import torch

# Finished warm-ups kept (the oldest dropped beyond): a DIP generator at 256 px is a few MB.
KEPT = 4
_LOCK = threading.Lock()
_KEPT: "OrderedDict[str, dict[str, Any]]" = OrderedDict()
_BYPASS = threading.local()  # set in this thread: warm-ups neither taken over nor kept


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            t = part.detach().to("cpu").contiguous()
            h.update(str((t.dtype, tuple(t.shape))).encode())
            h.update(t.numpy().tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()


def key(name: str, init: torch.Tensor, options: dict, device: Any, steps: int,
        rng: torch.Tensor, generator: torch.Generator | None) -> str:
    """What makes two warm-ups identical: the parameterization, its start image, options,
    device and steps, and the random state its generator and noise are drawn from."""
    state = generator.get_state() if generator is not None else None
    return _digest(name, init, sorted(options.items()), str(device), steps, rng, state)


@contextlib.contextmanager
def bypassed() -> Iterator[None]:
    """Warm-ups in this thread run in full and are not kept: the time estimate's probes time
    a warm-up, which a kept one would hide (and random probe images would only crowd out a
    visitor's)."""
    _BYPASS.on = True
    try:
        yield
    finally:
        _BYPASS.on = False


def take(k: str) -> dict[str, Any] | None:
    if getattr(_BYPASS, "on", False):
        return None
    with _LOCK:
        found = _KEPT.get(k)
        if found is not None:
            _KEPT.move_to_end(k)
        return found


def keep(k: str, entry: dict[str, Any]) -> None:
    if getattr(_BYPASS, "on", False):
        return
    with _LOCK:
        _KEPT[k] = entry
        _KEPT.move_to_end(k)
        while len(_KEPT) > KEPT:
            _KEPT.popitem(last=False)


def clear() -> None:
    with _LOCK:
        _KEPT.clear()
