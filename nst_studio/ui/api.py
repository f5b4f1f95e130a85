"""The named ``/stylize`` endpoint: a content image, style files and a JSON object of Settings
fields in; previews, the result PNG (settings embedded) and progress records out."""
from __future__ import annotations

from typing import Any, AsyncIterator

import gradio as gr
from gradio_client import handle_file

from nst_studio.web import inputs, streams
from nst_studio.web import settings_io
from nst_studio.web.jobs import on_gpu
from nst_studio.web.limits import Limits

from .common import Job, serve, upload_image


# The API page's example call: images that ship with the app (paths from the repository root,
# where `python app.py` runs) and the default settings, so the example runs as copied. (The page
# writes a string example between double quotes without escaping: "{}" is the one JSON object
# that survives that.)
EXAMPLE_CONTENT = "examples/astronaut.png"
EXAMPLE_STYLE = "examples/starry_night.jpg"
EXAMPLE_SETTINGS = "{}"
DESCRIPTION = (
    "Stylize a content image with one or more style images; streams previews and progress, "
    "and the last output holds the result PNG with its settings embedded. content_path: the "
    "content image, a local path or an http(s) URL (PNG, JPEG, WebP, TIFF or BMP). "
    "style_files: one or more style images (blended by style_blend_weights, equal when not "
    "given). settings_text: a JSON object of settings, e.g. '{\"size\": 256, \"steps\": 100, "
    "\"style_weight\": 1000}', or '{}' for this server's defaults; unknown fields and values "
    "over this server's limits are refused with a message naming them. The example runs from "
    "the app's folder, where examples/ is.")


def _example(component: gr.components.Component, value: Any) -> gr.components.Component:
    """The component with ``value`` as its example on the API page (Gradio's own examples are
    files on the internet and "Hello!!", which the endpoint refuses)."""
    component.example_payload = lambda: value
    component.example_value = lambda: value
    return component


def build(limits: Limits, job_queue: dict) -> None:
    """Hidden components behind the endpoint, and the endpoint itself."""
    with gr.Row(visible=False):
        content = _example(upload_image("content image", "content image",
                                         elem_id="api_content"),
                           handle_file(EXAMPLE_CONTENT))
        styles = _example(gr.File(file_count="multiple", label="style images"),
                          [handle_file(EXAMPLE_STYLE)])
        settings_json = _example(gr.Textbox(label="settings (a JSON object)"), EXAMPLE_SETTINGS)
        preview = gr.Image(type="pil", format="png", label="preview")
        result = gr.File(label="result_png")
        progress = gr.JSON(label="progress")
        button = gr.Button()
    # The API shows no plot: its updates go out as the job made them.
    updates = on_gpu(streams.stylize_job, limits.stylize_duration)

    def check(content_path: str | None, style_files: list[Any] | None,
              settings_text: str | None) -> Job:
        paths = [getattr(f, "name", f) for f in (style_files or [])]
        settings = settings_io.settings_from_json(settings_text, limits, len(paths))
        read = inputs.load_inputs(content_path, paths)
        # None where a record has no new preview or no result yet (not gr.skip(): see
        # common.serve), so every record carries its progress.
        first = (None, None, {"step": 0, "total": settings.steps, "done": False})
        return Job(first, lambda key: updates(read, settings, stop_key=key),
                   lambda u: (u.preview, u.png, u.progress))

    async def api_stylize(content_path: str | None, style_files: list[Any] | None,
                          settings_text: str | None, request: gr.Request
                          ) -> AsyncIterator[tuple]:
        """Stylize a content image with one or more style images (see DESCRIPTION).

        Args:
            content_path: the content image, a local path or an http(s) URL.
            style_files: one or more style images.
            settings_text: a JSON object of settings fields ("{}": the defaults).
        """
        async for shown in serve(request, "api", lambda: check(content_path, style_files,
                                                               settings_text)):
            yield shown

    button.click(api_stylize, [content, styles, settings_json], [preview, result, progress],
                 api_name="stylize", api_description=DESCRIPTION, **job_queue)
