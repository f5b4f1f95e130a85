"""The named ``/stylize`` endpoint: a content image, style files and a JSON object of Settings
fields in; previews, the result PNG (settings embedded) and progress records out."""
from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import gradio as gr
from gradio_client import handle_file

from nst_studio.web import inputs, streams
from nst_studio.web import settings_io
from nst_studio.web.jobs import on_gpu
from nst_studio.web.limits import Limits

from . import examples
from .common import Job, serve, upload_image


# The API page's example call: example images by the URL this server serves them at, and the
# default settings, so the example runs as copied from any folder and machine that reaches the
# server. (The page writes a string example between double quotes without escaping: "{}" is
# the one JSON object that survives that.)
EXAMPLE_CONTENT = "astronaut.png"
EXAMPLE_STYLE = "starry_night.jpg"
EXAMPLE_SETTINGS = "{}"
FILE_ROUTE = "gradio_api/file="
DESCRIPTION = (
    "Stylize a content image with one or more style images; streams previews and progress, "
    "and the last output holds the result PNG with its settings embedded. content_path: the "
    "content image, a local path or an http(s) URL (PNG, JPEG, WebP, TIFF or BMP). "
    "style_files: one or more style images (blended by style_blend_weights, equal when not "
    "given). settings_text: a JSON object of settings, e.g. '{\"size\": 256, \"steps\": 100, "
    "\"style_weight\": 1000}', or '{}' for this server's defaults; unknown fields and values "
    "over this server's limits are refused with a message naming them. The example's images "
    "are this server's own examples, by URL.")


def served_root(demo: Any) -> str:
    """This server's address as a visitor reaches it: the Space's public host on a Hugging
    Face Space (SPACE_HOST), else the address ``demo`` was launched at."""
    host = os.environ.get("SPACE_HOST")
    if host:
        return f"https://{host}/"
    return getattr(demo, "local_url", None) or "http://127.0.0.1:7860/"


def example_url(demo: Any, name: str) -> str:
    """The URL this server serves an example image at (examples/ is an allowed path)."""
    return f"{served_root(demo)}{FILE_ROUTE}{examples.EXAMPLES / name}"


def _own_example(url: str) -> Path | None:
    """The local file an example URL of this server names (whatever host it was reached by),
    or None: such a URL is read from disk, not fetched (Gradio refuses to fetch from a
    private address, this server's own included)."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    _, sep, rest = path.partition("/" + FILE_ROUTE)
    if not sep:
        return None
    local = Path(rest).resolve()
    folder = examples.EXAMPLES.resolve()
    return local if local.is_relative_to(folder) and local.is_file() else None


def _reads_own_examples(component: Any) -> Any:
    """``component`` taking this server's example URLs from disk (see :func:`_own_example`)."""
    move = component.async_move_resource_to_block_cache

    async def moved(url_or_file_path: Any) -> Any:
        if isinstance(url_or_file_path, str) and url_or_file_path.startswith("http"):
            local = _own_example(url_or_file_path)
            if local is not None:
                url_or_file_path = str(local)
        return await move(url_or_file_path)

    component.async_move_resource_to_block_cache = moved
    return component


def _example(component: gr.components.Component, value: Callable[[], Any]
             ) -> gr.components.Component:
    """The component with ``value()`` as its example on the API page (Gradio's own examples
    are files on the internet and "Hello!!", which the endpoint refuses); made when the page
    asks, once the server knows its address."""
    component.example_payload = value
    component.example_value = value
    return component


def build(limits: Limits, job_queue: dict) -> None:
    """Hidden components behind the endpoint, and the endpoint itself."""
    demo = gr.context.Context.root_block  # the page being built; launched later
    with gr.Row(visible=False):
        content = _example(_reads_own_examples(upload_image(
            "content image", "content image", elem_id="api_content")),
            lambda: handle_file(example_url(demo, EXAMPLE_CONTENT)))
        styles = _example(_reads_own_examples(gr.File(file_count="multiple",
                                                      label="style images")),
                          lambda: [handle_file(example_url(demo, EXAMPLE_STYLE))])
        settings_json = _example(gr.Textbox(label="settings (a JSON object)"),
                                 lambda: EXAMPLE_SETTINGS)
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
