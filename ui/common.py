"""What every tab's handlers share: clear errors, upload checks, stop keys, streaming."""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, Iterator, Mapping

import gradio as gr

from nst_core.engine import NonFiniteLossError
from nst_core import images
from nst_core.web import inputs
from nst_core.web.jobs import JOBS

LOADING = "Loading images and VGG19…"
LOG = logging.getLogger("nst_studio")


def refuse(message: str) -> gr.Error:
    """A visitor's problem: logged as one line (no traceback), shown as it is."""
    LOG.warning("refused: %s", message)
    return gr.Error(message, print_exception=False)


def user_error(exc: Exception) -> gr.Error:
    """The message a visitor sees for a problem (a gr.Error always shows its own). A failure
    of the run itself (not of what the visitor sent) is logged with its traceback."""
    if isinstance(exc, NonFiniteLossError):
        return refuse(f"The run diverged: {exc}")
    if isinstance(exc, RuntimeError):  # e.g. torch.OutOfMemoryError on a GPU
        message = f"The run failed: {type(exc).__name__}: {exc}"
        LOG.error("%s", message, exc_info=exc)
        return gr.Error(message, print_exception=False)
    return refuse(str(exc))


def guard_upload(component: gr.Image, label: str) -> gr.Image:
    """Check an upload by its header before Gradio's own preprocess opens it (a decompression
    bomb is refused without decoding a pixel), and turn an upload Pillow cannot open into a
    clear message (Gradio's preprocess fails with a generic error before the event runs)."""
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        path = getattr(payload, "path", None)
        try:
            if path:
                images.check_header(path, name=label)
            return original(payload)
        except gr.Error:
            raise
        except images.ImageError as exc:
            raise refuse(str(exc)) from None
        except Exception:
            raise refuse(inputs.check_upload(path, label) if path
                         else f"{label}: the upload could not be read") from None

    component.preprocess = preprocess
    return component


def upload_image(label: str, guard: str, **kwargs: Any) -> gr.Image:
    """An image upload slot whose value is the uploaded file itself, as it was sent (no
    conversion to 8-bit RGB by the component): the app reads exactly what the CLI reads."""
    return guard_upload(gr.Image(label=label, type="filepath", image_mode=None, **kwargs),
                        guard)


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


def lock_run() -> Any:
    """Run while a job runs: disabled, so a second click is not silently queued behind it."""
    return gr.Button(interactive=False)


def unlock_run() -> Any:
    return gr.Button(interactive=True)


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
