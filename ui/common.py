"""What every tab's handlers share: clear errors, upload checks, stop keys, streaming."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Mapping

import gradio as gr

from nst_core.engine import NonFiniteLossError
from nst_core.web import inputs
from nst_core.web.jobs import JOBS

LOADING = "Loading images and VGG19…"


def user_error(exc: Exception) -> gr.Error:
    """The message a visitor sees for a problem (a gr.Error always shows its own)."""
    if isinstance(exc, NonFiniteLossError):
        return gr.Error(f"The run diverged: {exc}")
    if isinstance(exc, RuntimeError):  # e.g. torch.OutOfMemoryError on a GPU
        return gr.Error(f"The run failed: {type(exc).__name__}: {exc}")
    return gr.Error(str(exc))


def guard_upload(component: gr.Image, label: str) -> gr.Image:
    """Turn an upload Pillow cannot open into a clear gr.Error (Gradio's own preprocess fails
    with a generic error before the event function runs)."""
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception:
            path = getattr(payload, "path", None)
            raise gr.Error(inputs.check_upload(path, label) if path
                           else f"{label}: the upload could not be read") from None

    component.preprocess = preprocess
    return component


def stop_key(request: gr.Request | None, kind: str) -> str | None:
    """Stop tokens are per browser session and tab (Stylize, Compare, Explore)."""
    session = getattr(request, "session_hash", None)
    return f"{session}:{kind}" if session else None


def start_job(request: gr.Request | None, kind: str) -> str | None:
    """A fresh stop token for this session's ``kind`` job; its key (None without a session)."""
    key = stop_key(request, kind)
    if key:
        JOBS.stop_token(key)
    return key


def request_stop(request: gr.Request | None, kind: str) -> None:
    """Interrupt the step in progress of this session's ``kind`` job, if any."""
    key = stop_key(request, kind)
    if key:
        JOBS.request_stop(key)


def changes(update: Any, outputs: Mapping[str, gr.components.Component]) -> dict:
    """An update record -> {component: value} for the fields it sets (None: unchanged)."""
    shown = {component: getattr(update, name) for name, component in outputs.items()
             if getattr(update, name) is not None}
    # Gradio reads an empty dict as one plain value: say "unchanged" for one component.
    return shown or {next(iter(outputs.values())): gr.skip()}


def stream(first: dict, updates: Callable[[], Iterator[Any]],
           show: Callable[[Any], dict]) -> Iterator[dict]:
    """Yield ``first`` before any heavy work (Gradio can cancel a generator only after its
    first yield), then every update as component changes; run errors become clear messages."""
    yield first
    try:
        # Closed at once when the page cancels the event: the job ends with it.
        with contextlib.closing(updates()) as running:
            for update in running:
                yield show(update)
    except (ValueError, RuntimeError) as exc:
        raise user_error(exc) from None
