"""The Stylize tab: Run streams previews (paced by time as well as by steps), a status line
and the loss plot; Stop keeps the image as it was at the last finished step as the result; the
result downloads as a PNG with its settings and as JSON; "Reuse these settings" puts them back
in the form. Run is disabled while the job runs.
"""
from __future__ import annotations


import gradio as gr

from nst_studio.web import files, streams
from nst_studio.web.jobs import on_gpu
from nst_studio.web.limits import Limits

from . import estimate, gallery, links
from .common import (LOADING, Job, changes, request_stop, run_stop_row, unlock_run, user_error,
                     warming, wire_run_stop)
from .panel import Panel


def build(panel: Panel, limits: Limits, job_queue: dict) -> links.CopyLink:
    """Lay out the tab (inside the caller's Tabs) and wire its events; its "Copy link" row."""
    with gr.Tab("Stylize", id="stylize"):
        run_btn, stop_btn, said = run_stop_row("Run")
        estimate.build(panel, limits)
        status = gr.Markdown("Ready: press **Run** (or pick other images).",
                             elem_id="status")
        result = gr.Image(label="Result (previews while running)", type="pil", format="png",
                          interactive=False, elem_id="result", height=400)
        # Drawn by matplotlib on the server: gr.LinePlot (Gradio 6.31) keeps the series it
        # first saw and never draws ones that appear later. The figure has its own title: the
        # label badge would cover its top.
        plot = gr.Plot(label="Loss", show_label=False, elem_id="loss_plot")
        with gr.Row():
            png_file = gr.File(label="Result PNG (settings embedded)", interactive=False,
                               elem_id="png_file")
            json_file = gr.File(label="Settings JSON", interactive=False, elem_id="json_file")
        reuse_btn = gr.Button("Reuse these settings", elem_id="reuse")
        copy = links.copy_link(panel, "stylize")
        shelf = gallery.build()
        # The running/last job: settings, the image at its last finished step, losses (see
        # nst_studio.web.files.job_state). Inside the tab: a State among the Tabs' own children
        # would shift the tab bar (a later tab is drawn with an earlier one's label).
        job_state = gr.State(None)
    outputs = {"preview": result, "status": status, "plot": plot, "png": png_file,
               "settings_json": json_file, "state": job_state}
    updates = estimate.paced(streams.drawing(on_gpu(streams.stylize_job,
                                                    limits.stylize_duration)))

    def check(data: dict) -> Job:
        read, settings = panel.read(data)
        return Job({status: LOADING, job_state: {"settings": settings.to_dict(), "step": 0}},
                   lambda key: updates(read, settings, stop_key=key),
                   lambda u: changes(u, outputs),
                   warming(status, [settings.param]))

    def stop(state: dict | None, request: gr.Request) -> dict:
        # Interrupts the step in progress; the cancel below ends the event itself.
        request_stop(request, "stylize")
        kept = files.stop_result(state)
        shown = {result: kept.image, png_file: kept.png, json_file: kept.settings_json}
        return {status: kept.status, run_btn: unlock_run(),
                job_state: files.without_images(state),
                **({k: v for k, v in shown.items() if v is not None})}

    def reuse(state: dict | None) -> dict:
        try:
            return panel.fill(files.state_settings(state))
        except ValueError as exc:
            raise user_error(exc) from None

    run_event, stop_event = wire_run_stop(
        run_btn, stop_btn, kind="stylize", check=check, event_inputs=panel.event_inputs(),
        event_outputs=list(outputs.values()), api_name="run", job_queue=job_queue, stop=stop,
        status=status, said=said, stop_inputs=job_state,
        stop_outputs=[result, png_file, json_file, status, run_btn, job_state])
    reuse_btn.click(reuse, job_state, panel.form_outputs(), api_visibility="private")
    gallery.wire(shelf, panel, [run_event.success, stop_event.then], state=job_state,
                 png_file=png_file, result=result, status=status)
    return copy
