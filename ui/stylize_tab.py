"""The Stylize tab: Run streams previews, a status line and the loss plot; Stop keeps the last
preview as the result; the result downloads as a PNG with its settings and as JSON; "Reuse
these settings" puts them back in the form."""
from __future__ import annotations

from typing import Iterator

import gradio as gr

from nst_core.web import files, streams
from nst_core.web.jobs import on_gpu
from nst_core.web.limits import Limits

from . import estimate
from .common import LOADING, changes, request_stop, start_job, stream, user_error
from .panel import Panel


def build(panel: Panel, limits: Limits, job_queue: dict) -> None:
    """Lay out the tab (inside the caller's Tabs) and wire its events."""
    with gr.Tab("Stylize", id="stylize"):
        with gr.Row():
            run_btn = gr.Button("Run", variant="primary", elem_id="run")
            stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
        estimate.build(panel, limits)
        result = gr.Image(label="Result (previews while running)", type="pil", format="png",
                          interactive=False, elem_id="result", height=420)
        status = gr.Markdown("Ready.", elem_id="status")
        # Drawn by matplotlib on the server: gr.LinePlot (Gradio 6.31) keeps the series it
        # first saw and never draws ones that appear later.
        plot = gr.Plot(label="Loss (log scale)", elem_id="loss_plot")
        with gr.Row():
            png_file = gr.File(label="PNG with settings embedded", elem_id="png_file")
            json_file = gr.File(label="Settings JSON", elem_id="json_file")
        reuse_btn = gr.Button("Reuse these settings", elem_id="reuse")
    job_state = gr.State(None)  # the running/last job: settings, last preview, losses
    outputs = {"preview": result, "status": status, "plot": plot, "png": png_file,
               "settings_json": json_file, "state": job_state}
    updates = estimate.paced(on_gpu(streams.stylize_updates, limits.stylize_duration))

    def run(data: dict, request: gr.Request) -> Iterator[dict]:
        try:
            read, settings = panel.read(data)
        except ValueError as exc:
            raise user_error(exc) from None
        key = start_job(request, "stylize")
        yield from stream({status: LOADING, job_state: {"settings": settings.to_dict(),
                                                        "step": 0}},
                          lambda: updates(read, settings, stop_key=key),
                          lambda u: changes(u, outputs))

    def stop(state: dict | None, request: gr.Request) -> dict:
        # Interrupts the step in progress; the cancel below ends the event itself.
        request_stop(request, "stylize")
        png, js, text = files.stop_result(state)
        return {status: text, **({png_file: png, json_file: js} if png else {})}

    def reuse(state: dict | None) -> dict:
        try:
            return panel.fill(files.state_settings(state))
        except ValueError as exc:
            raise user_error(exc) from None

    run_event = run_btn.click(run, panel.event_inputs(), list(outputs.values()), api_name="run",
                              api_visibility="undocumented", show_progress="minimal",
                              **job_queue)
    stop_btn.click(stop, job_state, [png_file, json_file, status], cancels=[run_event],
                   queue=False, api_visibility="private")
    reuse_btn.click(reuse, job_state, panel.form_outputs(), api_visibility="private")
