"""The Explore tab: one run per value of a setting (a stylize sweep, content reconstruction
or texture synthesis), cells shown as they finish, then a labelled grid and its PNG."""
from __future__ import annotations


import gradio as gr

from nst_studio.web import budget as budgets
from nst_studio.web import explore, streams
from nst_studio.web.jobs import on_gpu
from nst_studio.web.limits import Limits

from . import estimate
from .common import (LOADING, Job, changes, request_stop, run_stop_row, unlock_run,
                     warming, wire_run_stop)
from .panel import Panel

INTRO = ("One run per value of a setting, with the images and settings on the left, laid out "
         "as a labelled grid. *Content reconstruction* starts from noise with content only "
         "(what a layer keeps); *texture synthesis* with style only (what the style statistics "
         "hold).")


def build(panel: Panel, limits: Limits, job_queue: dict) -> None:
    """Lay out the tab (inside the caller's Tabs) and wire its events."""
    with gr.Tab("Explore", id="explore"):
        gr.Markdown(INTRO)
        mode = gr.Radio(list(explore.EXPLORE_MODES), value="stylize", label="Mode",
                        elem_id="exp_mode")
        vary0, values0 = explore.explore_defaults("stylize")
        with gr.Row():
            vary = gr.Dropdown(explore.vary_labels(), value=vary0, label="Setting to vary",
                               info=explore.vary_help(vary0), elem_id="exp_vary")
            values = gr.Textbox(values0, label="Values (separated by ';' or new lines)",
                                elem_id="exp_values")
            columns = gr.Slider(0, explore.EXPLORE_MAX_CELLS, 0, step=1,
                                label="Grid columns (0: auto)", elem_id="exp_columns")
        seconds = gr.Number(budgets.explore_start(len(explore.parse_values(vary0, values0))),
                            minimum=0, label="Seconds per run and level (0: the steps decide)",
                            info="each run stops after this much of its own work; the "
                                 "default keeps a sweep within about a minute here",
                            elem_id="exp_seconds")
        run_btn, stop_btn, said = run_stop_row("Run sweep", "exp_")
        estimate.build(panel, limits, "exp_estimate", extra=[mode, vary, values, seconds],
                       compute=lambda data: estimate.runs_text(
                           panel, data, limits, lambda s: explore.cell_runs(
                               s, data[mode], data[vary], data[values], limits,
                               data[seconds]), "runs"))
        status = gr.Markdown("", elem_id="exp_status")
        gallery = gr.Gallery(label="Runs as they finish", columns=4, height=280,
                             object_fit="contain", elem_id="exp_gallery")
        grid = gr.Image(label="Labelled grid", type="pil", format="png", interactive=False,
                        elem_id="exp_grid")
        grid_png = gr.File(label="Grid PNG (settings and per-run losses embedded)",
                           interactive=False, elem_id="exp_png")
    outputs = {"gallery": gallery, "status": status, "grid": grid, "grid_png": grid_png}
    updates = on_gpu(streams.explore_updates, limits.explore_duration)

    def check(data: dict) -> Job:
        read, settings = panel.read(data, mode=data[mode])
        settings = budgets.timed(settings, data[seconds])
        plan = explore.explore_plan(settings, data[mode], data[vary], data[values], limits,
                                    len(read.styles), int(data[columns] or 0))
        return Job({gallery: [], status: LOADING}, lambda key: updates(read, plan, stop_key=key),
                   lambda u: changes(u, outputs),
                   warming(status, {c.settings.param for c in plan.cells}))

    def stop(request: gr.Request) -> dict:
        request_stop(request, "explore")
        return {status: "**Stopped.** The runs that finished stay above.",
                run_btn: unlock_run()}

    wire_run_stop(run_btn, stop_btn, kind="explore", check=check,
                  event_inputs=panel.event_inputs() | {mode, vary, values, columns, seconds},
                  event_outputs=[gallery, status, grid, grid_png], api_name="explore",
                  job_queue=job_queue, stop=stop, status=status, said=said,
                  stop_outputs=[status, run_btn])
    mode.input(explore.explore_defaults, mode, [vary, values], api_visibility="private")
    vary.input(explore.vary_example, vary, values, api_visibility="private")
    vary.change(lambda name: gr.Dropdown(info=explore.vary_help(name)), vary, vary,
                api_visibility="private", queue=False)
