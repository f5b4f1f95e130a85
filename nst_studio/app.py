"""Neural style transfer studio: the Gradio app. This module only assembles the page from its
parts in ``nst_studio.ui`` (the images-and-settings column, one module per tab, the API endpoint);
everything the app runs lives in ``nst_studio.web``.

    nst-studio [--host 0.0.0.0] [--port 7860] [--share]     (or python app.py in a checkout)

``build_demo()`` builds the Blocks without launching (tests and Hugging Face Spaces import it).
Serving limits come from environment variables (see ``nst_studio.web.limits.Limits``).
"""
from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import time
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

# Hugging Face's `spaces` (ZeroGPU) must be imported before anything touches torch.cuda: on a
# ZeroGPU Space it makes this process see the GPU that it lends to jobs, so the form starts from
# the GPU's defaults (nst_studio.web.defaults). Elsewhere it is absent or changes nothing.
try:
    import spaces  # noqa: F401
except ImportError:
    spaces = None

import gradio as gr  # noqa: E402

from nst_core.estimate import ESTIMATOR  # noqa: E402
from nst_core.settings import Settings  # noqa: E402
from nst_studio.web import disk  # noqa: E402
from nst_studio.web.jobs import JOBS, zero_gpu  # noqa: E402
from nst_studio.web.limits import Limits  # noqa: E402
from nst_studio.ui import (api, compare_tab, estimate, examples, explore_tab, links,  # noqa: E402
                           panel, stylize_tab)

INTRO = """# Neural style transfer studio
Repaints a photo in the style of a painting (Gatys et al.'s method on the original VGG19). An
example pair is loaded: press **Run**, or pick another pair under the images, or upload your own.
Previews show as it goes; **Stop** keeps the image as it is. **Compare** (the tab beside
Stylize) runs several methods (what is optimized: pixels, Fourier coefficients, a Laplacian
pyramid, a Deep Image Prior generator, brushstrokes, a CPPN) on the same pair and budget, and
ranks them with one fixed score."""
# The example images' sources and licences (public domain / CC0), served from examples/ (an
# allowed path, see launch_kwargs); a relative link, so it works under a proxy's root too.
LICENCES = (f"Example images: [sources and licences](gradio_api/file={examples.EXAMPLES}/README.md)"
            " (public domain / CC0).")
# Small results (a 128 px preview, a grid of small cells) are shown scaled up to the box
# instead of as a thumbnail. The run column stays in view while the settings column scrolls, and
# the tables wrap rather than scroll sideways.
# The example pairs in one line of small thumbnails (a pair per table row, side by side), so the
# settings stay on the first screen. Help text under each setting: Gradio's default light grey (#bbbbc2, 1.9:1 on white) is below
# WCAG 2.1 AA's 4.5:1 for text; #4b5563 on white is 7.6:1. On a narrow screen (the columns
# stacked) the run column comes first: Run, the estimate and the result before the settings.
CSS = ("#result img, #exp_grid img, #pair_before img, #pair_last img "
       "{ width: 100%; height: 100%; object-fit: contain; }\n"
       "#run_column { position: sticky; top: 8px; align-self: flex-start; }\n"
       "#cmp_table table { table-layout: auto; }\n"
       "#examples thead { display: none; }\n"
       "#examples tbody { display: flex; flex-wrap: wrap; gap: 6px; }\n"
       "#examples tr { display: flex; gap: 2px; }\n"
       "#examples td { padding: 2px; }\n"
       "#examples td .container, #examples td img { width: 44px !important; "
       "height: 44px !important; }\n"
       ".info-text { color: #4b5563 !important; font-size: 13px !important; }\n"
       ".dark .info-text { color: #d1d5db !important; }\n"
       "@media (max-width: 768px) { #main_row { flex-direction: column-reverse; }\n"
       "  #run_column { position: static; } }")
# Gradio deletes its cached uploads and previews older than an hour, every 10 minutes.
DELETE_CACHE = (600, 3600)
# On ZeroGPU this process must run nothing on the GPU (it has one only inside jobs): the
# estimates next to Run are learnt from finished jobs instead of probed.
ESTIMATOR.probing = not zero_gpu()
# Sessions whose state Gradio keeps in memory (the oldest is dropped beyond; Gradio's default
# is 10,000). A session keeps its last job's state, its gallery's entries and every component
# an event rebuilt for it; an API client's every call is a session too.
SESSIONS_KEPT = 1000
# Seconds a stopping server gives its running jobs to end and tell their clients (a stop lands
# within a convolution; the rest is Gradio sending the message).
SHUTDOWN_WAIT = 5.0


def build_demo(limits: Limits | None = None, cls: type = Settings) -> gr.Blocks:
    """The page: the images and settings on the left, the Stylize, Compare and Explore tabs on
    the right, and the /stylize API. ``cls`` is the settings class the form is built for."""
    limits = limits or Limits.from_env()
    # Jobs of every tab share one device: they queue together.
    job_queue = dict(concurrency_limit=limits.concurrency, concurrency_id="device")
    with gr.Blocks(title="Neural style transfer studio", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(INTRO + (" " + LICENCES if (examples.EXAMPLES / "README.md").is_file()
                             else ""), elem_id="intro")
        link_message = links.message_box()
        # Two columns: images and settings on the left; Run, Stop and the result on the right.
        with gr.Row(equal_height=False, elem_id="main_row"):
            with gr.Column(scale=5, elem_id="settings_column"):
                left = panel.build(limits, cls)
            with gr.Column(scale=6, elem_id="run_column"):
                with gr.Tabs() as tabs:
                    copies = [stylize_tab.build(left, limits, job_queue),
                              compare_tab.build(left, limits, job_queue)]
                    explore_tab.build(left, limits, job_queue)
        _method_per_tab(tabs, left)
        api.build(limits, job_queue)
        links.wire_load(demo, left, link_message, copies)
    demo.queue(max_size=limits.max_queue, default_concurrency_limit=limits.concurrency)
    return demo


def _method_per_tab(tabs: gr.Tabs, left: panel.Panel) -> None:
    """The Method dropdown shows only where it is used: Compare runs its own list of methods."""
    method = left.form.get("method")
    if method is None:
        return
    for tab in tabs.children:
        shown = getattr(tab, "id", None) != "compare"
        tab.select(lambda shown=shown: gr.Dropdown(visible=shown), None, method,
                   queue=False, api_visibility="private", show_progress="hidden")


def launch_kwargs(limits: Limits) -> dict[str, Any]:
    """Arguments of ``demo.launch`` that belong to the app (Gradio 6 takes css at launch). A
    link's example images are handed out from ``examples/`` wherever the server was started.
    ``show_error``: the refusals Gradio makes itself before a handler runs (a raw API call
    naming a file that was never uploaded, a malformed file payload) reach the caller with
    their message instead of none; the app's own refusals and failures carry theirs anyway.
    ``state_session_capacity``: see SESSIONS_KEPT."""
    return {"max_file_size": limits.max_upload, "css": CSS, "allowed_paths": [str(examples.EXAMPLES)],
            "show_error": True, "state_session_capacity": SESSIONS_KEPT}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def own_disk() -> None:
    """Keep this server's files in its own folder (see nst_studio.web.disk), Gradio's cache
    included unless GRADIO_TEMP_DIR names another; remove the folders of servers that are
    gone now, and this one's at exit (SIGTERM included)."""
    disk.remove_dead()
    if not os.environ.get("GRADIO_TEMP_DIR"):
        os.environ["GRADIO_TEMP_DIR"] = str(disk.process_dir() / "gradio")
    atexit.register(disk.remove_own)
    # SIGTERM ends the process without atexit handlers unless it becomes an exit.
    signal.signal(signal.SIGTERM, lambda *_: shut_down())


def shut_down(wait: float = SHUTDOWN_WAIT) -> None:
    """Stop the running jobs, so each ends with a message saying why (a client whose server
    vanished mid-job only sees its connection drop), give Gradio up to ``wait`` seconds to
    send it, then exit."""
    JOBS.stop_all("shutdown")
    deadline = time.monotonic() + wait
    while JOBS.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))  # the messages go out
    sys.exit(128 + signal.SIGTERM)


def kept_files(demo: gr.Blocks) -> set[str]:
    """Files Gradio keeps in its cache for the page itself (examples, starting values)."""
    return {str(p) for block in demo.blocks.values()
            for p in getattr(block, "keep_in_cache", ())}


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
        limits = Limits.from_env()
    except ValueError as exc:
        parser.error(str(exc))
    own_disk()
    demo = build_demo(limits)
    disk.start_janitor(limits.max_disk_mb * 1024 ** 2, keep=lambda: kept_files(demo))
    estimate.warm_up()  # the estimate next to Run is measured on this machine
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                **launch_kwargs(limits))


if __name__ == "__main__":
    main()
