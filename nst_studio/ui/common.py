"""What every tab's handlers share: clear errors, upload checks, stop keys, job streams."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator, Mapping

import anyio
import gradio as gr

from nst_core.engine.loop import NonFiniteLossError
from nst_core.imaging import images
from nst_core.params.base import WARM_UP_LISTENER
from nst_studio.web import inputs
from nst_studio.web.jobs import JOBS, StopToken

LOADING = "Loading images and VGG19…"
# What a job that was running when the server was told to stop (SIGTERM: a restart, a new
# version of a Space) ends with, so its client learns why rather than losing the connection.
SHUTDOWN = ("the server is shutting down (a restart or an update) and stopped this job; "
            "submit it again once the server is back")
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


# The page's image upload slots, by elem_id: the name their messages give them. Gradio 6.31
# rebuilds a component from its constructor arguments whenever an event returns an update for
# it (the page-load event does, for the image slots), so a check set on one instance is gone by
# the first upload; gr.Image's preprocess is wrapped once, for the class, and finds a slot by
# its elem_id, which a rebuilt instance keeps. (A subclass would make Gradio write a stub file
# next to this module and be drawn as an unknown component.)
UPLOAD_SLOTS: dict[str, str] = {}


def check_upload(slot: gr.Image, payload: Any, label: str, preprocess: Callable) -> Any:
    """``preprocess(slot, payload)`` for an upload slot, with clear refusals: a file that was
    not uploaded to this server (a raw API call naming a server path), a decompression bomb
    (by its header, before a pixel is decoded), and an upload Pillow cannot open (Gradio's
    preprocess fails with a generic error before the event runs)."""
    path = getattr(payload, "path", None)
    try:
        if path:
            if not Path(path).resolve().is_relative_to(Path(slot.GRADIO_CACHE).resolve()):
                raise refuse(f"{label}: {path} was not uploaded to this server; send the file "
                             "itself (gradio_client's handle_file uploads it)")
            images.check_header(path, name=label)
        return preprocess(slot, payload)
    except gr.Error:
        raise
    except images.ImageError as exc:
        raise refuse(str(exc)) from None
    except Exception:
        raise refuse(inputs.check_upload(path, label) if path
                     else f"{label}: the upload could not be read") from None


def _guard_image_class() -> None:
    """Wrap gr.Image.preprocess once (see UPLOAD_SLOTS); other images are left as they are."""
    original = gr.Image.preprocess
    if getattr(original, "guards_uploads", False):
        return

    def preprocess(self: gr.Image, payload: Any) -> Any:
        label = UPLOAD_SLOTS.get(self.elem_id or "")
        if label is None:
            return original(self, payload)
        return check_upload(self, payload, label, original)

    preprocess.guards_uploads = True  # type: ignore[attr-defined]
    gr.Image.preprocess = preprocess


def upload_image(label: str, guard: str, *, elem_id: str, **kwargs: Any) -> gr.Image:
    """An image upload slot whose value is the uploaded file itself, as it was sent (no
    conversion to 8-bit RGB by the component): the app reads exactly what the CLI reads.
    Uploads are checked as :func:`check_upload` says, named ``guard`` in messages."""
    _guard_image_class()
    UPLOAD_SLOTS[elem_id] = guard
    return gr.Image(label=label, type="filepath", image_mode=None, elem_id=elem_id, **kwargs)


def stop_key(request: gr.Request | None, kind: str) -> str | None:
    """Stop tokens are per browser session and tab (Stylize, Compare, Explore, the API)."""
    session = getattr(request, "session_hash", None)
    return f"{session}:{kind}" if session else None


def request_stop(request: gr.Request | None, kind: str) -> None:
    """Interrupt the step in progress of this session's ``kind`` job, if any."""
    key = stop_key(request, kind)
    if key:
        JOBS.request_stop(key)


def lock_run() -> tuple[Any, Any]:
    """Run and Stop while a job runs: Run disabled, so a second click is not silently queued
    behind it; Stop enabled."""
    return gr.Button(interactive=False), gr.Button(interactive=True)


def unlock_run() -> Any:
    return gr.Button(interactive=True)


def idle_buttons() -> tuple[Any, Any]:
    """Run and Stop with no job running: Run enabled, Stop disabled (nothing to stop)."""
    return gr.Button(interactive=True), gr.Button(interactive=False)


def wire_run_button(button: gr.Button, run_event: Any, stop_btn: gr.Button) -> None:
    """Run is enabled again, and Stop disabled, once its job ends, whichever way: Gradio 6.31
    fires ``.then`` only after a success, ``.failure`` after an error or a refusal (Stop's own
    event does it after a cancel: a cancelled event fires neither)."""
    for ended in (run_event.then, run_event.failure):
        ended(idle_buttons, None, [button, stop_btn], queue=False, api_visibility="private")


def run_stop_row(run_label: str, prefix: str = "") -> tuple[gr.Button, gr.Button, gr.State]:
    """A tab's Run and Stop buttons, side by side (elem_ids ``{prefix}run``, ``{prefix}stop``),
    and the State that keeps Stop's last message (see :func:`wire_run_stop`)."""
    with gr.Row(elem_id=f"{prefix}run_row"):
        run_btn = gr.Button(run_label, variant="primary", elem_id=f"{prefix}run")
        # Disabled until a job runs (see lock_run).
        stop_btn = gr.Button("Stop", variant="stop", interactive=False,
                             elem_id=f"{prefix}stop")
        said = gr.State(None)
    return run_btn, stop_btn, said


def wire_run_stop(run_btn: gr.Button, stop_btn: gr.Button, *, kind: str,
                  check: Callable[[dict], Job], event_inputs: Any, event_outputs: Any,
                  api_name: str,
                  job_queue: dict, stop: Callable[..., dict], status: Any, said: gr.State,
                  stop_inputs: Any = None, stop_outputs: Any = None) -> tuple[Any, Any]:
    """A tab's job events: Run disabled while its job (``check(data)``, served by
    :func:`serve`) runs and enabled again when it ends; Stop cancels the job's event and runs
    ``stop``, whose message in ``status`` stays (kept in ``said``: see :func:`_last_word`).
    Returns the run and stop events."""

    async def start(data: dict, request: gr.Request) -> AsyncIterator[Any]:
        async for shown in serve(request, kind, lambda: check(data)):
            yield shown

    locked = run_btn.click(lock_run, None, [run_btn, stop_btn], queue=False,
                           api_visibility="private")
    run_event = locked.then(start, event_inputs, event_outputs, api_name=api_name,
                            api_visibility="undocumented", show_progress="minimal", **job_queue)
    wire_run_button(run_btn, run_event, stop_btn)
    stopping = _last_word(stop, status, said)
    stop_event = stop_btn.click(stopping, stop_inputs, [*stop_outputs, said],
                                cancels=[run_event], queue=False, api_visibility="private")
    # Once Stop's answer is on the page: its message again (an update the cancelled job's
    # stream sent before the stop can land after Stop's own answer, and would stand), and
    # Stop disabled (nothing runs any more).
    stop_event.then(lambda text: {status: gr.skip() if text is None else text,
                                  stop_btn: gr.Button(interactive=False)},
                    said, [status, stop_btn], queue=False, api_visibility="private")
    return run_event, stop_event


def _last_word(stop: Callable[..., dict], status: Any, said: gr.State) -> Callable[..., dict]:
    """``stop`` that also keeps the message it shows in ``status`` in ``said``, for the event
    that shows it again."""

    @functools.wraps(stop)  # Gradio reads the signature (a gr.Request parameter) through it
    def stopping(*args: Any, **kwargs: Any) -> dict:
        shown = stop(*args, **kwargs)
        return {**shown, said: shown.get(status)}

    return stopping


def changes(update: Any, outputs: Mapping[str, gr.components.Component]) -> dict | None:
    """An update record -> {component: value} for the fields it sets (None: unchanged), or
    None when it sets none (the stream then shows nothing for it: see :func:`serve`)."""
    shown = {component: getattr(update, name) for name, component in outputs.items()
             if getattr(update, name) is not None}
    return shown or None


@dataclass
class Job:
    """A checked job, ready to run: what the page shows at once, its stream of update records
    (given its stop key) and how a record shows (None: nothing to show)."""

    first: Any
    updates: Callable[[str | None], Iterator[Any]]
    show: Callable[[Any], Any]
    # What the page shows while a warm-up (a DIP generator fitting the start image) runs
    # inside a step: given (steps done, steps in all); None: nothing.
    warming: Callable[[int, int], Any] | None = None


# Seconds between the warm-up progress a job's stream shows (a warm-up sends no records).
WARMING_EVERY = 1.0


def warming(status: Any, params: Any) -> Callable[[int, int], Any] | None:
    """A job's :attr:`Job.warming` for ``status``, when one of ``params`` (parameterization
    names) warms up; None otherwise (its steps are then awaited as plain worker calls)."""
    from nst_core.params.registry import PARAMETERIZATIONS

    warm = [p for p in dict.fromkeys(params)
            if getattr(PARAMETERIZATIONS.get(p), "warmup_option", None)]
    if not warm:
        return None
    return lambda done, total: {status: warming_status(done, total, warm)}


# What each parameterization with a warm-up fits to the start image, in a visitor's words.
WARMING_WHAT = {"dip": "the DIP generator", "cppn": "the CPPN"}


def warming_status(done: int, total: int, params: Any = ("dip",)) -> str:
    """The status line during a warm-up of one of ``params`` (a comparison's methods warm up
    one after the other: the line names every one that may be warming)."""
    what = " or ".join(WARMING_WHAT.get(p, f"the {p} network") for p in params)
    return (f"Setting up: fitting {what} to the start image, {done}/{total} "
            "warm-up steps (before the first step)")


_END = object()


def _advance(running: Iterator[Any], token: StopToken | None) -> Any:
    """The next record of ``running`` (in a worker thread), or _END. A record finished after
    its job was stopped is dropped, and the job closed: no one asks for more."""
    try:
        record = next(running)
    except StopIteration:
        return _END
    if token is not None and token.is_set():
        with contextlib.suppress(ValueError):
            running.close()
        return _END
    return record


@dataclass
class _Warming:
    shown: Any


async def _next_record(running: Iterator[Any], token: StopToken | None,
                       warming: Callable[[int, int], Any] | None) -> AsyncIterator[Any]:
    """The next record of ``running`` (see :func:`_advance`), computed in a worker thread;
    while it takes, a warm-up's progress every WARMING_EVERY seconds (as :class:`_Warming`).
    A cancel while waiting leaves the thread to end with its step (the stop token ends it)."""
    if warming is None:
        yield await anyio.to_thread.run_sync(_advance, running, token, abandon_on_cancel=True)
        return
    heard: list[tuple[int, int]] = []
    done: concurrent.futures.Future = concurrent.futures.Future()
    context = contextvars.copy_context()
    context.run(WARM_UP_LISTENER.set, (lambda d, t: heard.append((d, t))) if warming else None)

    def work() -> None:
        try:
            done.set_result(_advance(running, token))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting event
            done.set_exception(exc)

    threading.Thread(target=context.run, args=(work,), daemon=True,
                     name="nst-step").start()
    waiting, shown = asyncio.wrap_future(done), None
    while not waiting.done():
        await asyncio.wait({waiting}, timeout=WARMING_EVERY)
        if heard and heard[-1] != shown and not waiting.done():
            shown = heard[-1]
            yield _Warming(warming(*shown))
    yield waiting.result()


async def serve(request: gr.Request | None, kind: str, check: Callable[[], Job]
                ) -> AsyncIterator[Any]:
    """A job as an event's stream: ``check`` (reading the images, checking the settings) runs
    in a worker thread, a refusal becomes a clear message, then ``first`` shows and every
    record as ``show`` makes it; run errors become clear messages too.

    Every step runs in a worker thread while the event waits for it; a cancel (Stop, a
    client's cancel, a closed page) reaches the event there at once and sets the job's stop
    token, which interrupts the step in progress (nst_studio.web.jobs): the device is free
    within a convolution, whatever the step does, a warm-up included.
    """
    try:
        job = await anyio.to_thread.run_sync(check)
    except ValueError as exc:
        raise user_error(exc) from None
    key = stop_key(request, kind)
    token = JOBS.stop_token(key) if key else None
    yield job.first
    running = job.updates(key)
    try:
        while True:
            record = _END
            async for record in _next_record(running, token, job.warming):
                if record is not _END and isinstance(record, _Warming):
                    yield record.shown
            if record is _END or (token is not None and token.is_set()):
                break  # stopped while the record came: the page keeps what Stop showed
            shown = job.show(record)
            # Nothing to show, nothing sent: Gradio 6.31 answers every "unchanged" update
            # (gr.skip()) by rebuilding the component into the session's state, where the
            # rebuilt copies stay as long as the session (a few per step of a long job).
            if shown is not None:
                yield shown
    except (ValueError, RuntimeError) as exc:
        raise user_error(exc) from None
    except BaseException:  # cancelled at the wait, or closed at a yield
        if token is not None:
            token.stop("closed")
        with contextlib.suppress(ValueError):  # still in its thread: _advance closes it
            running.close()
        raise
    if token is not None and token.is_set() and token.reason == "shutdown":
        raise refuse(SHUTDOWN)
