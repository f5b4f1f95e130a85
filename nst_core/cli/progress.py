"""Progress bars on stderr: one run followed step by step, a grid of tasks run by run."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from ..experiments.tasks import Outcome, Run, load_done, run_here, save
from ..records import Progress, history_row


HISTORY_EVERY = 10  # metrics history: at least one row every this many steps


def run_with_progress(gen, total: int, quiet: bool, label: str = "",
                      on_record: Callable[[Progress], None] | None = None
                      ) -> tuple[Progress, list[dict]]:
    """Drive an engine generator with a tqdm bar on stderr; return the final record and history."""
    from tqdm import tqdm

    history: list[dict] = []
    final = None
    with tqdm(total=total, desc=label or "stylizing", unit="step", file=sys.stderr,
              disable=quiet, dynamic_ncols=True) as bar:
        for p in gen:
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


def execute_runs(runs: Sequence[Run], args: argparse.Namespace, label: str,
                 before_run: Callable[[], None] | None = None) -> list[Outcome]:
    """Run a grid (here, or on Ray with ``--ray``), skipping runs whose results exist, writing
    each result as it finishes, with one progress bar over the grid on stderr."""
    from tqdm import tqdm

    outcomes: dict[str, Outcome | None] = {r.key: load_done(r) for r in runs}
    todo = list({r.key: r for r in runs if outcomes[r.key] is None}.values())
    finished = [len(outcomes) - len(todo)]
    with tqdm(total=len(outcomes), initial=finished[0], desc=label, unit="run",
              file=sys.stderr, disable=args.quiet, dynamic_ncols=True) as bar:
        def on_outcome(run: Run, outcome: Outcome) -> None:
            save(run, outcome)
            outcomes[run.key] = outcome
            finished[0] += 1
            bar.n = finished[0]
            bar.set_postfix_str(f"{run.label}: {'ok' if outcome.ok else 'failed'}",
                                refresh=False)
            bar.refresh()

        def on_step(run: Run, p: Progress) -> None:
            bar.n = round(finished[0] + min(p.step / max(p.total, 1), 1.0), 2)
            bar.set_postfix_str(f"{run.label} loss {p.losses['total']:.4g}", refresh=False)
            bar.refresh()

        if getattr(args, "ray", None):
            from ..experiments import distributed  # Ray is imported only for runs sent to it

            distributed.run_on_ray(todo, args.ray, on_outcome, cpus_per_run=args.ray_cpus,
                                   gpus_per_run=args.ray_gpus, before_run=before_run)
        else:
            run_here(todo, on_outcome, on_step)
    return [outcomes[r.key] for r in runs]
