"""The web jobs of this process: one :class:`Jobs` object (:data:`JOBS`) owns the per-device
locks, the stop tokens and the registry of recent jobs, and drives each job one step at a time.

A web server frees a cancelled job's queue slot at once while its current step still runs, so
jobs hold their device's lock for one step at a time; a stop token interrupts the step in
progress between two convolutions, of any network the step runs (VGG19, a DIP generator in
its warm-up or its steps). The hook that checks it is torch's global module hook, registered
only while a stoppable step runs (see :meth:`Jobs.stoppable`), and it checks only the token of
the thread it runs in, so no other user of a network is stopped by it.
"""
from __future__ import annotations

import contextlib
import ctypes
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch

from nst_core.records import Progress
from nst_core.engine.device import resolve_device
from nst_core.settings import Settings

MAX_RECORDS = 32  # jobs the registry remembers (older ones are dropped)
MAX_TOKENS = 64  # stop tokens waiting for a job; a token is dropped when its job ends


class JobStopped(Exception):
    """Raised inside a running step once its job's stop token is set."""


@dataclass
class JobRecord:
    """What the server knows about a job while and after it runs (see :meth:`Jobs.recent`)."""

    id: int
    kind: str  # "stylize", "compare" or "explore"
    device: str
    total: int  # step budget (for compare: per method)
    started: float = field(default_factory=time.monotonic)
    step: int = 0  # last step finished (for compare: steps finished, all methods together)
    updated: float = field(default_factory=time.monotonic)  # time of the last finished step
    in_step: bool = False  # True while a step runs (the device lock is held)
    # running | done | stopped (a Stop request ended it) | closed (the consumer stopped
    # iterating or cancelled it: a cancelled web job) | shutdown (the server is stopping) |
    # failed
    state: str = "running"


class StopToken(threading.Event):
    """A job's stop request, and how the job ends by it: "stopped" (a visitor's Stop),
    "closed" (the one reading the job went away: a cancelled web job) or "shutdown" (the
    server is stopping). The first wins."""

    reason = "stopped"

    def stop(self, reason: str = "stopped") -> None:
        if not self.is_set():
            self.reason = reason
        self.set()


_CURRENT = threading.local()  # the stop token of the job this thread is stepping, if any


def _check_stop(*_: Any) -> None:
    token = getattr(_CURRENT, "token", None)
    if token is not None and token.is_set():
        raise JobStopped()


def _conv_pre_hook(module: torch.nn.Module, args: tuple) -> None:
    if not isinstance(module, torch.nn.Conv2d) or getattr(_CURRENT, "token", None) is None:
        return  # another thread's network (a CLI run, a test, an estimate): not ours to stop
    _check_stop()
    x = args[0] if args else None
    if isinstance(x, torch.Tensor) and x.requires_grad:
        # Also checked as the backward pass reaches this layer: a step is about one third
        # forward and two thirds backward.
        x.register_hook(_check_stop)


def device_name(settings: Settings) -> str:
    return str(resolve_device(settings.device))


class Jobs:
    """Device locks, stop tokens and the job registry of one process, with their cleanup."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._tokens: dict[str, threading.Event] = {}
        self._records: deque[JobRecord] = deque(maxlen=MAX_RECORDS)
        self._ids = itertools.count(1)
        self._closing = ""  # the reason every job stops for, once the server is stopping
        self._stepping = 0  # stoppable steps running now, in any thread
        self._hook: Any = None  # torch's handle of the global hook while one runs

    def device_lock(self, device: str) -> threading.Lock:
        """One lock per device name, shared by every job in this process."""
        with self._guard:
            return self._locks.setdefault(device, threading.Lock())

    def next_id(self) -> int:
        """A number no other job or file of this process has."""
        return next(self._ids)

    def recent(self) -> list[JobRecord]:
        """The last jobs of this process, newest last (for tests and diagnostics)."""
        return list(self._records)

    def stop_token(self, key: str) -> StopToken:
        """A fresh stop token for the job about to start under ``key`` (e.g. a browser
        session and tab). It is dropped when that job ends."""
        token = StopToken()
        if self._closing:  # a job starting while the server stops ends at once
            token.stop(self._closing)
        with self._guard:
            self._tokens.pop(key, None)
            self._tokens[key] = token
            while len(self._tokens) > MAX_TOKENS:  # tokens of jobs that never started
                self._tokens.pop(next(iter(self._tokens)))
        return token

    def request_stop(self, key: str) -> bool:
        """Ask the job under ``key`` to stop now, mid-step; False if there is none."""
        with self._guard:
            token = self._tokens.get(key)
        if token is None:
            return False
        token.stop("stopped")
        return True

    def stop_all(self, reason: str) -> None:
        """Stop every job that has a stop token, and every one that starts from now on (a
        server shutting down: ``reason`` says so to whoever reads each job)."""
        with self._guard:
            self._closing = reason
            tokens = list(self._tokens.values())
        for token in tokens:
            token.stop(reason)

    def running(self) -> list[JobRecord]:
        """The recent jobs still running."""
        return [job for job in self._records if job.state == "running"]

    def pending_tokens(self) -> int:
        with self._guard:
            return len(self._tokens)

    @contextlib.contextmanager
    def stoppable(self) -> Iterator[None]:
        """A hook on every convolution of every network that checks the current thread's stop
        token, forward and backward, for the duration of the block; removed when the last
        block using it ends, whatever way it ends."""
        with self._guard:
            if self._stepping == 0:
                self._hook = torch.nn.modules.module.register_module_forward_pre_hook(
                    _conv_pre_hook)
            self._stepping += 1
        try:
            yield
        finally:
            with self._guard:
                self._stepping -= 1
                if self._stepping == 0:
                    self._hook.remove()
                    self._hook = None

    def drive(self, gen: Iterator[Any], device: str, kind: str, total: int,
              stop_key: str | None = None) -> Iterator[Any]:
        """Drive ``gen`` one record at a time with the device lock held around each step.

        The lock is released before each record is handed on, so a consumer that stops
        iterating (a cancelled web job) never holds the device; closing this generator closes
        ``gen``. If ``stop_key``'s token is set, the step in progress is interrupted and the
        stream ends; the token is dropped when the job ends.
        """
        lock = self.device_lock(device)
        with self._guard:
            token = self._tokens.get(stop_key) if stop_key else None
        job = JobRecord(self.next_id(), kind, device, total)
        self._records.append(job)
        try:
            while True:
                with lock:
                    ended = self._step(gen, job, token)
                if isinstance(ended, str):
                    # Published only once the device lock is released: an ended job never
                    # still holds the device (the next job may start the moment it reads this).
                    job.state = ended
                    return
                record = ended[0]
                # compare streams (method, record) pairs: count them; a plain job has step
                # numbers
                job.step = record.step if isinstance(record, Progress) else job.step + 1
                job.updated = time.monotonic()
                yield record
        except GeneratorExit:
            job.state = "closed"
            raise
        except BaseException:
            job.state = "failed"
            raise
        finally:
            gen.close()
            if token is not None:
                with self._guard:
                    if self._tokens.get(stop_key) is token:
                        del self._tokens[stop_key]
            release_memory()

    def _step(self, gen: Iterator[Any], job: JobRecord, token: StopToken | None
              ) -> tuple[Any] | str:
        """One record of ``gen`` as a 1-tuple, or how the job ended ("done", or the stop
        token's reason)."""
        if token is not None and token.is_set():
            return token.reason
        job.in_step = True
        _CURRENT.token = token
        try:
            with self.stoppable() if token is not None else contextlib.nullcontext():
                return (next(gen),)
        except StopIteration:
            return "done"
        except JobStopped:
            return token.reason
        finally:
            _CURRENT.token = None
            job.in_step = False


JOBS = Jobs()


def zero_gpu() -> bool:
    """Whether this process serves a ZeroGPU Space: its GPU exists only inside the functions
    :func:`on_gpu` wraps, each run in a GPU worker process (the ``spaces`` package's own
    switch, the SPACES_ZERO_GPU variable)."""
    try:
        from spaces.config import Config  # type: ignore[import-not-found]
    except ImportError:
        return False
    return bool(Config.zero_gpu)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where the C library is glibc (Linux); None elsewhere."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def release_memory() -> None:
    """Give the memory a finished job freed back to the system. glibc keeps freed blocks in
    per-thread arenas for reuse, and a server runs each step on whichever worker thread is
    free, so every arena grows to the largest job it ever served: bench/hardening.py measured
    the server's resident set 15% higher after 100 varied jobs than after 20, and flat with
    this after every job (it costs milliseconds)."""
    if _TRIM is not None:
        _TRIM(0)


def on_gpu(fn: Callable, duration: int | Callable[..., int]) -> Callable:
    """``spaces.GPU(duration=...)(fn)`` where the Hugging Face ``spaces`` package is installed
    (ZeroGPU Spaces attach a GPU only inside such functions), else ``fn`` itself. ``duration``
    is seconds, or a callable that ``spaces`` calls with ``fn``'s arguments for each job (see
    ``Limits.stylize_duration``): a shorter request is served sooner."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return fn
    return spaces.GPU(duration=duration)(fn)
