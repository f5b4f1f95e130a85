"""The Gradio app through a real client: app.build_demo() launched in-process on 127.0.0.1 and
driven with gradio_client, as an API user (or the page) would."""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import app  # noqa: E402
from nst_core.imaging import images  # noqa: E402
from nst_core.methods import method_label  # noqa: E402
from nst_studio.web import forms  # noqa: E402
from nst_studio.web.jobs import JOBS  # noqa: E402
from nst_studio.web.limits import Limits  # noqa: E402
from nst_core.methods import available_methods  # noqa: E402
from conftest import ROOT, free_port, server_fixture, submit_stylize  # noqa: E402

LIMITS = Limits(max_steps=500, max_size=256, default_size=32, default_steps=4,
                        max_upload="2mb", max_queue=8)


server = server_fixture(LIMITS)


def wait(predicate, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


@functools.lru_cache(maxsize=None)
def event_inputs(api_name: str) -> tuple[str | None, ...]:
    """The elem_ids of a page event's inputs in the order its API takes them (the handlers
    read them by name; the HTTP API lists them in the order the page creates them)."""
    config = app.build_demo(LIMITS).config
    ids = next(d["inputs"] for d in config["dependencies"] if d.get("api_name") == api_name)
    components = {c["id"]: c for c in config["components"]}
    return tuple(components[i]["props"].get("elem_id") for i in ids
                 if components[i]["type"] != "state")


def page_args(api_name: str, **changes):
    """Positional inputs of the page's Run, Compare or Explore event: content, style slots,
    their blend weights, (Run and Explore) uploaded masks, every form field (keyword names as
    in controls.form_names), and the tab's own inputs."""
    values = forms.default_values(LIMITS)
    content = changes.pop("content", ROOT / "examples" / "astronaut.png")
    styles = changes.pop("styles", [ROOT / "examples" / "starry_night.jpg"])
    weights = changes.pop("weights", [])
    masks = changes.pop("masks", [])
    values.update(changes)
    values["content"] = None if content is None else handle_file(str(content))
    for i in range(LIMITS.max_styles):
        slot = "style" if i == 0 else f"style_{i + 1}"
        values[slot] = handle_file(str(styles[i])) if i < len(styles) else None
        values[f"style_weight_{i + 1}"] = weights[i] if i < len(weights) else 1.0
        values[f"mask_{i + 1}"] = handle_file(str(masks[i])) \
            if i < len(masks) and masks[i] is not None else None
    return [values.get(name) for name in event_inputs(api_name)]


def ui_args(**changes):
    """The Run event's inputs (see page_args)."""
    return page_args("run", **changes)


def test_small_run_streams_previews_and_returns_the_final_image(client, content_path, style_path):
    job = submit_stylize(client, content_path, [style_path],
                         '{"size": 32, "steps": 6, "preview_every": 2, "seed": 4}')
    preview, result_png, progress = job.result()
    previews = [out[0] for out in job.outputs() if isinstance(out[0], str)]
    assert len(previews) >= 5  # steps 0, 1 (the first step's), 2, 4 and the result
    assert all(Image.open(p).size == (32, 32) for p in previews)
    assert progress["done"] and progress["step"] == 6
    result = Image.open(result_png)
    assert result.format == "PNG" and result.size == (32, 32)
    meta = images.read_png_settings(result_png)
    assert meta["settings"]["steps"] == 6 and meta["settings"]["seed"] == 4
    assert meta["losses"]["total"] == pytest.approx(progress["losses"]["total"], rel=1e-6)
    # Every streamed progress record is there, one per step.
    # The first output is sent before any work (so the job can be cancelled at once), then one
    # per step, then the result.
    steps = [out[2]["step"] for out in job.outputs()]
    assert steps == [0, 0, 1, 2, 3, 4, 5, 6, 6]


def test_bad_uploads_give_clear_errors_and_the_server_keeps_serving(client, tmp_path,
                                                                    content_path, style_path):
    bad = tmp_path / "holiday.png"
    bad.write_bytes(b"this is a text file, not a picture")
    # A bad content image fails in the image component's upload handling ...
    with pytest.raises(AppError, match="content image: not an image file"):
        submit_stylize(client, bad, [style_path], '{"size": 32, "steps": 2}').result()
    # ... a bad style file in the app's own checks.
    with pytest.raises(AppError, match="style image: not an image file"):
        submit_stylize(client, content_path, [bad], '{"size": 32, "steps": 2}').result()
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(content_path.read_bytes()[:5000])
    with pytest.raises(AppError, match="corrupt or truncated"):
        submit_stylize(client, truncated, [style_path], '{"size": 32, "steps": 2}').result()
    with pytest.raises(AppError, match="over this server's limit of 500"):
        submit_stylize(client, content_path, [style_path], '{"steps": 5000}').result()
    # The server still serves the next request.
    _, result_png, progress = submit_stylize(client, content_path, [style_path],
                                             '{"size": 32, "steps": 2}').result()
    assert progress["done"] and Image.open(result_png).size == (32, 32)


def test_upload_over_the_size_cap_is_refused(server, client, tmp_path, style_path):
    import httpx

    big = tmp_path / "big.png"
    Image.effect_noise((1100, 1100), 64).convert("RGB").save(big)  # ~3.6 MB of noise
    assert big.stat().st_size > LIMITS.max_upload_bytes
    # gradio_client reads the cap from the app's config and refuses before uploading ...
    with pytest.raises(ValueError, match="exceeds the maximum file size of 2097152 bytes"):
        submit_stylize(client, big, [style_path], '{"size": 32, "steps": 2}').result()
    # ... and the server itself refuses a direct upload.
    with open(big, "rb") as fh:
        response = httpx.post(f"{server.rstrip('/')}/gradio_api/upload",
                              files={"files": ("big.png", fh, "image/png")}, timeout=30)
    assert response.status_code == 413


def test_cancel_stops_the_worker_and_the_next_job_starts_promptly(client, content_path,
                                                                  style_path):
    job = submit_stylize(client, content_path, [style_path],
                         '{"size": 32, "steps": 500, "preview_every": 1}')
    wait(lambda: len(job.outputs()) >= 4, 60, "the first steps")
    record = JOBS.recent()[-1]
    assert record.state == "running" and record.total == 500
    job.cancel()
    wait(lambda: job.status().code.name == "CANCELLED", 10, "the cancel")
    # The worker finishes at most the step it was in, then stops for good.
    wait(lambda: not record.in_step, 5, "the step in progress to end")
    step = record.step
    time.sleep(1.0)
    assert record.step == step < 500
    assert record.state == "closed"
    assert not JOBS.device_lock("cpu").locked()
    # The next job gets the device at once.
    start = time.monotonic()
    job2 = submit_stylize(client, content_path, [style_path], '{"size": 32, "steps": 3}')
    wait(lambda: any(isinstance(o[0], str) for o in job2.outputs()), 30, "the next job's preview")
    first_preview = time.monotonic() - start
    assert job2.result()[2]["done"]
    assert first_preview < 15, f"next job's first preview came after {first_preview:.1f} s"


def test_queue_runs_one_job_at_a_time_and_refuses_beyond_its_size(content_path, style_path):
    from gradio_client.utils import QueueError

    limits = dataclasses.replace(LIMITS, max_queue=1, concurrency=1)
    demo = app.build_demo(limits)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(),
                            prevent_thread_lock=True, quiet=True)
    try:
        clients = [Client(url, verbose=False) for _ in range(3)]
        long_job = '{"size": 32, "steps": 500}'
        running = submit_stylize(clients[0], content_path, [style_path], long_job)
        wait(lambda: len(running.outputs()) >= 2, 60, "the first job to run")
        waiting = submit_stylize(clients[1], content_path, [style_path], long_job)
        wait(lambda: waiting.status().code.name == "IN_QUEUE", 10, "the second job to queue")
        with pytest.raises(QueueError, match="Queue is full"):
            submit_stylize(clients[2], content_path, [style_path], long_job).result()
        assert running.status().code.name == "ITERATING"
        assert waiting.status().code.name == "IN_QUEUE"  # one job at a time
        running.cancel()
        wait(lambda: waiting.status().code.name == "ITERATING", 30, "the queued job to start")
        waiting.cancel()
    finally:
        demo.close()


def test_named_api_endpoint_takes_files_and_settings(client, content_path, style_path,
                                                     style2_path):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/stylize" in api
    assert [p["label"] for p in api["/stylize"]["parameters"]] == [
        "content image", "style images", "settings (a JSON object)"]
    job = submit_stylize(client, content_path, [style_path, style2_path],
                         '{"size": 40, "steps": 3, "optimizer": "adam", '
                         '"style_blend_weights": [3, 1], "preset_is_not_a_field": 1}')
    with pytest.raises(AppError, match="unknown setting"):
        job.result()
    job = submit_stylize(client, content_path, [style_path, style2_path],
                         '{"size": 40, "steps": 3, "optimizer": "adam", '
                         '"style_blend_weights": [3, 1]}')
    _, result_png, progress = job.result()
    meta = images.read_png_settings(result_png)
    assert meta["settings"]["style_blend_weights"] == [3, 1]
    assert meta["settings"]["optimizer"] == "adam" and meta["run"]["size"] == [40, 40]


def test_api_example_runs_and_bad_settings_are_one_line_refusals(server, client, tmp_path,
                                                                 monkeypatch, capfd, caplog):
    # The example the API page shows (files that ship with the app, "{}" settings), sent as
    # it stands from the app's folder.
    info = json.load(urllib.request.urlopen(server + "gradio_api/info"))
    example = {p["parameter_name"]: p["example_input"]
               for p in info["named_endpoints"]["/stylize"]["parameters"]}
    assert example["settings_text"] == "{}"
    assert "settings_text" in info["named_endpoints"]["/stylize"]["description"]
    monkeypatch.chdir(ROOT)
    preview, result_png, progress = client.predict(**example, api_name="/stylize")
    assert progress["done"] and images.read_png_settings(result_png)["settings"]["size"] == 32
    capfd.readouterr()
    pdf = tmp_path / "sample.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    for settings_text, style, message in [("Hello!!", example["style_files"][0]["path"],
                                           "not valid JSON"),
                                          ("{}", str(pdf), "not an image")]:
        with pytest.raises(AppError, match=message):
            client.predict(example["content_path"], [handle_file(style)], settings_text,
                           api_name="/stylize")
    logged = capfd.readouterr()
    assert "Traceback" not in logged.out + logged.err
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(refusals) == 2 and not any(r.exc_info for r in refusals)


def test_page_run_event_uses_every_form_field(client):
    job = client.submit(*ui_args(size=32, steps=3, method="adam:pixels",
                                 preset="fine-texture", style_layers=["relu1_1", "relu2_1"],
                                 seed=9, preview_every=1),
                        api_name="/run")
    image, status, plot, png, settings_json = job.result()
    assert "Done" in status and Image.open(image).size == (32, 32)
    meta = images.read_png_settings(png)
    s = meta["settings"]
    assert (s["optimizer"], s["param"], s["seed"]) == ("adam", "pixels", 9)
    assert s["style_layers"] == ["relu1_1", "relu2_1"]
    assert Path(settings_json).read_text().strip().startswith("{")
    previews = [o[0] for o in job.outputs() if isinstance(o[0], str)]
    assert len(previews) >= 3
    with pytest.raises(AppError, match="Steps must be a whole number|steps"):
        client.submit(*ui_args(steps=2.5), api_name="/run").result()


def test_compare_event_runs_each_method_with_the_same_budget(client):
    methods = [v for _, v in available_methods()][:2]
    job = client.submit(*page_args("compare", size=32, steps=3, preview_every=1,
                                   cmp_methods=methods, cmp_budget="steps", cmp_seconds=30),
                        api_name="/compare")
    gallery, status, plot, table, grid, curves, json_path = job.result()
    assert "Done" in status
    assert len(gallery) == len(methods)
    # The table is hidden until the comparison is done (no placeholder headers before).
    assert table.get("visible") is True
    table = table["value"]
    assert [row[0] for row in table["data"]] == [method_label(*m.split(":"))
                                                 for m in methods]
    assert table["headers"][:5] == ["Method", "Seconds", "Steps", "Score", "SSIM"]
    assert [row[2] for row in table["data"]] == ["3", "3"]
    # Numbers rounded to three significant digits, e.g. 4.94e+08, not 494385152.0.
    assert all(float(row[3]) == float(f"{float(row[3]):.3g}") for row in table["data"])
    assert Image.open(grid).width > 32 * len(methods)
    partial = [o[0] for o in job.outputs() if isinstance(o[0], list) and o[0]]
    assert len(partial) >= 3  # the gallery grows while the methods run


def test_compare_event_gives_each_method_the_same_time(client):
    methods = ["adam:pixels", "lbfgs:pyramid"]
    job = client.submit(*page_args("compare", size=32, steps=3, preview_every=2,
                                   cmp_methods=methods, cmp_budget="time", cmp_seconds=1),
                        api_name="/compare")
    gallery, status, plot, table, grid, curves, json_path = job.result()
    assert "1 s each" in status
    rows = {row[0]: row for row in table["value"]["data"]}
    for method in methods:
        seconds = float(rows[method_label(*method.split(":"))][1])
        assert 1.0 <= seconds < 3
    data = json.loads(open(json_path).read())
    # The clock ends the runs: the form's 3 steps were lifted to the server's largest budget.
    assert data["settings"]["time_budget"] == 1 and data["settings"]["steps"] == LIMITS.max_steps
    assert all(any("fixed_score" in p for p in data["histories"][m]) for m in methods)
    with pytest.raises(AppError, match="Seconds per method must be > 0"):
        client.submit(*page_args("compare", size=32, cmp_methods=methods, cmp_budget="time",
                                 cmp_seconds=0), api_name="/compare").result()


@pytest.mark.slow
def test_python_app_py_serves_offline(tmp_path):
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
               NST_MAX_STEPS="50", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port",
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        def up():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    return r.status == 200
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                return False
        wait(up, 90, "python app.py to serve")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as r:
            assert b'"maximum": 50' in r.read().replace(b'"maximum":50', b'"maximum": 50')
    finally:
        proc.terminate()
        proc.wait(timeout=30)


FAKE_ZERO_GPU = """
import sys
import torch
# Hugging Face's rule: spaces comes before anything that touches CUDA (ours, and gradio).
early = sorted(m for m in sys.modules if m.split(".")[0] in ("nst_core", "nst_studio", "gradio"))
assert not early, early
torch.cuda.is_available = lambda: True  # what ZeroGPU makes the page's process see


def GPU(task=None, duration=None):
    return task if task is not None else (lambda fn: fn)
"""


def test_a_zero_gpu_space_imports_spaces_first_and_gets_the_gpu_defaults(tmp_path):
    # A stand-in `spaces` package that fails if it is imported after our modules or gradio,
    # and reports a GPU the way ZeroGPU does in the page's process.
    package = tmp_path / "spaces"
    package.mkdir()
    (package / "__init__.py").write_text(FAKE_ZERO_GPU)
    (package / "config.py").write_text("class Config:\n    zero_gpu = True\n")
    code = ("import app; from nst_studio.web import defaults; from nst_core.estimate import "
            "ESTIMATOR; print(defaults.device_kind(), ESTIMATOR.probing)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    # The form starts from the GPU's defaults, and the page never probes the GPU itself.
    assert out.stdout.split() == ["cuda", "False"]


def test_bad_serving_environment_is_a_clear_exit(monkeypatch, capsys):
    monkeypatch.setenv("NST_MAX_STEPS", "lots")
    with pytest.raises(SystemExit) as exc:
        app.main(["--port", "1"])
    assert exc.value.code == 2
    assert "NST_MAX_STEPS must be a whole number" in capsys.readouterr().err


# ----------------------------------------------------------------------- masks, edges, multi-scale


def half_mask(path: Path, size=(32, 32), left=True) -> Path:
    """White on one half (that style applies there), black on the other."""
    mask = Image.new("L", size, 0)
    w, h = size
    mask.paste(255, (0, 0, w // 2, h) if left else (w // 2, 0, w, h))
    mask.save(path)
    return path


def test_masked_run_and_bad_masks(client, tmp_path):
    """A style placed by an uploaded mask; empty, misshapen and unreadable masks are refused
    with the engine's messages and the server keeps serving."""
    empty = tmp_path / "empty.png"
    Image.new("L", (32, 32), 0).save(empty)
    with pytest.raises(AppError, match="mask: the mask is empty"):
        client.submit(*ui_args(size=32, steps=2, masks=[empty]), api_name="/run").result()
    wide = half_mask(tmp_path / "wide.png", size=(64, 16))
    with pytest.raises(AppError, match="aspect ratio"):
        client.submit(*ui_args(size=32, steps=2, masks=[wide]), api_name="/run").result()
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a picture at all")
    with pytest.raises(AppError, match="mask 1: not an image file"):
        client.submit(*ui_args(size=32, steps=2, masks=[junk]), api_name="/run").result()
    # Two styles, one mask: every style needs one.
    style2 = ROOT / "examples" / "the_scream.jpg"
    with pytest.raises(AppError, match="style image 2 has no mask"):
        client.submit(*ui_args(size=32, steps=2, styles=[ROOT / "examples" /
                                                                "starry_night.jpg", style2],
                               masks=[half_mask(tmp_path / "m.png")]), api_name="/run").result()

    # The server still serves: a masked run (style on the left half only) returns an image.
    mask = half_mask(tmp_path / "left.png")
    job = client.submit(*ui_args(size=32, steps=4, seed=1, preview_every=2,
                                 style_weight_log10=4, masks=[mask]), api_name="/run")
    image, status, _, png, _ = job.result()
    assert "Done" in status and Image.open(image).size == (32, 32)
    content = images.load_image(ROOT / "examples" / "astronaut.png").resize((32, 32),
                                                                            Image.LANCZOS)
    change = np.abs(np.asarray(Image.open(png).convert("RGB"), np.float32)
                    - np.asarray(content, np.float32)).mean(axis=(0, 2))
    # Stylized where the mask is white; the unmasked half moves less (it feels only the content
    # loss and the masked half through VGG's receptive fields).
    assert change[:16].mean() > change[16:].mean()


def test_edge_and_multiscale_controls_reach_the_run(client):
    job = client.submit(*ui_args(size=64, steps=2, edge_preserve=True, edge_weight=0.0,
                                 edge_threshold=0.3, edge_blur=1.0, multiscale=True,
                                 min_size=32, style_loss="bn", preview_every=1),
                        api_name="/run")
    _, status, _, png, _ = job.result()
    s = images.read_png_settings(png)["settings"]
    assert (s["edge_weight"], s["edge_threshold"], s["edge_blur"]) == (0.0, 0.3, 1.0)
    assert s["multiscale"] is True and s["min_size"] == 32 and s["style_loss"] == "bn"
    # Two levels, 32 px (2 steps) then 64 px (2 // 4 -> 1 step), on one step count: the
    # previews continue across them.
    assert "Done:** 3/3 steps" in status
    sizes = [Image.open(o[0]).size for o in job.outputs() if isinstance(o[0], str)]
    assert sizes[0] == (32, 32) and sizes[-1] == (64, 64)


def explore_args(mode, vary, values, columns=0, **changes):
    return page_args("explore", exp_mode=mode, exp_vary=vary, exp_values=values,
                     exp_columns=columns, **changes)


def test_explore_streams_cells_and_returns_a_labelled_grid(client):
    job = client.submit(*explore_args("stylize", "style_weight", "1; 1e4", size=32, steps=3,
                                      preview_every=1), api_name="/explore")
    gallery, status, grid, grid_png = job.result()
    assert "Done" in status and len(gallery) == 2
    assert [g["caption"] for g in gallery] == ["1", "10000"]
    # Cells show while they run: a running preview, then the first cell alone, then both.
    counts = [len(o[0]) for o in job.outputs() if isinstance(o[0], list)]
    assert 1 in counts and counts[-1] == 2
    assert Image.open(grid).width >= 2 * 32 and Image.open(grid).height > 32
    meta = images.read_png_settings(grid_png)
    assert [c["label"] for c in meta["sweep"]["cells"]] == ["style_weight=1",
                                                            "style_weight=10000"]
    # Texture synthesis needs no content image; a bad value names the cell.
    job = client.submit(*explore_args("texture", "style_layers", "relu1_1", content=None,
                                      size=32, steps=2), api_name="/explore")
    assert "Done" in job.result()[1]
    with pytest.raises(AppError, match="style_loss=nope: unknown style loss"):
        client.submit(*explore_args("stylize", "style_loss", "gram; nope", size=32, steps=2),
                      api_name="/explore").result()
    with pytest.raises(AppError, match="weights is not in the list of choices"):
        client.submit(*explore_args("stylize", "weights", "x", size=32, steps=2),
                      api_name="/explore").result()


def test_explore_stop_ends_the_sweep(client):
    job = client.submit(*explore_args("stylize", "style_weight", "1; 100", size=32, steps=500,
                                      preview_every=1), api_name="/explore")
    wait(lambda: len(job.outputs()) >= 3, 60, "the sweep's first steps")
    record = JOBS.recent()[-1]
    assert record.kind == "explore" and record.state == "running"
    job.cancel()
    wait(lambda: job.status().code.name == "CANCELLED", 10, "the cancel")
    wait(lambda: record.state != "running", 5, "the sweep to end")
    assert record.state == "closed" and not JOBS.device_lock("cpu").locked()
