"""What the app leaves on disk, and its bound. Every server process keeps its files in one
folder of the system temp dir named after its process id, ``nst_studio_<pid>``: result files
in ``results/`` and (when the app is started with ``python app.py``) Gradio's upload and
preview cache in ``gradio/``. The folder is removed when the process exits (normally or on
SIGTERM); folders of processes that are gone (killed, crashed) are removed when the next
server starts; while it runs, files older than :data:`KEEP_SECONDS` are removed, and when the
folder holds more than its byte budget the oldest files go first (files younger than
:data:`MIN_AGE_SECONDS` stay: a queued job may still read them).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Collection

PREFIX = "nst_studio_"
KEEP_SECONDS = 3600  # files older than this are removed
MIN_AGE_SECONDS = 600  # files younger than this are never removed to meet the byte budget
MAX_BYTES = 1024 * 1024 ** 2  # one server's folder (Limits.max_disk_mb)
PRUNE_EVERY_SECONDS = 60  # how often the janitor thread prunes a running server's folder
_JANITOR: list[threading.Thread] = []
_BUDGET = [MAX_BYTES]
_KEEP: list[Callable[[], Collection[str]]] = [frozenset]


def process_dir(root: str | os.PathLike | None = None) -> Path:
    """This process's folder (made on first use)."""
    folder = Path(root or tempfile.gettempdir()) / f"{PREFIX}{os.getpid()}"
    folder.mkdir(exist_ok=True)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def remove_dead(root: str | os.PathLike | None = None) -> list[Path]:
    """Remove the folders of server processes that are gone; the folders removed."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = folder.name[len(PREFIX):]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def remove_own(root: str | os.PathLike | None = None) -> None:
    """Remove this process's folder (at exit)."""
    folder = Path(root or tempfile.gettempdir()) / f"{PREFIX}{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)


def _files(folder: Path) -> list[tuple[float, int, Path]]:
    """(age reference, size, path) of every file under ``folder``, oldest first. A file's age
    counts from its last modification or status change, whichever is later (Gradio's cache
    ages files by status change and touches a cached copy it hands out again)."""
    found = []
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                st = path.stat()
                found.append((max(st.st_mtime, st.st_ctime), st.st_size, path))
    return sorted(found)


def prune(folder: Path, max_bytes: int = MAX_BYTES, keep_seconds: float = KEEP_SECONDS,
          min_age: float = MIN_AGE_SECONDS, keep: Collection[str] = (),
          now: float | None = None) -> int:
    """Remove files older than ``keep_seconds``, then the oldest ones (older than
    ``min_age``) while the folder holds more than ``max_bytes``; the bytes left. Paths in
    ``keep`` (files Gradio serves for the page itself: examples, starting values) stay and
    are not counted."""
    now = time.time() if now is None else now
    files = [f for f in _files(folder) if str(f[2].resolve()) not in keep]
    total = sum(size for _, size, _ in files)
    for changed, size, path in files:
        age = now - changed
        if age > keep_seconds or (total > max_bytes and age > min_age):
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
    return total


def start_janitor(max_bytes: int = MAX_BYTES, every: float = PRUNE_EVERY_SECONDS,
                  keep: Callable[[], Collection[str]] | None = None) -> None:
    """Prune this process's folder to ``max_bytes`` now and every ``every`` seconds, in a
    daemon thread (started once; a later call sets the budget). ``keep()`` names the files to
    leave (see :func:`prune`)."""
    _BUDGET[0] = max_bytes
    _KEEP[0] = keep or frozenset
    prune_own()
    if _JANITOR:
        return

    def loop() -> None:
        while True:
            time.sleep(every)
            with contextlib.suppress(OSError):
                prune_own()

    thread = threading.Thread(target=loop, name="nst-disk-janitor", daemon=True)
    thread.start()
    _JANITOR.append(thread)


def prune_own() -> int:
    """Prune this process's folder with the budget and kept files :func:`start_janitor` set."""
    return prune(process_dir(), _BUDGET[0], keep={str(Path(p).resolve())
                                                   for p in _KEEP[0]()})
