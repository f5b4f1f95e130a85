"""The Compare tab: the chosen methods run on the same images, settings and budget (equal steps
or equal time), one step of each in turn, with a gallery that grows, a loss plot, then a table
ranked by the fixed scorer, a grid and curves."""
from __future__ import annotations


import gradio as gr
import pandas as pd

from nst_core.experiments.compare import scoring_seconds
from nst_core.methods import DEFAULT_METHODS, available_methods
from nst_studio.web import streams
from nst_studio.web import budget as budgets
from nst_studio.web.jobs import on_gpu
from nst_studio.web.limits import Limits

from . import estimate, links
from .common import (LOADING, Job, changes, request_stop, run_stop_row, unlock_run,
                     warming, wire_run_stop)
from .panel import Panel


def build(panel: Panel, limits: Limits, job_queue: dict) -> links.CopyLink:
    """Lay out the tab (inside the caller's Tabs) and wire its events; its "Copy link" row."""
    with gr.Tab("Compare", id="compare"):
        gr.Markdown("Runs each method on the images and settings on the left with the same "
                    "budget, one step of each in turn, and scores every result with one fixed "
                    "yardstick (the default objective, SSIM to the content, a style distance), "
                    "whatever each method optimized.")
        choices = available_methods()
        offered = [v for _, v in choices]
        methods = gr.CheckboxGroup(choices, value=[m for m in DEFAULT_METHODS
                                                   if m in offered][:3],
                                   label="Methods", elem_id="cmp_methods")
        start_budget, start_seconds = budgets.compare_start(len(methods.value or ()))
        with gr.Row():
            budget = gr.Radio(list(budgets.COMPARE_BUDGETS), value=start_budget,
                              label="Budget", elem_id="cmp_budget")
            seconds = gr.Number(start_seconds, label="Seconds per method (same time)",
                                elem_id="cmp_seconds")
        run_btn, stop_btn, said = run_stop_row("Run comparison", "cmp_")

        estimate.build(panel, limits, "cmp_estimate", extra=[methods, budget, seconds],
                       compute=lambda data: estimate.runs_text(
                           panel, data, limits, lambda s: budgets.method_runs(
                               s, data[methods], data[budget], data[seconds], limits),
                           "methods", scoring=scoring_seconds))
        status = gr.Markdown("", elem_id="cmp_status")
        gallery = gr.Gallery(label="Results as they progress", columns=3, height=320,
                             object_fit="contain", elem_id="cmp_gallery")
        plot = gr.Plot(label="Loss per method", show_label=False, elem_id="cmp_plot")
        # Shown once the comparison is done (an empty table would show placeholder headers).
        table = gr.Dataframe(label="Scores: lower is better (one fixed yardstick for every "
                                   "method); SSIM to the content: higher keeps more of it",
                             interactive=False, wrap=True, visible=False, elem_id="cmp_table")
        with gr.Accordion("Grid and curves", open=False):
            grid = gr.Image(label="Grid", type="pil", interactive=False, elem_id="cmp_grid")
            gr.Markdown("Each method's own loss against step and seconds; the fixed score "
                        "against seconds.")
            # No label badge: it would cover the image's own title.
            curves = gr.Image(label="Curves", show_label=False, type="pil",
                              interactive=False, elem_id="cmp_curves")
            json_file = gr.File(label="Comparison numbers (JSON)", interactive=False,
                                elem_id="cmp_json")
        copy = links.copy_link(panel, "compare", {"methods": methods, "budget": budget,
                                                  "seconds": seconds})
    outputs = {"gallery": gallery, "status": status, "plot": plot, "grid": grid,
               "curves": curves, "json_path": json_file}
    updates = streams.drawing(on_gpu(streams.compare_job, limits.compare_duration))

    def show(u: streams.CompareUpdate) -> dict:
        shown = changes(u, outputs)
        if u.table is not None:
            shown[table] = gr.Dataframe(pd.DataFrame(u.table, columns=list(u.table_headers)),
                                        visible=True)
        return shown

    def check(data: dict) -> Job:
        read, settings = panel.read(data, masks=False)
        settings = budgets.compare_settings(settings, data[budget], data[seconds], limits)
        if not data[methods]:
            raise ValueError("pick at least one method to compare")
        return Job({gallery: [], status: LOADING, table: gr.Dataframe(visible=False)},
                   lambda key: updates(read, settings, data[methods], stop_key=key), show,
                   warming(status, [m.split(":")[-1] for m in data[methods]]))

    def stop(request: gr.Request) -> dict:
        request_stop(request, "compare")
        return {status: "**Stopped.** The images so far stay above.", run_btn: unlock_run()}

    wire_run_stop(run_btn, stop_btn, kind="compare", check=check,
                  event_inputs=panel.event_inputs(masks=False) | {methods, budget, seconds},
                  event_outputs=[gallery, status, plot, table, grid, curves, json_file],
                  api_name="compare", job_queue=job_queue, stop=stop, status=status, said=said,
                  stop_outputs=[status, run_btn])
    return copy
