"""Where a grid's tasks are performed: here, one after another, or on a Ray cluster
(``--ray ADDRESS``), one Ray task per grid task (:func:`perform_grid` chooses, resumes and
writes the results).

Ray is imported only here and only when a grid is sent to it, so grids performed here never
load it (it is an optional extra: ``pip install nst-core[ray]``).

- ``local`` starts a Ray instance on this machine for the grid; ``auto`` or ``HOST:PORT``
  joins a running cluster (``ray start --head``); a Ray already started in this process (a test,
  a notebook) is used as it is.
- A task asks for a fraction of a GPU (``gpus_per_run``, several 512 px runs fit on one) when
  the cluster has GPUs and the task may use one, and ``cpus_per_run`` cores.
- The VGG19 weights load once per worker process: :func:`nst_core.imaging.vgg.get_vgg` caches the
  network per process and the task is declared with ``max_calls=0``, so Ray keeps its workers
  between tasks (its default for GPU tasks, one call per worker, would start a fresh process and
  reload the weights for every task). Plain tasks rather than an actor pool: Ray then retries a
  task whose worker dies (``max_retries``), places each task wherever resources free up, and
  cancels queued tasks on Ctrl-C, with no pool to keep alive.
- The input images travel through Ray's object store once each (``ray.put``), not once per task.
- Results stream back as tasks finish (``ray.wait``); the driver writes them.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from ..records import Progress
from .tasks import Outcome, Source, Task, load_finished, perform, perform_here, save_outcome

MAX_RETRIES = 3  # a task whose worker process dies (killed, out of host memory) runs again
WAIT_SECONDS = 0.5  # how often the driver looks up from ray.wait (so Ctrl-C is prompt)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a grid: the remaining tasks were cancelled; the message says how many."""


def _ray():
    try:
        import ray
    except ImportError:
        raise ValueError("--ray needs Ray: pip install 'nst-core[ray]' (or pip install ray)"
                         ) from None
    return ray


def connect(address: str) -> bool:
    """Start (``local``) or join (``auto``, ``HOST:PORT``, ``ray://...``) Ray; True if this
    call did so (the caller then shuts it down), False if Ray was already initialized here."""
    ray = _ray()
    if ray.is_initialized():
        return False
    # Ray's own notices would break the progress bar; its failures still raise.
    options: dict[str, Any] = dict(logging_level=logging.ERROR, log_to_driver=False)
    if address == "local":
        # Workers import nst_core from the same place as this process.
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        ray.init(include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": path}},
                 **options)
    else:
        try:
            ray.init(address=address, **options)
        except ConnectionError as exc:
            raise ValueError(f"--ray {address}: no Ray cluster there ({exc}); start one with "
                             "`ray start --head`, or use --ray local") from None
    return True


def _in_worker(task: Task, cpus: float, before_run: Callable[[], None] | None,
               *blobs: bytes) -> Outcome:
    """The Ray task: put the bytes back into the task's sources and perform it in this worker."""
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(max(1, int(cpus)))  # the cores Ray granted, not every core
    data = iter(blobs)

    def fill(s: Source | None) -> Source | None:
        return None if s is None else dataclasses.replace(s, data=next(data))

    task = dataclasses.replace(task, content=fill(task.content),
                               styles=tuple(fill(s) for s in task.styles),
                               masks=None if task.masks is None
                               else tuple(fill(m) for m in task.masks))
    if before_run is not None:
        before_run()
    return perform(task)


def _strip(task: Task) -> Task:
    def empty(s: Source | None) -> Source | None:
        return None if s is None else dataclasses.replace(s, data=None)

    return dataclasses.replace(task, content=empty(task.content),
                               styles=tuple(empty(s) for s in task.styles),
                               masks=None if task.masks is None
                               else tuple(empty(m) for m in task.masks))


def task_options(ray, tasks: Sequence[Task], cpus_per_run: float,
                 gpus_per_run: float) -> dict[str, Any]:
    """Resources per task: a fraction of a GPU where the cluster has GPUs (and the tasks may use
    them), else CPU cores only."""
    wants_gpu = any(t.settings.device == "auto" or t.settings.device.startswith("cuda")
                    for t in tasks)
    gpus = gpus_per_run if wants_gpu and ray.cluster_resources().get("GPU", 0) > 0 else 0
    return dict(num_cpus=cpus_per_run, num_gpus=gpus)


def _submit(ray, tasks: Sequence[Task], options: dict, before_run) -> dict:
    remote = ray.remote(max_calls=0, max_retries=MAX_RETRIES)(_in_worker).options(**options)
    blobs: dict[str, Any] = {}
    pending = {}
    for task in tasks:
        refs = []
        for s in task.sources():
            if s.digest not in blobs:
                blobs[s.digest] = ray.put(s.data)
            refs.append(blobs[s.digest])
        ref = remote.remote(_strip(task), options["num_cpus"], before_run, *refs)
        pending[ref] = task
    return pending


def _collect(ray, pending: dict, on_outcome: Callable[[Task, Outcome], None]) -> None:
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_SECONDS)
        for ref in ready:
            task = pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died more than MAX_RETRIES times
                first = (str(exc).strip().splitlines() or [""])[0]
                outcome = Outcome(task.key, error=f"{type(exc).__name__}: {first}")
            on_outcome(task, outcome)


def perform_on_ray(tasks: Sequence[Task], address: str,
                   on_outcome: Callable[[Task, Outcome], None], *, cpus_per_run: float = 1.0,
                   gpus_per_run: float = 0.25,
                   before_run: Callable[[], None] | None = None) -> None:
    """Perform ``tasks`` as Ray tasks, calling ``on_outcome`` in this process as each finishes.

    ``before_run`` (picklable) is called in the worker before each task, e.g. to record which
    process performs it. Ctrl-C cancels the tasks not finished and raises :class:`Interrupted`.
    """
    if cpus_per_run <= 0 or not 0 <= gpus_per_run <= 1:
        raise ValueError("--ray-cpus must be > 0 and --ray-gpus between 0 and 1 (a fraction of "
                         "one GPU per run)")
    if not tasks:
        return
    ray = _ray()
    started = connect(address)
    pending: dict = {}
    try:
        pending = _submit(ray, tasks, task_options(ray, tasks, cpus_per_run, gpus_per_run),
                          before_run)
        _collect(ray, pending, on_outcome)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise Interrupted(f"cancelled {len(pending)} of {len(tasks)} runs; finished results are "
                          "kept (run the same command again to resume)") from None
    finally:
        if started:
            ray.shutdown()


def perform_grid(tasks: Sequence[Task], *,
                 on_outcome: Callable[[Task, Outcome], None] | None = None,
                 on_step: Callable[[Task, Progress], None] | None = None,
                 ray: str | None = None, ray_cpus: float = 1.0, ray_gpus: float = 0.25,
                 before_run: Callable[[], None] | None = None) -> list[Outcome]:
    """Perform a grid: tasks whose results are on disk already are read back
    (:func:`load_finished`), each other task (once per key) is performed here, or on the Ray
    cluster at ``ray`` (:func:`perform_on_ray`, ``ray_cpus`` and ``ray_gpus`` per task), and its
    result files written as it finishes (:func:`save_outcome`). ``on_outcome(task, outcome)`` is
    called for each resumed task first, then as each one finishes; ``on_step(task, record)`` for
    the engine's records of tasks performed here. Returns the outcomes in the order of ``tasks``."""
    unique = {t.key: t for t in tasks}
    outcomes: dict[str, Outcome | None] = {k: load_finished(t) for k, t in unique.items()}
    todo = [t for k, t in unique.items() if outcomes[k] is None]
    for key, outcome in outcomes.items():
        if outcome is not None and on_outcome is not None:
            on_outcome(unique[key], outcome)

    def finished(task: Task, outcome: Outcome) -> None:
        save_outcome(task, outcome)
        outcomes[task.key] = outcome
        if on_outcome is not None:
            on_outcome(task, outcome)

    if ray:
        perform_on_ray(todo, ray, finished, cpus_per_run=ray_cpus, gpus_per_run=ray_gpus,
                       before_run=before_run)
    else:
        perform_here(todo, finished, on_step)
    return [outcomes[t.key] for t in tasks]
