"""Where the app's result files go, and what Stop and "reuse these settings" make of a job's
last state. Every file is written by :func:`nst_core.results.write_result`."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from PIL import Image

from nst_core.imaging import images
from nst_core.records import Progress
from nst_core.results import result_metadata, write_result
from nst_core.settings import Settings, from_dict
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


def job_state(settings: Settings, record: Progress, first: Progress | None
              ) -> dict[str, Any]:
    """What Stop and "reuse these settings" need of a running job: its settings, the image
    after its last finished step (``tensor``; ``preview`` when a record has only that) with
    that step's losses, and the facts of its step-0 record ``first`` (with the seed used)."""
    facts = {"run": first.run, "level": first.level, "tiles": first.tiles} if first else {}
    return {"settings": settings.to_dict(), "step": record.step, "preview": record.preview,
            "tensor": record.tensor, "losses": dict(record.losses), "facts": facts,
            "total": record.total, "elapsed": record.elapsed}


def without_images(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What a session keeps of a job that has ended (finished, or stopped and saved): all but
    its images, which are in its result files now. A page's session state lives until Gradio
    drops the session, so an image kept there would stay as long."""
    if state is None:
        return None
    return {k: v for k, v in state.items() if k not in ("tensor", "preview")}


@dataclass
class Stopped:
    """What Stop keeps: the image at the last finished step (None if there is none yet), its
    PNG with the settings embedded and their JSON, and the status line."""

    status: str
    image: Image.Image | None = None
    png: str | None = None
    settings_json: str | None = None


def stop_result(state: Mapping[str, Any] | None) -> Stopped:
    """After Stop: the image as it was after the last finished step is the result, saved with
    its settings and the step it reached."""
    if state and state.get("done"):
        return Stopped("The job had already finished.")
    tensor = (state or {}).get("tensor")
    image = images.to_pil(tensor) if tensor is not None else (state or {}).get("preview")
    if image is None or not state.get("step"):
        return Stopped("**Stopped** before the first step finished: nothing to keep.")
    settings = from_dict(state["settings"])
    record = Progress(state["step"], state.get("total", settings.steps), 0.0, state["losses"],
                      **(state.get("facts") or {}))
    png, js = save_result(image, result_metadata(settings, record, stopped=True))
    return Stopped(f"**Stopped at step {record.step}/{record.total}.** The image at that step "
                   "is the result; download it below.", image, png, js)


def state_settings(state: Mapping[str, Any] | None) -> Settings:
    """The settings of the last job (with the seed it used), for "reuse these settings"."""
    if not state or "settings" not in state:
        raise ValueError("no result yet: run a job first")
    settings = from_dict(state["settings"])
    run = (state.get("facts") or {}).get("run")
    seed = run.seed if run is not None else None
    return dataclasses.replace(settings, seed=seed) if seed is not None else settings
