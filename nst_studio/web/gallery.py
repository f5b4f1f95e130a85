"""The session gallery: every finished or stopped Stylize run of a visit, newest first, as
entries a page keeps in its session state (plain dicts). An entry owns a copy of the run's
result PNG (settings embedded) in :func:`folder`, so it outlives the page's download slot;
the gallery holds at most :data:`MAX_ENTRIES` and removes the files of entries it drops, and
the whole folder is pruned with the server's other files (:mod:`.disk`).
"""
from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

from nst_core.imaging import images
from nst_core.methods import method_label
from . import files

MAX_ENTRIES = 12  # runs a visit keeps (the oldest goes first)
PICKED = 2  # entries shown side by side: the last two clicked


def folder() -> Path:
    """Where the gallery's copies of result PNGs go (inside the server's result folder)."""
    path = files.output_dir() / "gallery"
    path.mkdir(exist_ok=True)
    return path


def _run_facts(png: str | Path, state: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a caption shows, from the PNG's embedded metadata and the job's last state."""
    meta = images.read_png_settings(Path(png).read_bytes())
    settings, run = meta.get("settings") or {}, meta.get("run") or {}
    seconds = run.get("seconds")
    if seconds is None and state:
        seconds = state.get("elapsed")
    return {"method": method_label(settings.get("optimizer", "lbfgs"),
                                   settings.get("param", "pixels")),
            "size": settings.get("size"), "step": run.get("step"),
            "steps": settings.get("steps"), "seconds": seconds,
            "loss": (meta.get("losses") or {}).get("total"),
            "stopped": bool(run.get("stopped"))}


def caption(number: int, facts: Mapping[str, Any]) -> str:
    """"#2 L-BFGS · pixels · 256 px · 30/30 steps · 41 s · loss 3.2e+04" (stopped ones say so)."""
    parts = [f"#{number} {facts['method']}", f"{facts['size']} px",
             f"{facts['step']}/{facts['steps']} steps"]
    if facts.get("seconds") is not None:
        parts.append(f"{facts['seconds']:.0f} s")
    if facts.get("loss") is not None:
        parts.append(f"loss {facts['loss']:.3g}")
    return " · ".join(parts) + (" (stopped)" if facts.get("stopped") else "")


def add(entries: Sequence[Mapping[str, Any]], png: str | None,
        state: Mapping[str, Any] | None, max_entries: int = MAX_ENTRIES) -> list[dict]:
    """``entries`` with the run whose result is ``png`` in front (a copy of it made in
    :func:`folder`), the oldest dropped (and its copy removed) beyond ``max_entries``. The
    same result twice (the page reports a run's end and its stop) is kept once; entries whose
    file the server pruned are dropped."""
    kept = [dict(e) for e in entries if Path(e["path"]).is_file()]
    known = {p for e in kept for p in (e["source"], e["path"])}
    if not png or not Path(png).is_file() or str(png) in known:
        return kept
    facts = _run_facts(png, state)
    number = max((e["number"] for e in entries), default=0) + 1
    copy = folder() / f"run{number}_{Path(png).name}"
    shutil.copyfile(png, copy)
    kept.insert(0, {"path": str(copy), "source": str(png), "number": number,
                    "caption": caption(number, facts), **facts})
    for dropped in kept[max_entries:]:
        with contextlib.suppress(OSError):
            Path(dropped["path"]).unlink()
    return kept[:max_entries]


def items(entries: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(image path, caption) per entry, as a gallery shows them."""
    return [(e["path"], e["caption"]) for e in entries]


def listing(entries: Sequence[Mapping[str, Any]]) -> str:
    """The entries as Markdown lines, newest first (a thumbnail's caption is cut to its
    width)."""
    return "\n".join(f"- {e['caption']}" for e in entries)


def pick(entries: Sequence[Mapping[str, Any]], index: int, picked: Sequence[str]
         ) -> tuple[dict, list[str]]:
    """The entry clicked (by its place in the gallery) and the paths shown side by side: the
    last :data:`PICKED` clicked, oldest first."""
    if not 0 <= index < len(entries):
        raise ValueError(f"no run number {index + 1} in this visit's gallery")
    entry = dict(entries[index])
    shown = [p for p in picked if p != entry["path"] and Path(p).is_file()]
    return entry, (shown + [entry["path"]])[-PICKED:]


def remove_files(entries: Sequence[Mapping[str, Any]] | None) -> None:
    """Remove the copies a visit's gallery owns (when its session ends)."""
    for entry in entries or ():
        with contextlib.suppress(OSError, KeyError, TypeError):
            Path(entry["path"]).unlink()
