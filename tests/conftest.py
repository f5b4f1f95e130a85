"""Shared fixtures: small real images from examples/ and the real VGG19 (loaded once)."""
from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"  # the benchmarks; bench/common.py holds helpers the tests share
EXAMPLES = ROOT / "examples"
CONTENT = EXAMPLES / "astronaut.png"
STYLE = EXAMPLES / "starry_night.jpg"
STYLE2 = EXAMPLES / "the_scream.jpg"

# The browser tests drive Debian's chromium (never a downloaded browser: offline here).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# A visitor's first preview (the start image) comes within 5 s of Run; browser tests multiply
# their time bounds by load_factor() (a shared machine runs several test suites at once).
FIRST_PREVIEW_SECONDS = 5.0


def load_factor() -> float:
    """How oversubscribed the CPU is: the load average per core, at least 1."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is missing (.ci/run installs it with "
                              "`apt-get install -y chromium fonts-liberation`)"),
]


@pytest.fixture(scope="session")
def content_path() -> Path:
    return CONTENT


@pytest.fixture(scope="session")
def style_path() -> Path:
    return STYLE


@pytest.fixture(scope="session")
def style2_path() -> Path:
    return STYLE2


@pytest.fixture(scope="session")
def vgg():
    from nst_core.imaging.vgg import get_vgg

    return get_vgg()


def assert_closes_promptly(gen, limit: float) -> None:
    """Closing a running generator returns within ``limit`` seconds and leaves it exhausted."""
    start = time.perf_counter()
    gen.close()
    assert time.perf_counter() - start < limit
    with pytest.raises(StopIteration):
        next(gen)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(limits):
    """The app built with ``limits``, served in-process on a free local port, as ``python
    app.py`` serves it once started (this machine's estimate calibrated): yields its URL."""
    import app
    from nst_studio.ui import estimate

    calibrating = estimate.warm_up()  # what app.main starts; measured once per process
    if calibrating is not None:
        calibrating.join()
    demo = app.build_demo(limits)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(),
                            prevent_thread_lock=True, quiet=True, **app.launch_kwargs(limits))
    try:
        yield url
    finally:
        demo.close()


def server_fixture(limits):
    """A module's ``server`` fixture: the app served with ``limits`` for the module's tests
    (see :func:`serving`; yields its URL). Use: ``server = server_fixture(LIMITS)``."""

    @pytest.fixture(scope="module")
    def server():
        with serving(limits) as url:
            yield url

    return server


@pytest.fixture()
def client(server):
    """A gradio_client for the module's ``server``; one per test: a cancel is scoped to a
    client's session."""
    from gradio_client import Client

    return Client(server, verbose=False)


def submit_stylize(client, content, styles, settings_json):
    """A ``/stylize`` API job for these files and settings (JSON text), submitted."""
    from gradio_client import handle_file

    return client.submit(handle_file(str(content)), [handle_file(str(s)) for s in styles],
                         settings_json, api_name="/stylize")


@contextlib.contextmanager
def chromium():
    """Debian's chromium, headless, launched through Playwright; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def objective_values(monkeypatch) -> list[list[float]]:
    """What each optimizer the engine makes gets back from its closure, step by step: one list
    per optimizer (per tile or level), filled as the run goes."""
    from nst_core.engine import loop as engine

    seen: list[list[float]] = []
    make = engine.make_optimizer

    def recording(name, params, lr):
        optimizer = make(name, params, lr)
        values: list[float] = []
        seen.append(values)
        step = optimizer.step
        optimizer.step = lambda closure: step(
            lambda: values.append(float(closure().detach())) or values[-1])
        return optimizer

    monkeypatch.setattr(engine, "make_optimizer", recording)
    return seen


@pytest.fixture(autouse=True)
def short_dip_warm_up(monkeypatch):
    """The default DIP warm-up (300 Adam steps) is a product constant chosen at 128-256 px; the
    tests' 32-64 px runs need only that a warm-up happens (the ones about its effect compare
    with a cold start, and tests of the default count patch it themselves). It saved about two
    minutes of the suite."""
    from nst_core.params import dip

    monkeypatch.setattr(dip, "WARMUP_STEPS", 30)


@pytest.fixture(autouse=True)
def fresh_warm_ups():
    """Each test warms up on its own: a warm-up another test finished is not taken over
    (nst_core.params.warm_cache), unless the test makes it itself."""
    from nst_core.params import warm_cache

    warm_cache.clear()
    yield
    warm_cache.clear()


ODD = (1, 3, 37, 53)  # divisible by no power of 2: DIP must pad and crop


def target_image(content_path, shape):
    """The image at ``shape``'s size as a 1x3xHxW tensor in [0, 1]."""
    from nst_core.imaging import images

    img = images.load_image(content_path).resize((shape[-1], shape[-2]))
    return images.to_tensor(img)


def tensor_at(path, size):
    """The image at ``path`` fitted to ``size`` px (its longer side) as a 1x3xHxW tensor."""
    from nst_core.imaging import images

    img = images.load_image(path)
    return images.to_tensor(images.resize(img, images.fit_size(*img.size, size)))


def _tiny():
    from nst_core.settings import Settings

    return Settings(size=48, steps=8, preview_every=0)


TINY = _tiny()  # a run small enough for a test of a technique


def _form_limits():
    from nst_studio.web.limits import Limits

    return Limits(max_steps=500, max_size=256, default_size=32, default_steps=4)


FORM_LIMITS = _form_limits()  # a server's limits for the form tests


def form(**changes):
    """The form's starting values under FORM_LIMITS, with ``changes`` applied."""
    from nst_studio.web import forms

    values = forms.default_values(FORM_LIMITS)
    values.update(changes)
    return values


def _form_extended():
    import dataclasses

    from nst_core.settings import Settings, setting

    @dataclasses.dataclass(frozen=True)
    class Extended(Settings):
        """A setting added the way every setting is: one field with its description."""

        sharpness: float = setting(0.5, label="Sharpness", help="how crisp the strokes are",
                                   group="images", minimum=0.0, maximum=2.0)

    return Extended


FormExtended = _form_extended()  # Settings with one more field, for the form and page tests


def half_masks(size=64):
    """Two masks: the left half white, and the right half."""
    import numpy as np
    from PIL import Image

    left = np.zeros((size, size), np.uint8)
    left[:, : size // 2] = 255
    return Image.fromarray(left), Image.fromarray(255 - left)

