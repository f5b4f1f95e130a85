"""The named ``/stylize`` endpoint: a content image, style files and a JSON object of Settings
fields in; previews, the result PNG (settings embedded) and progress records out."""
from __future__ import annotations

from typing import Any, Iterator

import gradio as gr

from nst_core.web import forms, inputs, streams
from nst_core.web.jobs import on_gpu
from nst_core.web.limits import Limits

from .common import stream, upload_image, user_error


def build(limits: Limits, job_queue: dict) -> None:
    """Hidden components behind the endpoint, and the endpoint itself."""
    with gr.Row(visible=False):
        content = upload_image("content", "content image")
        styles = gr.File(file_count="multiple", label="styles")
        settings_json = gr.Textbox(label="settings_json")
        preview = gr.Image(type="pil", format="png", label="preview")
        result = gr.File(label="result_png")
        progress = gr.JSON(label="progress")
        button = gr.Button()
    updates = on_gpu(streams.stylize_updates, limits.stylize_duration)

    def api_stylize(content_path: str | None, style_files: list[Any] | None,
                    settings_text: str | None) -> Iterator[tuple]:
        """Stylize `content_path` with the style files (blend weights and everything else
        in `settings_text`, a JSON object of nst_core Settings fields). Streams previews;
        the last output holds the result PNG with its settings embedded."""
        paths = [getattr(f, "name", f) for f in (style_files or [])]
        try:
            settings = forms.settings_from_json(settings_text, limits, len(paths))
            read = inputs.load_inputs(content_path, paths)
        except ValueError as exc:
            raise user_error(exc) from None
        first = (gr.skip(), gr.skip(), {"step": 0, "total": settings.steps, "done": False})
        yield from stream(first, lambda: updates(read, settings),
                          lambda u: (u.preview if u.preview is not None else gr.skip(),
                                     u.png if u.png is not None else gr.skip(), u.progress))

    button.click(api_stylize, [content, styles, settings_json], [preview, result, progress],
                 api_name="stylize", **job_queue)
