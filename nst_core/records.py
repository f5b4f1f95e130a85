"""The records that cross layers: a run's progress as the engine reports it, with its facts as
typed records, read by the schedules, the experiments, the command line and the app.

Facts come in four records, each set by the layer that knows them: :class:`RunFacts` (one
engine run: a whole run, a level or a tile; set by the loop), :class:`LevelFacts` (where a
record of a coarse-to-fine run stands), :class:`TileFacts` (a tiled level) and
:class:`PlanFacts` (the final record of a scheduled run). :attr:`Progress.info` is their JSON
view, the ``"run"`` object result files hold. Every field may be missing in a file written
before it existed, so each record's fields default to None and ``from_json`` takes any subset.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from PIL import Image

LOSS_TERMS = ("content", "style", "tv", "total")


def _present(pairs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in pairs.items() if v is not None}


def _pick(cls, data: Mapping[str, Any], names: Mapping[str, str] | None = None):
    """A ``cls`` from the JSON keys it knows (``names``: field -> key), or None with none."""
    names = names or {f.name: f.name for f in dataclasses.fields(cls)}
    found = {f: data[k] for f, k in names.items() if k in data}
    for f in ("size", "tile_box"):
        if isinstance(found.get(f), list):
            found[f] = tuple(found[f])
    return cls(**found) if found else None


@dataclass(frozen=True)
class WarmUpFacts:
    """What a parameterization's warm-up did before the first step (a DIP generator fitting
    the start image): steps done, seconds spent, how close it came (MSE, PSNR in dB).
    ``reused``: an earlier run's identical warm-up was taken over (``seconds`` is then what
    taking it over cost, ``steps`` the steps that warm-up made)."""

    steps: int | None = None
    seconds: float | None = None
    mse: float | None = None
    psnr: float | None = None
    reused: bool | None = None

    _KEYS = {"steps": "warmup_steps", "seconds": "warmup_seconds", "mse": "warmup_mse",
             "psnr": "warmup_psnr", "reused": "warmup_reused"}

    def to_json(self) -> dict[str, Any]:
        return _present({"warmup_mse": self.mse, "warmup_psnr": self.psnr,
                         "warmup_steps": self.steps, "warmup_seconds": self.seconds,
                         "warmup_reused": self.reused or None})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "WarmUpFacts | None":
        return _pick(cls, data, cls._KEYS)


@dataclass(frozen=True)
class RunFacts:
    """One engine run (a whole run, one level, or one tile), as the loop reports it: at step
    0 what it runs, on its final record also what it took."""

    size: tuple[int, int] | None = None  # (width, height) this engine run optimizes
    device: str | None = None
    param: str | None = None
    optimizer: str | None = None
    lr: float | None = None
    seed: int | None = None
    parameters: int | None = None
    setup_seconds: float | None = None
    warmup: WarmUpFacts | None = None
    average: float | None = None  # the iterate-averaging decay used (0: none)
    stopped_by: str | None = None  # "time_budget" when the time budget ended the run
    seconds: float | None = None  # the final record's: the run's own time ...
    seconds_per_step: float | None = None
    steps_done: int | None = None

    def finished(self, seconds: float, steps: int) -> "RunFacts":
        return dataclasses.replace(self, seconds=seconds,
                                   seconds_per_step=seconds / max(steps, 1), steps_done=steps)

    def to_json(self) -> dict[str, Any]:
        facts = _present({f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                          if f.name not in ("warmup", "average", "stopped_by", "seconds",
                                            "seconds_per_step", "steps_done")})
        facts.update(self.warmup.to_json() if self.warmup else {})
        facts.update(_present({"average": self.average, "stopped_by": self.stopped_by,
                               "seconds": self.seconds, "seconds_per_step": self.seconds_per_step,
                               "steps_done": self.steps_done}))
        return facts

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RunFacts | None":
        names = {f.name: f.name for f in dataclasses.fields(cls) if f.name != "warmup"}
        facts = _pick(cls, data, names)
        warmup = WarmUpFacts.from_json(data)
        if warmup is not None:
            facts = dataclasses.replace(facts or cls(), warmup=warmup)
        return facts


@dataclass(frozen=True)
class LevelFacts:
    """Where a record of a scheduled (coarse-to-fine or tiled) run stands."""

    level: int | None = None
    levels: int | None = None
    size: tuple[int, int] | None = None  # (width, height) of this level's output
    level_steps: int | None = None
    level_step: int | None = None

    def to_json(self) -> dict[str, Any]:
        return _present(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "LevelFacts | None":
        return _pick(cls, data) if "level" in data else None


@dataclass(frozen=True)
class TileFacts:
    """A tiled level: its tiling, the tile a record comes from, and on the level's result
    what its seconds and losses are."""

    tiles: int | None = None
    tile_size: int | None = None
    tile_overlap: int | None = None
    tile: int | None = None  # the tile this record comes from
    tile_box: tuple[int, int, int, int] | None = None  # (top, bottom, left, right)
    level_seconds: float | None = None
    losses_are: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _present(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TileFacts | None":
        return _pick(cls, data) if "tiles" in data else None


@dataclass(frozen=True)
class PlanFacts:
    """The final record of a scheduled run: its levels as run, and the whole run's time."""

    multiscale: bool | None = None
    level_plan: tuple[dict[str, Any], ...] | None = None  # size, steps, tiles, seconds per level
    seconds: float | None = None
    seconds_per_step: float | None = None

    def to_json(self) -> dict[str, Any]:
        return _present({"multiscale": self.multiscale,
                         "level_plan": None if self.level_plan is None else
                         [dict(level) for level in self.level_plan],
                         "seconds": self.seconds, "seconds_per_step": self.seconds_per_step})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PlanFacts | None":
        if "level_plan" not in data:
            return None
        return cls(data.get("multiscale"), tuple(data["level_plan"]), data.get("seconds"),
                   data.get("seconds_per_step"))


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
    run: RunFacts | None = None  # the step-0 and final records of an engine run
    level: LevelFacts | None = None  # every record of a scheduled run
    tiles: TileFacts | None = None  # the records of a tiled level
    plan: PlanFacts | None = None  # the final record of a scheduled run

    @property
    def eta(self) -> float | None:
        """Seconds left at the current pace (None before the first step)."""
        if self.step <= 0 or self.done:
            return None if self.step <= 0 else 0.0
        return self.elapsed / self.step * (self.total - self.step)

    @property
    def seconds(self) -> float | None:
        """The run's own seconds (a scheduled run's whole; on final records)."""
        return self.plan.seconds if self.plan else self.run.seconds if self.run else None

    @property
    def seconds_per_step(self) -> float | None:
        return (self.plan.seconds_per_step if self.plan else
                self.run.seconds_per_step if self.run else None)

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) of the image this record is about."""
        return self.level.size if self.level else self.run.size if self.run else None

    @property
    def seed(self) -> int | None:
        return self.run.seed if self.run else None

    @property
    def info(self) -> dict[str, Any]:
        """The facts as result files store them: one JSON object (later records win a shared
        key: a level's size over its tile's, the plan's seconds over the last level's)."""
        facts: dict[str, Any] = {}
        for part in (self.run, self.tiles, self.level, self.plan):
            if part is not None:
                facts.update(part.to_json())
        return facts

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any], image: Image.Image | None = None
                      ) -> "Progress":
        """A finished run's final record, rebuilt from its result file's metadata (any facts
        it lacks, e.g. a file written before they existed, are None)."""
        facts: Mapping[str, Any] = meta.get("run") or {}
        step = int(facts.get("step", 0))
        return cls(step, step, float(facts.get("seconds") or 0.0), dict(meta["losses"]),
                   done=True, image=image, run=RunFacts.from_json(facts),
                   level=LevelFacts.from_json(facts), tiles=TileFacts.from_json(facts),
                   plan=PlanFacts.from_json(facts))


def history_row(p: Progress) -> dict:
    return {"step": p.step, "seconds": round(p.elapsed, 4), **p.losses}
