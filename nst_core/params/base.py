"""What every parameterization shares: the registry entry (:class:`Parameterization`), the
record a factory returns (:class:`Parameterized`) and the helpers the engine uses on it.

Each factory follows lucent's ``make(shape, init=None, *, generator, device, **options) ->
(params, image_fn)``: ``params`` is the list of tensors handed to the optimizer and
``image_fn()`` returns the current NCHW RGB image in [0, 1]. The engine needs nothing else, so a
new parameterization works with every optimizer, loss, preview and colour option unchanged.
"""
from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence

import torch

from ..fields import FieldInfo
from ..records import WarmUpFacts


class WarmUp(Protocol):
    """Set-up a factory leaves for the engine to run before the first step (a DIP generator
    fitting the start image): ``steps`` planned, one :meth:`step` at a time, then
    :meth:`finish` reports how close it came (MSE, PSNR in dB)."""

    steps: int

    def step(self) -> None: ...

    def finish(self) -> tuple[float, float]: ...


class Parameterized(tuple):
    """What a factory made: lucent's ``(params, image_fn)`` pair (it unpacks as one), and the
    set-up it leaves for the engine (``warm_up``, a :class:`WarmUp`, or None)."""

    warm_up: WarmUp | None

    def __new__(cls, params: list[torch.Tensor], image_fn: Callable[[], torch.Tensor],
                warm_up: WarmUp | None = None) -> "Parameterized":
        made = super().__new__(cls, (params, image_fn))
        made.warm_up = warm_up
        return made

    @property
    def params(self) -> list[torch.Tensor]:
        return self[0]

    @property
    def image_fn(self) -> Callable[[], torch.Tensor]:
        return self[1]


ImageFn = Callable[[], torch.Tensor]
MakeFn = Callable[..., "Parameterized | tuple[list[torch.Tensor], ImageFn]"]


@dataclass(frozen=True)
class Parameterization:
    """A registry entry: the factory, and the learning rate each optimizer starts from."""

    make: MakeFn  # make(shape, init=None, *, generator=None, device="cpu", **options)
    # Default learning rate per optimizer name: a number, or a function of the NCHW shape for
    # optimizers whose step size depends on it (plain SGD on a mean-reduced loss).
    lr: dict[str, "float | Callable[[Sequence[int]], float]"]
    description: str = ""
    # The optimizer this parameterization is shown with by default (comparisons put every
    # parameterization at its best): the one that scores lowest
    # (docs/calibration.md#learning-rates).
    best: str = "lbfgs"
    # Iterate-averaging decay per optimizer where it was measured to help (engine._Average);
    # optimizers left out run without averaging unless Settings.average asks for it.
    average: dict[str, float] = field(default_factory=dict)
    # Optimizers that descend the log of the objective (its gradient divided by its current
    # value) on this parameterization, so their step keeps its size while the loss falls by
    # orders of magnitude; their learning rate is then a relative one (engine._Closure).
    log_objective: frozenset[str] = frozenset()
    # The options ``make`` takes (Settings.param_options), each with its type and range
    # (settings.option); settings.validate checks a run's against them.
    options: tuple[FieldInfo, ...] = ()
    # The option that counts the warm-up's steps (see Parameterized), and the count when it
    # is not given: a server bounds it like the step budget and the estimate counts it.
    warmup_option: str | None = None
    warmup_default: Callable[[], int] = lambda: 0

    def warmup_steps(self, options: Mapping[str, Any], has_start: bool = True) -> int:
        """Warm-up steps ``make`` plans with ``options``; none without a start image (there
        is nothing to fit)."""
        if self.warmup_option is None or not has_start:
            return 0
        value = options.get(self.warmup_option)
        return self.warmup_default() if value is None else int(value)

    def build(self, shape: Sequence[int], init: Optional[torch.Tensor] = None,
              **kwargs) -> Parameterized:
        """``make``'s result as a :class:`Parameterized` (a factory with no set-up of its own
        may return the plain ``(params, image_fn)`` pair)."""
        made = self.make(shape, init, **kwargs)
        return made if isinstance(made, Parameterized) else Parameterized(*made)

    def default_lr(self, optimizer: str, shape: Sequence[int]) -> float:
        if optimizer not in self.lr:
            raise ValueError(f"no default learning rate for optimizer {optimizer!r}; pass lr")
        lr = self.lr[optimizer]
        return float(lr(shape) if callable(lr) else lr)


def per_pixel_lr(lr_at_64px: float) -> Callable[[Sequence[int]], float]:
    """An SGD learning rate that scales with the pixel count.

    The losses are means over positions, so each pixel's gradient shrinks as 1/(H*W); plain SGD
    (unlike Adam or L-BFGS) needs the step scaled back up to behave the same at every size.
    """
    return lambda shape: lr_at_64px * shape[-1] * shape[-2] / (64 * 64)


# Who hears of a warm-up's steps as they go, in this context: ``listener(done, total)``. A
# warm-up runs inside a single step of the engine's stream (no record comes until it ends), so
# a caller that shows its progress (the app's status line) listens here instead.
WARM_UP_LISTENER: contextvars.ContextVar[Callable[[int, int], None] | None] = \
    contextvars.ContextVar("warm_up_listener", default=None)


def warm_up(made: Parameterized, seconds: float | None = None) -> WarmUpFacts | None:
    """Run the set-up a factory left in ``made.warm_up`` (a DIP generator fitting the start
    image), once, stopping early when ``seconds`` are spent: what it did, or None without one.
    The engine calls it before the first step, so a time budget and a stop land between its
    steps as between the run's."""
    warm = made.warm_up
    if warm is None:
        return None
    start, done = time.perf_counter(), 0
    listener = WARM_UP_LISTENER.get()
    while done < warm.steps and (seconds is None or time.perf_counter() - start < seconds):
        warm.step()
        done += 1
        if listener is not None:
            listener(done, warm.steps)
    mse, psnr = warm.finish()
    made.warm_up = None  # run once
    reused = getattr(warm, "reused", None)  # a cached warm-up taken over: its steps, no work
    return WarmUpFacts(steps=reused or done, seconds=time.perf_counter() - start, mse=mse,
                       psnr=psnr, reused=bool(reused) or None)


def count_parameters(params: Sequence[torch.Tensor]) -> int:
    return sum(p.numel() for p in params)
