"""End to end in a real headless browser: Debian's chromium driven by Playwright's Python client
(never `playwright install`: it downloads a browser, which fails offline). Uploads two images,
runs, watches the preview change, stops, checks the result, and saves the README screenshot."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is missing (.ci/run installs it with "
                              "`apt-get install -y chromium fonts-liberation`)"),
]
playwright_sync = pytest.importorskip("playwright.sync_api")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from nst_core import images  # noqa: E402
from nst_core.web import inputs  # noqa: E402
from nst_core.web.jobs import JOBS  # noqa: E402
from nst_core.web.limits import Limits  # noqa: E402
from conftest import serving  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "img" / "app.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def url():
    with serving(Limits(default_size=128, default_steps=300, max_queue=4)) as url:
        yield url


def test_upload_run_watch_previews_stop_and_screenshot(url, content_path, style_path, tmp_path,
                                                       monkeypatch):
    masks_seen = []
    collect = inputs.collect_masks

    def spy(*args):
        masks_seen.append(collect(*args))
        return masks_seen[-1]

    monkeypatch.setattr(inputs, "collect_masks", spy)

    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            outside = []
            page.on("request", lambda r: outside.append(r.url)
                    if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
            page.goto(url)
            # Previews every 2 steps (in the Advanced accordion), so they come quickly. Set
            # first and confirmed, so the value has reached the page's state before Run.
            page.get_by_text("Advanced").click()
            box = page.locator("#preview_every input[type=number]")
            box.wait_for(state="visible", timeout=10_000)
            box.fill("2")
            box.press("Tab")
            page.wait_for_function(
                "document.querySelector('#preview_every input[type=number]').value === '2'")
            page.set_input_files("#content input[type=file]", str(content_path))
            page.set_input_files("#style input[type=file]", str(style_path))
            page.wait_for_selector("#content img", timeout=20_000)
            page.wait_for_selector("#style img", timeout=20_000)
            assert box.input_value() == "2"

            page.click("#run")
            sources = []
            deadline = time.monotonic() + 90
            while len(set(sources)) < 3:
                assert time.monotonic() < deadline, f"previews did not change: {sources}"
                img = page.locator("#result img")
                if img.count():
                    src = img.first.get_attribute("src")
                    if src and (not sources or src != sources[-1]):
                        sources.append(src)
                time.sleep(0.1)
            page.wait_for_function(
                "document.querySelector('#status').innerText.includes('step')", timeout=10_000)
            running = page.inner_text("#status")
            assert "/300" in running and "ETA" in running

            job = JOBS.recent()[-1]
            assert job.state == "running"
            stopped_at = time.monotonic()
            page.click("#stop")
            # The worker ends inside the step it was in (its stop token is checked between
            # convolutions), not at the end of that step ("closed": the cancel found it between
            # two steps).
            while job.state == "running":
                assert time.monotonic() - stopped_at < 10, f"the job did not end: {job}"
                time.sleep(0.01)
            ended = time.monotonic() - stopped_at
            assert job.state in ("stopped", "closed"), job
            print(f"worker ended {ended:.3f} s after Stop ({job.state} at step {job.step})")
            assert ended < 2.0, f"the worker ran on for {ended:.2f} s after Stop"
            assert not JOBS.device_lock("cpu").locked()
            page.wait_for_function(
                "document.querySelector('#status').innerText.includes('Stopped')",
                timeout=10_000)
            assert time.monotonic() - stopped_at < 5
            # The last preview stays as the result, and it can be downloaded with its settings.
            assert page.locator("#result img").count() == 1
            link = page.locator("#png_file a").first
            link.wait_for(timeout=10_000)
            href = link.get_attribute("href")
            assert href and href.endswith(".png")
            page.wait_for_selector("#result .generating", state="detached", timeout=10_000)

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(SCREENSHOT))

            # "Reuse these settings" and "Load settings" put a result's settings back in the form.
            steps = page.locator("#steps input[type=number]")

            def set_steps(value: str) -> None:
                steps.fill(value)
                steps.press("Enter")
                page.wait_for_function(
                    f"document.querySelector('#steps input[type=number]').value === '{value}'")

            set_steps("7")
            page.click("#reuse")
            page.wait_for_function(
                "document.querySelector('#steps input[type=number]').value === '300'",
                timeout=10_000)
            saved = tmp_path / "result.png"
            saved.write_bytes(_download(url, href))
            set_steps("9")
            page.set_input_files("#settings_file input[type=file]", str(saved))
            page.wait_for_function(
                "document.querySelector('#steps input[type=number]').value === '300'",
                timeout=10_000)
            # A layer preset fills the layer fields.
            page.click("#preset input")
            page.get_by_role("option", name="fine-texture").click()
            page.wait_for_function(
                "!document.querySelector('#style_layers').innerText.includes('relu5_1')",
                timeout=10_000)
            assert "relu3_1" in page.inner_text("#style_layers")

            # Spatial control: a stroke painted on the content (shown in the mask painter) is
            # the mask of style 1, and a short masked run finishes.
            set_steps("3")
            page.get_by_text("Where each style applies").click()
            canvas = page.locator("#mask_paint_1 canvas").first
            canvas.wait_for(timeout=10_000)
            box = canvas.bounding_box()
            x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5
            page.mouse.move(x0, y0)
            page.mouse.down()
            for k in range(1, 11):
                page.mouse.move(x0 + 6 * k, y0 + 3 * k)
            page.mouse.up()
            page.click("#run")
            page.wait_for_function(
                "document.querySelector('#status').innerText.includes('Done')", timeout=60_000)
            painted = np.asarray(masks_seen[-1][0])
            assert painted.shape == (512, 512) and 0.001 < (painted > 0).mean() < 0.5

            # Explore: a two-value sweep shows its cells and the labelled grid.
            page.get_by_role("tab", name="Explore").click()
            page.fill("#exp_values textarea", "1; 1e4")
            page.click("#exp_run")
            page.wait_for_selector("#exp_grid img", timeout=60_000)
            assert "Done" in page.inner_text("#exp_status")
            assert page.locator("#exp_gallery img").count() >= 2
            assert not outside, f"the page fetched from outside 127.0.0.1: {outside[:3]}"
        finally:
            browser.close()

    shot = np.asarray(Image.open(SCREENSHOT).convert("RGB"), dtype=np.float32)
    assert shot.shape[:2] == (1000, 1440)
    assert shot.std() > 20, "screenshot is (nearly) blank"
    assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 1000, "screenshot has too few colours"
    # The downloaded result carries its settings and the step it stopped at.
    meta = images.read_png_settings(saved.read_bytes())
    assert meta["run"]["stopped"] is True and meta["settings"]["steps"] == 300
    assert meta["settings"]["size"] == 128 and meta["settings"]["preview_every"] == 2


def _download(base: str, href: str) -> bytes:
    import urllib.parse
    import urllib.request

    with urllib.request.urlopen(urllib.parse.urljoin(base, href), timeout=30) as r:
        return r.read()
