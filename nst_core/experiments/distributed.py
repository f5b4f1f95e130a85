"""Grids of runs on a Ray cluster (``--ray ADDRESS``): one Ray task per run.

Ray is imported only here and only when a grid is sent to it, so in-process runs never load
it (it is an optional extra: ``pip install nst-core[ray]``).

- ``local`` starts a Ray instance on this machine for the grid; ``auto`` or ``HOST:PORT``
  joins a running cluster (``ray start --head``); a Ray already started in this process (a test,
  a notebook) is used as it is.
- A task asks for a fraction of a GPU (``gpus_per_run``, several 512 px runs fit on one) when
  the cluster has GPUs and the run may use one, and ``cpus_per_run`` cores.
- The VGG19 weights load once per worker process: :func:`nst_core.imaging.vgg.get_vgg` caches the
  network per process and the task is declared with ``max_calls=0``, so Ray keeps its workers
  between tasks (its default for GPU tasks, one call per worker, would start a fresh process and
  reload the weights for every run). Plain tasks rather than an actor pool: Ray then retries a
  task whose worker dies (``max_retries``), places each run wherever resources free up, and
  cancels queued tasks on Ctrl-C, with no pool to keep alive.
- The input images travel through Ray's object store once each (``ray.put``), not once per run.
- Results stream back as runs finish (``ray.wait``); the driver writes them.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from .tasks import Outcome, Run, Source, perform

MAX_RETRIES = 3  # a task whose worker process dies (killed, out of host memory) runs again
WAIT_SECONDS = 0.5  # how often the driver looks up from ray.wait (so Ctrl-C is prompt)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a grid: the remaining runs were cancelled; the message says how many."""


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


def _task(run: Run, cpus: float, before_run: Callable[[], None] | None,
          *blobs: bytes) -> Outcome:
    """The Ray task: put the bytes back into the run's sources and run it in this worker."""
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(max(1, int(cpus)))  # the cores Ray granted, not every core
    data = iter(blobs)

    def fill(s: Source | None) -> Source | None:
        return None if s is None else dataclasses.replace(s, data=next(data))

    run = dataclasses.replace(run, content=fill(run.content),
                              styles=tuple(fill(s) for s in run.styles),
                              masks=None if run.masks is None else tuple(fill(m) for m in run.masks))
    if before_run is not None:
        before_run()
    return perform(run)


def _strip(run: Run) -> Run:
    def empty(s: Source | None) -> Source | None:
        return None if s is None else dataclasses.replace(s, data=None)

    return dataclasses.replace(run, content=empty(run.content),
                               styles=tuple(empty(s) for s in run.styles),
                               masks=None if run.masks is None else tuple(empty(m) for m in run.masks))


def task_options(ray, runs: Sequence[Run], cpus_per_run: float,
                 gpus_per_run: float) -> dict[str, Any]:
    """Resources per task: a fraction of a GPU where the cluster has GPUs (and the runs may use
    them), else CPU cores only."""
    wants_gpu = any(r.settings.device == "auto" or r.settings.device.startswith("cuda")
                    for r in runs)
    gpus = gpus_per_run if wants_gpu and ray.cluster_resources().get("GPU", 0) > 0 else 0
    return dict(num_cpus=cpus_per_run, num_gpus=gpus)


def _submit(ray, runs: Sequence[Run], options: dict, before_run) -> dict:
    remote = ray.remote(max_calls=0, max_retries=MAX_RETRIES)(_task).options(**options)
    blobs: dict[str, Any] = {}
    pending = {}
    for run in runs:
        refs = []
        for s in run.sources():
            if s.digest not in blobs:
                blobs[s.digest] = ray.put(s.data)
            refs.append(blobs[s.digest])
        ref = remote.remote(_strip(run), options["num_cpus"], before_run, *refs)
        pending[ref] = run
    return pending


def _collect(ray, pending: dict, on_outcome: Callable[[Run, Outcome], None]) -> None:
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_SECONDS)
        for ref in ready:
            run = pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died more than MAX_RETRIES times
                first = (str(exc).strip().splitlines() or [""])[0]
                outcome = Outcome(run.key, error=f"{type(exc).__name__}: {first}")
            on_outcome(run, outcome)


def run_on_ray(runs: Sequence[Run], address: str, on_outcome: Callable[[Run, Outcome], None],
               *, cpus_per_run: float = 1.0, gpus_per_run: float = 0.25,
               before_run: Callable[[], None] | None = None) -> None:
    """Run ``runs`` as Ray tasks, calling ``on_outcome`` in this process as each finishes.

    ``before_run`` (picklable) is called in the worker before each run, e.g. to record which
    process runs it. Ctrl-C cancels the runs not finished and raises :class:`Interrupted`.
    """
    if cpus_per_run <= 0 or not 0 <= gpus_per_run <= 1:
        raise ValueError("--ray-cpus must be > 0 and --ray-gpus between 0 and 1 (a fraction of "
                         "one GPU per run)")
    if not runs:
        return
    ray = _ray()
    started = connect(address)
    pending: dict = {}
    try:
        pending = _submit(ray, runs, task_options(ray, runs, cpus_per_run, gpus_per_run),
                          before_run)
        _collect(ray, pending, on_outcome)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise Interrupted(f"cancelled {len(pending)} of {len(runs)} runs; finished results are "
                          "kept (run the same command again to resume)") from None
    finally:
        if started:
            ray.shutdown()
