"""Progress bars on stderr: one run followed step by step, a grid of tasks task by task."""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Callable, Iterator, Sequence

from ..experiments.distributed import perform_grid
from ..experiments.tasks import Outcome, Task
from ..params.base import WARM_UP_LISTENER
from ..records import Progress, history_row


HISTORY_EVERY = 10  # metrics history: at least one row every this many steps


def follow_with_bar(gen, total: int, quiet: bool, label: str = "",
                      on_record: Callable[[Progress], None] | None = None
                      ) -> tuple[Progress, list[dict]]:
    """Drive an engine generator with a tqdm bar on stderr; return the final record and history."""
    from tqdm import tqdm

    history: list[dict] = []
    final = None
    label = label or "stylizing"
    with tqdm(total=total, desc=label, unit="step", file=sys.stderr,
              disable=quiet, dynamic_ncols=True) as bar, \
            _hearing_warm_ups(lambda done, all_: bar.set_description_str(
                f"{label}: setting up, warm-up step {done}/{all_}")):
        for p in gen:
            bar.set_description_str(label, refresh=False)
            if p.done:
                final = p
                history.append(history_row(p))
            elif p.preview is not None or p.step % HISTORY_EVERY == 0:
                history.append(history_row(p))
            if on_record:
                on_record(p)
            if p.total != bar.total:  # multi-scale runs count every level's steps
                bar.total = p.total
            bar.n = p.step
            bar.set_postfix(loss=f"{p.losses['total']:.4g}", refresh=False)
            bar.refresh()
    assert final is not None
    return final, history


def perform_with_bar(tasks: Sequence[Task], args: argparse.Namespace, label: str,
                     before_run: Callable[[], None] | None = None) -> list[Outcome]:
    """Perform a grid (:func:`nst_core.experiments.distributed.perform_grid`: here, or on Ray
    with ``--ray``; results already there are kept) with one progress bar over it on stderr."""
    from tqdm import tqdm

    with tqdm(total=len({t.key for t in tasks}), desc=label, unit="run", file=sys.stderr,
              disable=args.quiet, dynamic_ncols=True) as bar:
        finished = [0]

        def on_outcome(task: Task, outcome: Outcome) -> None:
            finished[0] += 1
            bar.n = finished[0]
            if not outcome.resumed:
                bar.set_postfix_str(f"{task.label}: {'ok' if outcome.ok else 'failed'}",
                                    refresh=False)
            bar.refresh()

        def on_step(task: Task, p: Progress) -> None:
            bar.n = round(finished[0] + min(p.step / max(p.total, 1), 1.0), 2)
            bar.set_postfix_str(f"{task.label} loss {p.losses['total']:.4g}", refresh=False)
            bar.refresh()

        # Runs in this process: a warm-up (inside a run's first step) shows as it goes.
        with _hearing_warm_ups(lambda done, all_: bar.set_postfix_str(
                f"setting up, warm-up step {done}/{all_}")):
            return perform_grid(tasks, on_outcome=on_outcome, on_step=on_step,
                                ray=getattr(args, "ray", None),
                                ray_cpus=getattr(args, "ray_cpus", 1.0),
                                ray_gpus=getattr(args, "ray_gpus", 0.25), before_run=before_run)


# Warm-up steps between two redraws of a bar (a DIP warm-up makes hundreds of small steps).
WARM_UP_SHOW_EVERY = 10


@contextlib.contextmanager
def _hearing_warm_ups(show: Callable[[int, int], None]) -> Iterator[None]:
    """``show(done, total)`` hears the warm-up steps of runs driven in this context (a warm-up
    sends no record until it ends: :data:`nst_core.params.base.WARM_UP_LISTENER`)."""
    def heard(done: int, total: int) -> None:
        if done % WARM_UP_SHOW_EVERY == 0 or done == total:
            show(done, total)

    token = WARM_UP_LISTENER.set(heard)
    try:
        yield
    finally:
        WARM_UP_LISTENER.reset(token)
