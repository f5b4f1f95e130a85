"""The records that cross layers: a run's progress as the engine reports it, read by the
schedules, the experiments, the command line and the app."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

LOSS_TERMS = ("content", "style", "tv", "total")


@dataclass(frozen=True)
class WarmUpFacts:
    """What a parameterization's warm-up did before the first step (a DIP generator fitting
    the start image): steps done, seconds spent, how close it came (MSE, PSNR in dB)."""

    steps: int
    seconds: float
    mse: float
    psnr: float

    def to_json(self) -> dict[str, Any]:
        return {"warmup_steps": self.steps, "warmup_seconds": self.seconds,
                "warmup_mse": self.mse, "warmup_psnr": self.psnr}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "WarmUpFacts | None":
        """The facts a result file holds, or None where it holds none."""
        if "warmup_steps" not in data:
            return None
        return cls(data["warmup_steps"], data.get("warmup_seconds", 0.0),
                   data.get("warmup_mse", float("nan")), data.get("warmup_psnr", float("nan")))


@dataclass
class Progress:
    """One report from a running job."""

    step: int  # objective evaluations done so far
    total: int  # the step budget
    elapsed: float  # seconds since the optimization started (set-up excluded)
    losses: dict[str, float]  # weighted content, style, tv and their total, at this step
    preview: Image.Image | None = None  # the current image, every preview_every steps
    done: bool = False  # True on the last record only
    image: Image.Image | None = None  # the result, on the last record
    # The image as it stands after this step (on the last record: the result), 1x3xHxW in
    # [0, 1] on the run's device: what a stopped job keeps, and what a caller pacing previews
    # by time turns into a picture without waiting for the next preview step.
    tensor: torch.Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)  # run facts: size, device, params, ...

    @property
    def eta(self) -> float | None:
        """Seconds left at the current pace (None before the first step)."""
        if self.step <= 0 or self.done:
            return None if self.step <= 0 else 0.0
        return self.elapsed / self.step * (self.total - self.step)


def history_row(p: Progress) -> dict:
    return {"step": p.step, "seconds": round(p.elapsed, 4), **p.losses}
