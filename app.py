"""Neural style transfer studio: the Gradio app (layout and wiring only).

Everything the app runs lives in ``nst_core`` (``nst_core.service`` turns form values into
settings, streams jobs as updates, writes result files and holds the serving limits).

    python app.py [--host 0.0.0.0] [--port 7860] [--share]

``build_demo()`` builds the Blocks without launching (tests and Hugging Face Spaces import it).
Serving limits come from environment variables (see ``nst_core.service.Limits``).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from nst_core import service  # noqa: E402
from nst_core.compare import DEFAULT_METHODS  # noqa: E402
from nst_core.engine import NonFiniteLossError  # noqa: E402
from nst_core.schedule import MIN_LEVEL_SIDE  # noqa: E402
from nst_core.settings import INITS, LUMINANCE_SPACES, PRESERVE_COLORS, PRESETS  # noqa: E402
from nst_core.vgg import LAYER_NAMES, POOLINGS, PRECISIONS  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent / "examples"
EXAMPLE_PAIRS = [("astronaut.png", "starry_night.jpg"), ("chelsea.png", "the_scream.jpg"),
                 ("coffee.png", "woman-with-hat-matisse.jpg"), ("rocket.jpg", "shipwreck.jpg")]
INTRO = """# Neural style transfer studio
Gatys et al.'s optimization on the original VGG19: pick a content image and one or more style
images, a method (optimizer · what is optimized) and a budget, then **Run**. Previews appear as it
goes; **Stop** keeps the last one. Example images: `examples/README.md` (public domain / CC0)."""


def _guard_upload(component: gr.Image, label: str) -> gr.Image:
    """Turn an upload Pillow cannot open into a clear gr.Error (Gradio's own preprocess fails
    with a generic error before the event function runs)."""
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception:
            path = getattr(payload, "path", None)
            raise gr.Error(service.check_upload(path, label) if path
                           else f"{label}: the upload could not be read") from None

    component.preprocess = preprocess
    return component


def _or_skip(value: Any) -> Any:
    return gr.skip() if value is None else value


def _user_error(exc: Exception) -> gr.Error:
    if isinstance(exc, NonFiniteLossError):
        return gr.Error(f"The run diverged: {exc}")
    if isinstance(exc, RuntimeError):  # e.g. torch.OutOfMemoryError on a GPU
        return gr.Error(f"The run failed: {type(exc).__name__}: {exc}")
    return gr.Error(str(exc))


def build_demo(limits: service.Limits | None = None) -> gr.Blocks:
    limits = limits or service.Limits.from_env()
    defaults = service.default_values(limits)
    stylize_gpu = service.on_gpu(service.stylize_updates, limits.gpu_duration)
    compare_gpu = service.on_gpu(service.compare_updates, limits.gpu_duration)
    explore_gpu = service.on_gpu(service.explore_updates, limits.gpu_duration)
    job_queue = dict(concurrency_limit=limits.concurrency, concurrency_id="device")

    with gr.Blocks(title="Neural style transfer studio") as demo:
        gr.Markdown(INTRO)
        base_state = gr.State(None)  # Settings loaded from a file (fields the form lacks)
        job_state = gr.State(None)  # the running/last job: settings, last preview, losses
        with gr.Row():
            # ---------------------------------------------------------------- inputs
            with gr.Column(scale=5):
                with gr.Row():
                    content = _guard_upload(gr.Image(label="Content image", type="filepath",
                                                     elem_id="content", height=240),
                                            "content image")
                    style_imgs = [_guard_upload(gr.Image(label="Style image", type="filepath",
                                                         elem_id="style", height=240),
                                                "style image")]
                style_weights = [gr.Slider(0, 1, 1, step=0.05, label="Blend weight of style 1",
                                           elem_id="style_weight_1",
                                           visible=limits.max_styles > 1)]
                if limits.max_styles > 1:
                    with gr.Accordion("Blend more styles", open=False):
                        for i in range(2, limits.max_styles + 1):
                            with gr.Row():
                                style_imgs.append(_guard_upload(
                                    gr.Image(label=f"Style image {i}", type="filepath",
                                             elem_id=f"style_{i}", height=160),
                                    f"style image {i}"))
                                style_weights.append(gr.Slider(
                                    0, 1, 1, step=0.05, label=f"Blend weight of style {i}",
                                    elem_id=f"style_weight_{i}"))
                # Spatial control: one mask per style, painted on the content or uploaded.
                mask_paints, mask_uploads = [], []
                with gr.Accordion("Where each style applies (masks)", open=False,
                                  elem_id="masks"):
                    gr.Markdown("Paint on the content where a style should go, or upload a "
                                "mask (white = that style). With masks, give every style one; "
                                "areas no mask covers get no style. *Run* and *Explore* use "
                                "them; *Compare* does not.")
                    for i in range(1, len(style_imgs) + 1):
                        with gr.Row():
                            mask_paints.append(gr.ImageEditor(
                                label=f"Paint where style {i} applies", type="pil",
                                sources=(), transforms=(), layers=False, height=240,
                                brush=gr.Brush(colors=["#ff2d6f"], color_mode="fixed",
                                               default_size=24),
                                elem_id=f"mask_paint_{i}"))
                            mask_uploads.append(_guard_upload(
                                gr.Image(label=f"…or upload a mask for style {i}",
                                         type="filepath", height=240, elem_id=f"mask_{i}"),
                                f"mask {i}"))
                gr.Examples([[str(EXAMPLES / c), str(EXAMPLES / s)] for c, s in EXAMPLE_PAIRS
                             if (EXAMPLES / c).is_file() and (EXAMPLES / s).is_file()],
                            inputs=[content, style_imgs[0]], cache_examples=False,
                            label="Examples")

                c: dict[str, gr.components.Component] = {}
                with gr.Row():
                    c["method"] = gr.Dropdown(service.methods(), value=defaults["method"],
                                              label="Method (optimizer · what is optimized)",
                                              elem_id="method")
                    c["preset"] = gr.Dropdown(list(PRESETS), value=defaults["preset"],
                                              label="Layer preset", elem_id="preset")
                with gr.Row():
                    c["size"] = gr.Slider(service.MIN_SIZE, limits.max_size, defaults["size"],
                                          step=1, label="Output size (longest side, px)",
                                          elem_id="size")
                    c["steps"] = gr.Slider(1, limits.max_steps, defaults["steps"], step=1,
                                           label="Steps (forward+backward passes)",
                                           elem_id="steps")
                with gr.Row():
                    c["style_weight_log10"] = gr.Slider(
                        *service.STYLE_WEIGHT_LOG10, defaults["style_weight_log10"], step=0.1,
                        label="Style weight (log10: 2 = 1e2)", elem_id="style_weight_log10")
                    c["content_weight"] = gr.Number(defaults["content_weight"], minimum=0,
                                                    label="Content weight")
                    c["tv_weight"] = gr.Number(defaults["tv_weight"], minimum=0,
                                               label="TV weight (smoothness)")
                with gr.Row():
                    c["preserve_color"] = gr.Radio(list(PRESERVE_COLORS),
                                                   value=defaults["preserve_color"],
                                                   label="Preserve colour")
                    c["init"] = gr.Radio(list(INITS), value=defaults["init"], label="Start from")
                    c["seed"] = gr.Number(defaults["seed"], precision=0,
                                          label="Seed (-1: random)")
                with gr.Accordion("Advanced", open=False):
                    with gr.Row():
                        c["content_layers"] = gr.Dropdown(list(LAYER_NAMES),
                                                          value=defaults["content_layers"],
                                                          multiselect=True,
                                                          label="Content layers",
                                                          elem_id="content_layers")
                        c["style_layers"] = gr.Dropdown(list(LAYER_NAMES),
                                                        value=defaults["style_layers"],
                                                        multiselect=True, label="Style layers",
                                                        elem_id="style_layers")
                    with gr.Row():
                        c["style_loss"] = gr.Dropdown(service.style_loss_choices(),
                                                      value=defaults["style_loss"],
                                                      label="Style loss", elem_id="style_loss")
                        c["lr"] = gr.Number(defaults["lr"], minimum=0,
                                            label="Learning rate (0: method default)")
                        c["preview_every"] = gr.Slider(1, service.PREVIEW_EVERY_MAX,
                                                       defaults["preview_every"], step=1,
                                                       label="Preview every N steps",
                                                       elem_id="preview_every")
                    with gr.Row():
                        c["style_scale"] = gr.Slider(0.25, 4, defaults["style_scale"],
                                                     step=0.05, label="Style scale")
                        c["tv_exponent"] = gr.Number(defaults["tv_exponent"],
                                                     label="TV exponent")
                        c["pooling"] = gr.Radio(list(POOLINGS), value=defaults["pooling"],
                                                label="VGG pooling")
                        c["luminance_space"] = gr.Radio(list(LUMINANCE_SPACES),
                                                        value=defaults["luminance_space"],
                                                        label="Luminance space")
                    with gr.Row():
                        c["precision"] = gr.Radio(list(PRECISIONS), value=defaults["precision"],
                                                  label="Convolution precision (auto = fp32; "
                                                        "bf16 is ~1.7x faster on CPUs with "
                                                        "AVX512-BF16, with a 1-4% worse "
                                                        "objective)")
                        c["param_options"] = gr.Textbox(
                            defaults["param_options"], label="Parameterization options (JSON)",
                            placeholder='{"decay_power": 1.0}')
                    with gr.Row():
                        c["edge_preserve"] = gr.Checkbox(
                            defaults["edge_preserve"], label="Edge-preserving style loss",
                            info="less style on the content's strong edges",
                            elem_id="edge_preserve")
                        c["edge_weight"] = gr.Number(defaults["edge_weight"], minimum=0,
                                                     label="Style weight on edges (0: none)",
                                                     elem_id="edge_weight")
                        c["edge_threshold"] = gr.Slider(0.01, 0.99, defaults["edge_threshold"],
                                                        step=0.01, label="Edge threshold",
                                                        elem_id="edge_threshold")
                        c["edge_blur"] = gr.Slider(0, 64, defaults["edge_blur"], step=0.5,
                                                   label="Edge blur (px)", elem_id="edge_blur")
                    with gr.Row():
                        c["multiscale"] = gr.Checkbox(
                            defaults["multiscale"], label="Multi-scale (coarse to fine)",
                            info="levels double from the smallest size up to the output size",
                            elem_id="multiscale")
                        c["min_size"] = gr.Slider(MIN_LEVEL_SIDE, limits.max_size,
                                                  defaults["min_size"], step=1,
                                                  label="Smallest level (px)",
                                                  elem_id="min_size")
                    settings_file = gr.File(label="Load settings from a PNG made here or a "
                                                  "settings JSON", file_types=[".png", ".json"],
                                            elem_id="settings_file")
                controls = [c[name] for name in service.UI_FIELDS]

            # ---------------------------------------------------------------- outputs
            with gr.Column(scale=6):
                with gr.Tabs():
                    with gr.Tab("Stylize", id="stylize"):
                        with gr.Row():
                            run_btn = gr.Button("Run", variant="primary", elem_id="run")
                            stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
                        result = gr.Image(label="Result (previews while running)",
                                          type="pil", format="png", interactive=False,
                                          elem_id="result", height=420)
                        status = gr.Markdown("Ready.", elem_id="status")
                        # Drawn by matplotlib on the server: gr.LinePlot (Gradio 6.31) keeps
                        # the series it first saw and never draws ones that appear later.
                        plot = gr.Plot(label="Loss (log scale)", elem_id="loss_plot")
                        with gr.Row():
                            png_file = gr.File(label="PNG with settings embedded",
                                               elem_id="png_file")
                            json_file = gr.File(label="Settings JSON", elem_id="json_file")
                        reuse_btn = gr.Button("Reuse these settings", elem_id="reuse")
                    with gr.Tab("Compare", id="compare"):
                        gr.Markdown("Runs each method on the images and settings on the left "
                                    "with the same step budget, one step of each in turn.")
                        choices = service.methods()
                        values = [v for _, v in choices]
                        cmp_methods = gr.CheckboxGroup(
                            choices, value=[m for m in DEFAULT_METHODS if m in values][:3],
                            label="Methods", elem_id="cmp_methods")
                        with gr.Row():
                            cmp_run = gr.Button("Run comparison", variant="primary",
                                                elem_id="cmp_run")
                            cmp_stop = gr.Button("Stop", variant="stop", elem_id="cmp_stop")
                        cmp_status = gr.Markdown("", elem_id="cmp_status")
                        cmp_gallery = gr.Gallery(label="Results as they progress", columns=3,
                                                 height=320, elem_id="cmp_gallery")
                        cmp_plot = gr.Plot(label="Total loss (log scale)", elem_id="cmp_plot")
                        cmp_table = gr.Dataframe(label="Final losses and times",
                                                 interactive=False, elem_id="cmp_table")
                        with gr.Accordion("Grid and curves", open=False):
                            cmp_grid = gr.Image(label="Grid", type="pil", interactive=False)
                            cmp_curves = gr.Image(label="Loss vs step and vs seconds",
                                                  type="pil", interactive=False)
                            cmp_json = gr.File(label="Comparison numbers (JSON)")
                    with gr.Tab("Explore", id="explore"):
                        gr.Markdown("One run per value of a setting, with the images and "
                                    "settings on the left, laid out as a labelled grid. "
                                    "*Content reconstruction* starts from noise with content "
                                    "only (what a layer keeps); *texture synthesis* with style "
                                    "only (what the style statistics hold).")
                        exp_mode = gr.Radio(list(service.EXPLORE_MODES), value="stylize",
                                            label="Mode", elem_id="exp_mode")
                        exp_vary0, exp_values0 = service.explore_defaults("stylize")
                        with gr.Row():
                            exp_vary = gr.Dropdown(service.vary_choices(), value=exp_vary0,
                                                   label="Setting to vary", elem_id="exp_vary")
                            exp_values = gr.Textbox(exp_values0, label="Values (separated by "
                                                    "';' or new lines)", elem_id="exp_values")
                            exp_columns = gr.Slider(0, service.EXPLORE_MAX_CELLS, 0, step=1,
                                                    label="Grid columns (0: auto)",
                                                    elem_id="exp_columns")
                        with gr.Row():
                            exp_run = gr.Button("Run sweep", variant="primary",
                                                elem_id="exp_run")
                            exp_stop = gr.Button("Stop", variant="stop", elem_id="exp_stop")
                        exp_status = gr.Markdown("", elem_id="exp_status")
                        exp_gallery = gr.Gallery(label="Runs as they finish", columns=4,
                                                 height=280, elem_id="exp_gallery")
                        exp_grid = gr.Image(label="Labelled grid", type="pil", format="png",
                                            interactive=False, elem_id="exp_grid")
                        exp_png = gr.File(label="Grid PNG (settings and per-run losses "
                                                "embedded)", elem_id="exp_png")

        # Hidden components behind the named API endpoint /stylize (files + settings JSON).
        with gr.Row(visible=False):
            api_content = _guard_upload(gr.Image(type="filepath", label="content"),
                                        "content image")
            api_styles = gr.File(file_count="multiple", label="styles")
            api_settings = gr.Textbox(label="settings_json")
            api_preview = gr.Image(type="pil", format="png", label="preview")
            api_result = gr.File(label="result_png")
            api_progress = gr.JSON(label="progress")
            api_btn = gr.Button()

        # ---------------------------------------------------------------- wiring
        n = len(style_imgs)

        def prepare(content_v, styles_v, weights_v, base, values, mode="stylize"):
            styles, blend = service.collect_styles(styles_v, weights_v)
            settings = service.settings_from_ui(dict(zip(service.UI_FIELDS, values)),
                                                limits=limits, n_styles=len(styles),
                                                blend=blend, base=base,
                                                need_style=mode != "reconstruct")
            content_img, style_list = service.load_inputs(content_v, styles,
                                                          need_content=mode != "texture")
            return content_img, style_list, settings

        def prepare_masks(styles_v, args, content_img):
            masks = service.collect_masks(styles_v, args[:n], args[n:2 * n])
            service.check_masks(masks, content_img)
            return masks

        def stop_key(request: gr.Request | None, kind: str) -> str | None:
            """Stop tokens are per browser session and tab (Run and Compare)."""
            session = getattr(request, "session_hash", None)
            return f"{session}:{kind}" if session else None

        def request_stop(request: gr.Request | None, kind: str) -> None:
            """Interrupt the step in progress of this session's `kind` job, if any."""
            key = stop_key(request, kind)
            if key:
                service.request_stop(key)

        # gr.Request comes first: Gradio fills it in only among the positional parameters.
        def run(request: gr.Request, content_v, *args):
            styles_v, weights_v = args[:n], args[n:2 * n]
            base, values = args[4 * n], args[4 * n + 1:]
            try:
                inputs = prepare(content_v, styles_v, weights_v, base, values)
                masks = prepare_masks(styles_v, args[2 * n:4 * n], inputs[0])
            except ValueError as exc:
                raise _user_error(exc) from None
            key = stop_key(request, "stylize")
            if key:
                service.stop_token(key)
            # Yield before the heavy work: Gradio can cancel a generator only after its first
            # yield (notes/gradio6.md).
            yield (gr.skip(), "Loading images and VGG19…", None, None, None,
                   {"settings": inputs[2].to_dict(), "step": 0})
            try:
                for u in stylize_gpu(*inputs, stop_key=key, masks=masks):
                    yield (_or_skip(u.preview), _or_skip(u.status),
                           _or_skip(u.plot), _or_skip(u.png),
                           _or_skip(u.settings_json), _or_skip(u.state))
            except (ValueError, RuntimeError) as exc:
                raise _user_error(exc) from None

        run_event = run_btn.click(
            run, [content, *style_imgs, *style_weights, *mask_paints, *mask_uploads,
                  base_state, *controls],
            [result, status, plot, png_file, json_file, job_state], api_name="run",
            api_visibility="undocumented", show_progress="minimal", **job_queue)

        def stop(state, request: gr.Request):
            # Interrupts the step in progress; the cancel below ends the event itself.
            request_stop(request, "stylize")
            png, js, text = service.stop_result(state)
            return _or_skip(png), _or_skip(js), text

        stop_btn.click(stop, [job_state], [png_file, json_file, status], cancels=[run_event],
                       queue=False, api_visibility="private")

        form_outputs = [*controls, *style_weights, base_state]

        def fill_form(settings):
            values, clamped = service.ui_values(settings, limits)
            for note in clamped:
                gr.Warning(note)
            blend = list(settings.style_blend_weights or ())
            weights = [blend[i] if i < len(blend) else gr.skip() for i in range(n)]
            return [values[name] for name in service.UI_FIELDS] + weights + [settings]

        def reuse(state):
            try:
                return fill_form(service.state_settings(state))
            except ValueError as exc:
                raise _user_error(exc) from None

        reuse_btn.click(reuse, [job_state], form_outputs, api_visibility="private")

        def load_file(path):
            if path is None:
                return [gr.skip()] * len(form_outputs)
            try:
                settings = service.load_settings_file(path)
            except ValueError as exc:
                raise _user_error(exc) from None
            gr.Info("Settings loaded into the form.")
            return fill_form(settings)

        settings_file.upload(load_file, [settings_file], form_outputs, api_visibility="private")

        def apply_preset(name):
            try:
                values = service.preset_values(name, limits)
            except ValueError as exc:
                raise _user_error(exc) from None
            return {c[k]: v for k, v in values.items() if k in c}

        c["preset"].input(apply_preset, [c["preset"]], controls, api_visibility="private")

        def compare(request: gr.Request, content_v, chosen, *args):
            styles_v, weights_v = args[:n], args[n:2 * n]
            base, values = args[2 * n], args[2 * n + 1:]
            try:
                inputs = prepare(content_v, styles_v, weights_v, base, values)
                if not chosen:
                    raise ValueError("pick at least one method to compare")
            except ValueError as exc:
                raise _user_error(exc) from None
            key = stop_key(request, "compare")
            if key:
                service.stop_token(key)
            yield ([], "Loading images and VGG19…", None, None, None, None, None)
            try:
                for u in compare_gpu(*inputs, chosen, stop_key=key):
                    table = gr.skip() if u.table is None else pd.DataFrame(
                        u.table, columns=list(u.table_headers))
                    yield (_or_skip(u.gallery), _or_skip(u.status),
                           _or_skip(u.plot), table,
                           _or_skip(u.grid), _or_skip(u.curves), _or_skip(u.json_path))
            except (ValueError, RuntimeError) as exc:
                raise _user_error(exc) from None

        cmp_event = cmp_run.click(
            compare, [content, cmp_methods, *style_imgs, *style_weights, base_state, *controls],
            [cmp_gallery, cmp_status, cmp_plot, cmp_table, cmp_grid, cmp_curves, cmp_json],
            api_name="compare", api_visibility="undocumented", show_progress="minimal",
            **job_queue)
        def stop_compare(request: gr.Request):
            request_stop(request, "compare")
            return "**Stopped.**"

        cmp_stop.click(stop_compare, None, [cmp_status], cancels=[cmp_event], queue=False,
                       api_visibility="private")

        def explore(request: gr.Request, content_v, mode, vary, values_text, columns, *args):
            styles_v, weights_v = args[:n], args[n:2 * n]
            base, values = args[4 * n], args[4 * n + 1:]
            try:
                content_img, style_list, settings = prepare(content_v, styles_v, weights_v,
                                                            base, values, mode)
                masks = prepare_masks(styles_v, args[2 * n:4 * n], content_img)
                service.explore_plan(settings, mode, vary,
                                     service.parse_values(vary, values_text), limits,
                                     len(style_list))
            except ValueError as exc:
                raise _user_error(exc) from None
            key = stop_key(request, "explore")
            if key:
                service.stop_token(key)
            yield [], "Loading images and VGG19…", None, None
            try:
                for u in explore_gpu(content_img, style_list, settings, mode, vary, values_text,
                                     masks=masks, columns=int(columns or 0), limits=limits,
                                     stop_key=key):
                    yield (_or_skip(u.gallery), _or_skip(u.status), _or_skip(u.grid),
                           _or_skip(u.grid_png))
            except (ValueError, RuntimeError) as exc:
                raise _user_error(exc) from None

        exp_event = exp_run.click(
            explore, [content, exp_mode, exp_vary, exp_values, exp_columns, *style_imgs,
                      *style_weights, *mask_paints, *mask_uploads, base_state, *controls],
            [exp_gallery, exp_status, exp_grid, exp_png], api_name="explore",
            api_visibility="undocumented", show_progress="minimal", **job_queue)

        def stop_explore(request: gr.Request):
            request_stop(request, "explore")
            return "**Stopped.** The runs that finished stay above."

        exp_stop.click(stop_explore, None, [exp_status], cancels=[exp_event], queue=False,
                       api_visibility="private")
        exp_mode.input(service.explore_defaults, [exp_mode], [exp_vary, exp_values],
                       api_visibility="private")
        exp_vary.input(service.vary_example, [exp_vary], [exp_values],
                       api_visibility="private")
        # The mask painters show the content image to paint on.
        content.change(lambda v: [service.mask_canvas(v)] * n, [content], mask_paints,
                       api_visibility="private", queue=False)

        def api_stylize(content_path, style_files, settings_json):
            """Stylize `content_path` with the style files (blend weights and everything else
            in `settings_json`, a JSON object of nst_core Settings fields). Streams previews;
            the last output holds the result PNG with its settings embedded."""
            style_files = [getattr(f, "name", f) for f in (style_files or [])]
            try:
                settings = service.settings_from_json(settings_json, limits, len(style_files))
                content_img, style_list = service.load_inputs(content_path, style_files)
            except ValueError as exc:
                raise _user_error(exc) from None
            yield gr.skip(), gr.skip(), {"step": 0, "total": settings.steps, "done": False}
            try:
                for u in stylize_gpu(content_img, style_list, settings):
                    yield _or_skip(u.preview), _or_skip(u.png), u.progress
            except (ValueError, RuntimeError) as exc:
                raise _user_error(exc) from None

        api_btn.click(api_stylize, [api_content, api_styles, api_settings],
                      [api_preview, api_result, api_progress], api_name="stylize",
                      **job_queue)

    demo.queue(max_size=limits.max_queue, default_concurrency_limit=limits.concurrency)
    return demo


# Small results (a 128 px preview, a grid of small cells) are shown scaled up to the box
# instead of as a thumbnail.
CSS = ("#result img, #exp_grid img { width: 100%; height: 100%; object-fit: contain; }")


def launch_kwargs(limits: service.Limits) -> dict[str, Any]:
    """Arguments of ``demo.launch`` that belong to the app (Gradio 6 takes css at launch)."""
    return {"max_file_size": limits.max_upload, "css": CSS}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Neural style transfer studio (Gradio app)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (env GRADIO_SERVER_NAME; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                        help="port (env GRADIO_SERVER_PORT)")
    parser.add_argument("--share", action="store_true",
                        default=_truthy(os.environ.get("NST_SHARE")),
                        help="also open a public gradio.live link (env NST_SHARE=1)")
    args = parser.parse_args(argv)
    try:
        limits = service.Limits.from_env()
    except ValueError as exc:
        parser.error(str(exc))
    demo = build_demo(limits)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                **launch_kwargs(limits))


if __name__ == "__main__":
    main()
