"""The Stylize tab's session gallery (see :mod:`nst_studio.web.gallery`): every finished or
stopped run of the visit with its caption; clicking one shows it as the result, restores its
settings in the form, and puts it beside the one clicked before."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from nst_studio.web import gallery
from nst_studio.web import settings_io

from .common import user_error
from .panel import Panel


@dataclass
class SessionGallery:
    gallery: Any
    entries: Any  # gr.State: the visit's entries (nst_studio.web.gallery)
    picked: Any  # gr.State: paths of the last two clicked
    before: Any
    last: Any
    listing: Any  # every entry's full caption (a thumbnail's is cut to its width)


def build() -> SessionGallery:
    """Lay out the gallery and the side-by-side pair (inside the caller's tab)."""
    shelf = gr.Gallery(label=f"This visit's runs (the last {gallery.MAX_ENTRIES}): click one "
                             "to see it and restore its settings", columns=4, height=220,
                       fit_columns=False, allow_preview=False, object_fit="contain",
                       elem_id="session_gallery")
    listing = gr.Markdown("", elem_id="session_runs")
    with gr.Row():
        before = gr.Image(label="Side by side: clicked before", type="filepath",
                          interactive=False, height=260, elem_id="pair_before")
        last = gr.Image(label="Side by side: clicked last", type="filepath",
                        interactive=False, height=260, elem_id="pair_last")
    return SessionGallery(shelf, gr.State([], delete_callback=gallery.remove_files),
                          gr.State([]), before, last, listing)


def wire(shelf: SessionGallery, panel: Panel, ends: list, *, state: Any, png_file: Any,
         result: Any, status: Any) -> None:
    """Add a run after each of ``ends`` (listeners such as ``run_event.success``: a run's end,
    Stop); show a clicked one."""

    def remember(job: dict | None, png: str | None, entries: list) -> dict:
        kept = gallery.add(entries or [], png, job)
        return {shelf.gallery: gallery.items(kept), shelf.entries: kept,
                shelf.listing: gallery.listing(kept)}

    def show(entries: list, picked: list, evt: gr.SelectData) -> dict:
        try:
            entry, picked = gallery.pick(entries or [], evt.index, picked or [])
            settings = settings_io.load_settings_file(entry["path"])
        except ValueError as exc:
            raise user_error(exc) from None
        out = panel.fill(settings)
        out.update({result: entry["path"], png_file: entry["path"],
                    status: f"Showing {entry['caption']}; its settings are in the form.",
                    shelf.picked: picked, shelf.last: picked[-1],
                    shelf.before: picked[0] if len(picked) > 1 else None})
        return out

    for end in ends:
        end(remember, [state, png_file, shelf.entries],
            [shelf.gallery, shelf.entries, shelf.listing], api_visibility="private", queue=False)
    # Queued: Gradio 6.31 shows a refusal's message only for a queued event.
    shelf.gallery.select(show, [shelf.entries, shelf.picked],
                         [*panel.form_outputs(), result, png_file, status, shelf.picked,
                          shelf.last, shelf.before], api_visibility="private")
