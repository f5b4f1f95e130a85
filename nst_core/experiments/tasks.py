"""Grids of tasks: several content images x several styles x a list of settings.

A :class:`Task` is one stylization a grid needs, described completely (the input images' bytes,
the settings, where its result goes), so it can be performed in this process or on another
machine (see :mod:`nst_core.experiments.distributed`). :func:`perform` performs one and never
raises: a task that fails (a bad image, out of memory) comes back as an :class:`Outcome` with its
message, so the rest of a grid finishes. :func:`perform_grid` performs a whole grid: results are
written by the driver through :func:`nst_core.results.write_result` (:func:`save_outcome`), and a
task whose result PNG and complete JSON already exist is not performed again
(:func:`load_finished`): the same command run twice resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from PIL import Image

from ..imaging import images
from ..records import Progress
from ..results import json_path, write_result
from ..settings import Settings

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")

# A task's work: (task, on_step or None) -> (result image, metadata for the result files).
TaskWork = Callable[["Task", "Callable[[Progress], None] | None"], "tuple[Image.Image, dict]"]


@dataclass(frozen=True)
class Source:
    """An input image file: its path (for labels and messages) and its bytes (sent with the
    task, so a worker on another machine needs no shared disk)."""

    path: str
    data: bytes | None = field(default=None, repr=False, compare=False)
    digest: str = ""  # sha256 of the bytes, the task's identity for resuming

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Source":
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"{os.fspath(path)}: file not found")
        data = p.read_bytes()
        return cls(os.fspath(path), data, hashlib.sha256(data).hexdigest())

    @property
    def stem(self) -> str:
        return Path(self.path).stem

    def load(self, what: str) -> Image.Image:
        """The decoded image; ImageError naming the file if it is not one."""
        return images.load_image(self.data, name=f"{what} {self.path}")


def image_files(paths: Iterable[str | os.PathLike], what: str) -> list[str]:
    """Each path as given, or a folder's image files in name order; ValueError if a path is
    neither or a folder holds no images."""
    found: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            inside = sorted(str(f) for f in p.iterdir()
                            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise ValueError(f"{what} folder {os.fspath(path)} holds no images "
                                 f"({', '.join(IMAGE_SUFFIXES)})")
            found.extend(inside)
        elif p.is_file():
            found.append(os.fspath(path))
        else:
            raise FileNotFoundError(f"{what} {os.fspath(path)}: no such file or folder")
    return found


@dataclass(frozen=True)
class Task:
    """One stylization of a grid: inputs, settings, where its result goes, and what it shows."""

    work: TaskWork  # a module-level function, so it travels to workers by name
    settings: Settings  # validated already
    content: Source | None
    styles: tuple[Source, ...]
    path: str  # result PNG (its JSON beside it)
    label: str  # caption in the grid
    value: Any = None  # the varied setting's value (or the method)
    masks: tuple[Source, ...] | None = None
    key: str = ""  # identity: inputs' digests + settings + job (see :func:`task_key`)

    def sources(self) -> list[Source]:
        return [s for s in (self.content, *self.styles, *(self.masks or ())) if s is not None]

    def facts(self) -> dict[str, Any]:
        """What the result's metadata says about the task's place in the grid."""
        return {"key": self.key, "label": self.label, "value": self.value,
                "content": self.content.path if self.content else None,
                "styles": [s.path for s in self.styles],
                "masks": [m.path for m in self.masks] if self.masks else None}


def task_key(work: TaskWork, settings: Settings, sources: Sequence[Source],
             value: Any = None) -> str:
    """The same inputs, settings and work give the same key (and the same result file)."""
    data = {"job": f"{work.__module__}.{work.__qualname__}", "settings": settings.to_dict(),
            "inputs": [s.digest for s in sources], "value": value}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def make_task(work: TaskWork, settings: Settings, content: Source | None,
              styles: Sequence[Source], folder: str | os.PathLike, label: str, value: Any = None,
              masks: Sequence[Source] | None = None, name: str | None = None) -> Task:
    """A :class:`Task` with its key; its result file is ``folder/name.png`` (default: the
    content's and styles' names and the key's first 12 digits, stable across runs)."""
    masks = tuple(masks) if masks else None
    sources = [s for s in (content, *styles, *(masks or ())) if s is not None]
    key = task_key(work, settings, sources, value)
    if name is None:
        stems = [content.stem if content else "none", "+".join(s.stem for s in styles) or "none"]
        name = "__".join(re.sub(r"[^A-Za-z0-9_.+-]", "_", s)[:40] for s in stems) + f"__{key[:12]}"
    return Task(work, settings, content, tuple(styles), os.fspath(Path(folder) / f"{name}.png"),
                label, value, masks, key)


@dataclass
class Outcome:
    """What came of a task: its image and metadata, or the message of its failure."""

    key: str
    image: Image.Image | None = None
    metadata: dict | None = None  # as written to the result files
    error: str | None = None
    resumed: bool = False  # found complete on disk, not performed again
    worker: int | None = None  # process id that performed it
    seconds: float = 0.0  # wall time of the whole task (set-up included)

    @property
    def ok(self) -> bool:
        return self.error is None


def _message(exc: BaseException) -> str:
    if isinstance(exc, (ValueError, FileNotFoundError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def perform(task: Task, on_step: Callable[[Progress], None] | None = None) -> Outcome:
    """Perform ``task`` here; a failure is returned as the outcome's ``error``, never raised (the
    rest of the grid goes on)."""
    start = time.perf_counter()
    try:
        image, metadata = task.work(task, on_step)
    except Exception as exc:  # noqa: BLE001 - any failure is reported in the grid's table
        return Outcome(task.key, error=_message(exc), worker=os.getpid(),
                       seconds=time.perf_counter() - start)
    metadata = dict(metadata, grid=task.facts())
    return Outcome(task.key, image, metadata, worker=os.getpid(),
                   seconds=time.perf_counter() - start)


def fixed_score(content: Image.Image, style: Any, image: Image.Image,
                settings: Settings) -> dict[str, float]:
    """The fixed scorer's numbers for a result (:mod:`nst_core.experiments.scoring`: the same
    yardstick for every task of a grid, whatever its settings)."""
    from .scoring import make_scorer

    scorer = make_scorer(content, style, max(image.size), device=settings.device,
                         weights=settings.weights)
    return scorer(image)


def load_finished(task: Task) -> Outcome | None:
    """The task's outcome read back from its files if both exist and the JSON is complete and
    belongs to this task (same key); otherwise None (perform it)."""
    png, js = Path(task.path), json_path(task.path)
    if not (png.is_file() and js.is_file()):
        return None
    try:
        metadata = json.loads(js.read_text())
        if (metadata.get("grid", {}).get("key") != task.key or "settings" not in metadata
                or "total" not in metadata.get("losses", {})):
            return None
        with Image.open(png) as img:
            image = img.convert("RGB")
    except (OSError, ValueError, AttributeError):
        return None  # a half-written or foreign file: run again
    return Outcome(task.key, image, metadata, resumed=True)


def save_outcome(task: Task, outcome: Outcome) -> None:
    """Write a finished task's result files (the one writer); failures write nothing, so the
    next run of the command tries them again."""
    if outcome.ok and not outcome.resumed:
        write_result(outcome.image, task.path, outcome.metadata)


def perform_here(tasks: Sequence[Task], on_outcome: Callable[[Task, Outcome], None],
                 on_step: Callable[[Task, Progress], None] | None = None) -> None:
    """Perform ``tasks`` one after another in this process."""
    for task in tasks:
        step = None if on_step is None else (lambda p, t=task: on_step(t, p))
        on_outcome(task, perform(task, step))


def outcome_row(task: Task, outcome: Outcome) -> dict[str, Any]:
    """A task's line in a grid's table and JSON."""
    meta = outcome.metadata or {}
    facts = meta.get("run", {})  # as the result file holds them
    return {"label": task.label, "value": task.value,
            "content": task.content.path if task.content else None,
            "styles": [s.path for s in task.styles], "file": task.path if outcome.ok else None,
            "status": "failed" if not outcome.ok else "resumed" if outcome.resumed else "done",
            "error": outcome.error, "losses": meta.get("losses"), "score": meta.get("score"),
            "seconds": facts.get("seconds"), "seed": facts.get("seed"), "worker": outcome.worker}


def record_from_metadata(outcome: Outcome) -> Progress:
    """A finished task's final record, rebuilt from its metadata (a resumed task's too)."""
    return Progress.from_metadata(outcome.metadata or {}, outcome.image)

