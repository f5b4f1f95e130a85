"""The demo as a new visitor meets it, in a real headless browser (Debian's chromium driven by
Playwright's Python client): a link with query parameters fills the form and the example images;
Run on the server's defaults shows a preview within seconds and Stop keeps the step reached;
"Copy link" writes a URL that opens the same form in a new page; a short run ends; the session
gallery keeps both runs of the visit, the stopped one marked."""
from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import (BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS,  # noqa: E402
                      FIRST_PREVIEW_SECONDS, load_factor)

pytestmark = BROWSER_MARKS
playwright_sync = pytest.importorskip("playwright.sync_api")

from nst_studio.web import defaults  # noqa: E402
from nst_studio.web.limits import Limits  # noqa: E402
from conftest import EXAMPLES, serving  # noqa: E402

PLAIN_PNG = EXAMPLES / "astronaut.png"
# The server's own starting values for this device (on a CPU the short coarse-to-fine run a
# visitor gets); the link sets a few settings of its own.
LIMITS = Limits(max_queue=4)
START = defaults.start_settings(LIMITS)
LINK = "?example=2&seed=7&preview_every=5&style_weight=1000&bogus=1"
FORM = {"steps": "#steps input[type=number]", "size": "#size input[type=number]",
        "seed": "#seed input", "preview_every": "#preview_every input[type=number]",
        "style_weight_log10": "#style_weight_log10 input[type=number]",
        "method": "#method input"}


@pytest.fixture(scope="module")
def url():
    with serving(LIMITS) as url:
        yield url


def _form(page) -> dict[str, str]:
    return {name: page.locator(selector).first.input_value() for name, selector in FORM.items()}


def _open(browser, address: str):
    page = browser.new_page(viewport={"width": 1440, "height": 1100})
    page.goto(address)
    page.wait_for_selector("#content img", timeout=30_000)
    page.wait_for_selector("#style img", timeout=30_000)
    page.wait_for_function(
        "document.querySelector('#seed input').value === '7'", timeout=15_000)
    page.get_by_text("Advanced", exact=True).click()  # where preview_every is
    page.locator(FORM["preview_every"]).wait_for(state="visible", timeout=10_000)
    return page


def _new_preview(page, before: str | None, start: float) -> float:
    """Seconds from ``start`` until the result shows an image other than ``before``."""
    while True:
        assert time.monotonic() - start < 180, "no preview within 180 s"
        img = page.locator("#result img")
        if img.count() and img.first.get_attribute("src") not in (None, before):
            return time.monotonic() - start
        time.sleep(0.05)


def _shown(page) -> str | None:
    img = page.locator("#result img")
    return img.first.get_attribute("src") if img.count() else None


def _run(page) -> tuple[float, float]:
    """Press Run; seconds to the first preview and to the result."""
    before, start = _shown(page), time.monotonic()
    page.click("#run")
    first = _new_preview(page, before, start)
    page.wait_for_function("document.querySelector('#status').innerText.includes('Done')",
                           timeout=180_000)
    return first, time.monotonic() - start


def _run_then_stop(page) -> float:
    """Press Run, Stop once a step is done; seconds to the first preview."""
    before, start = _shown(page), time.monotonic()
    page.click("#run")
    first = _new_preview(page, before, start)
    page.wait_for_function(
        "/step [1-9]\\d*\\//.test(document.querySelector('#status').innerText)",
        timeout=60_000)
    page.click("#stop")
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('Stopped at step')",
        timeout=15_000)
    return first


def _link(page) -> str:
    page.click("#stylize_copy_link")
    page.wait_for_function(
        "document.querySelector('#stylize_link textarea').value.startsWith('http')",
        timeout=15_000)
    return page.locator("#stylize_link textarea").input_value()


def _set_steps(page, steps: int) -> None:
    page.locator(FORM["steps"]).fill(str(steps))
    page.locator(FORM["steps"]).press("Enter")


def test_link_fills_form_run_copy_link_and_gallery(url, tmp_path):
    # Screenshots go to a temporary folder unless asked for (NST_SCREENSHOT_DIR=docs/img).
    shots = Path(os.environ.get("NST_SCREENSHOT_DIR") or tmp_path)
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = _open(browser, url + LINK)
            form = _form(page)
            # The server's starting values for this device.
            assert form["steps"] == str(START.steps) and form["size"] == str(START.size)
            assert form["preview_every"] == "5" and float(form["style_weight_log10"]) == 3
            # The unknown parameter is named; the rest of the link still applied.
            message = page.locator("#link_message")
            message.wait_for(state="visible", timeout=10_000)
            assert "bogus" in message.inner_text()

            # The first run of the visit, on the server's defaults: its first preview comes
            # within seconds; stopped after a step, it keeps that step's image.
            first = _run_then_stop(page)
            load = load_factor()
            print(f"first run: first preview {first:.1f} s after Run (load {load:.1f}x cores)")
            assert first < FIRST_PREVIEW_SECONDS * load
            assert page.locator("#png_file a").count() == 1

            link = _link(page)
            params = parse_qs(urlparse(link).query)
            assert params["example"] == ["2"] and params["seed"] == ["7"]
            assert "bogus" not in params
            assert "example 2" in page.inner_text("#stylize_link_note")
            again = _open(browser, link)
            assert _form(again) == form
            assert not again.locator("#link_message").is_visible()
            again.close()

            _set_steps(page, 5)  # a short second run, to its end
            first, done = _run(page)
            print(f"second run: first preview {first:.1f} s, result {done:.1f} s after Run")
            thumbs = page.locator("#session_gallery .thumbnail-item")
            page.wait_for_function(
                "document.querySelectorAll('#session_gallery .thumbnail-item').length === 2",
                timeout=15_000)
            # Newest first: the finished run, then the stopped one, which says so.
            runs = page.inner_text("#session_runs")
            done_caption, stopped_caption = (runs[runs.index(n):] for n in ("#2", "#1"))
            assert f"{START.size} px" in runs
            assert "(stopped)" in stopped_caption.splitlines()[0]
            assert "(stopped)" not in done_caption.splitlines()[0]

            # Clicking a run restores its settings; the last two clicked stand side by side.
            _set_steps(page, 11)
            thumbs.nth(1).click()
            page.wait_for_function(
                f"document.querySelector('#steps input[type=number]').value === '{START.steps}'",
                timeout=15_000)
            assert "#1" in page.inner_text("#status")
            thumbs.nth(0).click()
            page.wait_for_function("document.querySelector('#status').innerText.includes('#2')",
                                   timeout=15_000)
            page.wait_for_selector("#pair_before img", timeout=15_000)
            page.wait_for_selector("#pair_last img", timeout=15_000)
            page.locator("#stylize_link").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "gallery.png"))

            # A PNG without settings is refused by name; the form keeps its values.
            _set_steps(page, 300)
            page.set_input_files("#settings_file input[type=file]", str(PLAIN_PNG))
            page.get_by_text("holds no settings").first.wait_for(timeout=15_000)
            assert _form(page)["steps"] == "300"
        finally:
            browser.close()


def test_a_link_opens_its_tab_with_the_compare_choices(url):
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1100})
            page.goto(url + "?tab=compare&methods=adam:fft&budget=time&seconds=12&example=1")
            page.wait_for_selector("#content img", timeout=30_000)
            page.wait_for_function(
                "document.querySelector('#cmp_seconds input')?.value === '12'", timeout=15_000)
            page.locator("#cmp_methods").wait_for(state="visible", timeout=10_000)
            checked = page.locator("#cmp_methods input:checked")
            assert checked.count() == 1
            assert page.locator("#cmp_budget input:checked").input_value() == "time"
            page.click("#compare_copy_link")
            page.wait_for_function(
                "document.querySelector('#compare_link textarea').value.startsWith('http')",
                timeout=15_000)
            params = parse_qs(urlparse(page.locator("#compare_link textarea").input_value()).query)
            assert params["tab"] == ["compare"] and params["methods"] == ["adam:fft"]
            assert params["budget"] == ["time"] and params["seconds"] == ["12"]
            assert params["example"] == ["1"]
        finally:
            browser.close()
