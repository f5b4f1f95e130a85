"""Where the app's result files go, and what Stop and "reuse these settings" make of a job's
last state. Every file is written by :func:`nst_core.results.write_result`."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Mapping

from PIL import Image

from ..engine import Progress
from ..results import result_metadata, write_result
from ..settings import Settings, from_dict
from . import disk
from .jobs import JOBS


def output_dir() -> Path:
    """The result folder of this process (under the system temp dir, which Gradio serves
    files from), pruned to its disk budget (see :mod:`.disk`) each time it is asked for."""
    folder = disk.process_dir() / "results"
    folder.mkdir(exist_ok=True)
    disk.prune_own()
    return folder


def save_result(image: Image.Image, metadata: Mapping[str, Any], prefix: str = "nst"
                ) -> tuple[str, str]:
    """The PNG (metadata embedded) and the JSON beside it, in :func:`output_dir`."""
    stem = f"{prefix}_{time.strftime('%Y%m%d_%H%M%S')}_{JOBS.next_id()}"
    png, js = write_result(image, output_dir() / f"{stem}.png", dict(metadata))
    return str(png), str(js)


def job_state(settings: Settings, record: Progress, info: Mapping[str, Any]) -> dict[str, Any]:
    """What Stop and "reuse these settings" need of a running job: its settings, the last
    preview and its losses and seconds, the run facts of step 0 (with the seed used)."""
    return {"settings": settings.to_dict(), "step": record.step, "preview": record.preview,
            "losses": dict(record.losses), "info": dict(info), "total": record.total,
            "elapsed": record.elapsed}


def stop_result(state: Mapping[str, Any] | None) -> tuple[str | None, str | None, str]:
    """After Stop: the last preview as the result (PNG with settings, settings JSON) and a
    status line. A job stopped before its first preview has nothing to keep."""
    if not state or state.get("preview") is None:
        return None, None, "Stopped before the first preview: nothing to keep."
    if state.get("done"):
        return None, None, "The job had already finished."
    settings = from_dict(state["settings"])
    record = Progress(state["step"], state.get("total", settings.steps), 0.0, state["losses"],
                      info=dict(state.get("info") or {}))
    png, js = save_result(state["preview"], result_metadata(settings, record, stopped=True))
    return png, js, (f"**Stopped** at step {state['step']}/{record.total}: the last preview is "
                     "the result.")


def state_settings(state: Mapping[str, Any] | None) -> Settings:
    """The settings of the last job (with the seed it used), for "reuse these settings"."""
    if not state or "settings" not in state:
        raise ValueError("no result yet: run a job first")
    settings = from_dict(state["settings"])
    seed = (state.get("info") or {}).get("seed")
    return dataclasses.replace(settings, seed=seed) if seed is not None else settings
