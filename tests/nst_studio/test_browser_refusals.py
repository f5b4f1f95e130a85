"""The page after a refusal, in a real headless browser (Debian's chromium driven by Playwright's
Python client), always after the page-load event has run: a bad upload (zero bytes, text named
.png, a PNG cut after its signature, a decompression bomb) shows its clear message on the page,
at the upload and again at Run; after any refusal Run is enabled and the next good run works;
a link's query text is shown as text, never as HTML."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import BENCH, BROWSER_MARKS, CONTENT, STYLE, chromium  # noqa: E402

pytestmark = BROWSER_MARKS
pytest.importorskip("playwright.sync_api")

from nst_studio.web.limits import Limits  # noqa: E402
from conftest import serving  # noqa: E402

sys.path.insert(0, str(BENCH))  # bench/common.py: the one decompression-bomb writer
from common import write_bomb_png  # noqa: E402

LIMITS = Limits(max_steps=50, max_size=256, default_size=32, default_steps=2, max_queue=4)
BOMB = "12000x12000 is 144 megapixels; the limit is 64 megapixels"


@pytest.fixture(scope="module")
def url(vgg):
    with serving(LIMITS) as url:
        yield url


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """name -> (file, the message the page must show for it as the content image)."""
    folder = tmp_path_factory.mktemp("bad")
    empty, text, cut = folder / "empty.png", folder / "text.png", folder / "cut.png"
    empty.write_bytes(b"")
    text.write_text("not an image at all")
    cut.write_bytes(b"\x89PNG\r\n\x1a\n")
    not_image = "content image: not an image file (or a format Pillow cannot read)"
    return {"zero bytes": (empty, "content image: empty file"),
            "text named .png": (text, not_image),
            "PNG cut after its signature": (cut, not_image),
            "decompression bomb": (write_bomb_png(folder / "bomb.png"), f"content image: {BOMB}")}


@pytest.fixture()
def page(browser_session, url):
    page = browser_session.new_page(viewport={"width": 1440, "height": 1000})
    yield page
    page.close()


@pytest.fixture(scope="module")
def browser_session():
    with chromium() as browser:
        yield browser


def _loaded(page, address: str) -> None:
    """Open ``address`` and wait for the page-load event to have filled the page."""
    page.goto(address)
    page.wait_for_selector("#run", timeout=30_000)
    # The estimate line is filled by an event of the page's load, after the load event
    # itself (which fills the form from the link).
    page.wait_for_function(
        "document.querySelector('#estimate').innerText.includes('on this')", timeout=60_000)


def _upload(page, slot: str, path: Path) -> None:
    page.set_input_files(f"#{slot} input[type=file]", str(path))


def _error_shown(page, message: str) -> None:
    """The page shows ``message`` in an error toast; the toasts are closed after."""
    page.wait_for_function(
        "(m) => [...document.querySelectorAll('.toast-body')].some("
        "(t) => t.innerText.includes(m))", arg=message, timeout=30_000)
    for close in page.locator(".toast-close").all():
        close.click()


def _good_run(page) -> None:
    """Run is enabled, and a run with good images ends with its result."""
    page.wait_for_function("!document.querySelector('#run').disabled", timeout=10_000)
    page.click("#run")
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('Done')", timeout=120_000)
    page.wait_for_function("!document.querySelector('#run').disabled", timeout=10_000)


def test_bad_uploads_show_their_message_and_the_next_good_run_works(page, url, bad_files):
    _loaded(page, url)
    _upload(page, "style", STYLE)
    page.wait_for_selector("#style img", timeout=20_000)
    for path, message in bad_files.values():
        _upload(page, "content", path)
        _error_shown(page, message)  # the upload itself is refused, by name
        page.click("#run")
        _error_shown(page, message)  # and so is a run with it
        page.wait_for_function("!document.querySelector('#run').disabled", timeout=10_000)
    _upload(page, "content", CONTENT)
    page.wait_for_selector("#content img", timeout=20_000)
    _good_run(page)


def test_uploads_are_checked_after_a_link_filled_the_images(page, url, bad_files):
    """A link's example images are set by the page-load event (which rebuilds the slots): a
    bad upload over them is refused with its message all the same."""
    _loaded(page, f"{url}?example=1&size=32&steps=2")
    page.wait_for_selector("#content img", timeout=20_000)
    path, message = bad_files["text named .png"]
    _upload(page, "style", path)
    _error_shown(page, message.replace("content image", "style image"))
    page.click("#run")
    _error_shown(page, message.replace("content image", "style image"))
    _upload(page, "style", STYLE)
    page.wait_for_selector("#style img", timeout=20_000)
    _good_run(page)


def test_a_refused_setting_leaves_run_enabled(page, url):
    _loaded(page, url)
    _upload(page, "content", CONTENT)
    page.wait_for_selector("#content img", timeout=20_000)
    # The page opens with an example pair: take its style image away.
    page.locator("#style").get_by_label("Remove Image").click()
    page.wait_for_function("!document.querySelector('#style img')", timeout=10_000)
    page.click("#run")  # no style image
    _error_shown(page, "no style image: upload one")
    _upload(page, "style", STYLE)
    page.wait_for_selector("#style img", timeout=20_000)
    _good_run(page)


def test_a_links_text_is_shown_as_text(page, url):
    hostile = "<img src=x id=injected>"
    _loaded(page, f"{url}?tab={hostile}&seed=**bold**[a](http://example.com)")
    box = page.locator("#link_message")
    box.wait_for(state="visible", timeout=20_000)
    text = box.inner_text()
    assert f"tab={hostile}: choose from: stylize, compare, explore" in text
    assert "seed=**bold**[a](http://example.com)" in text
    # The heading is the page's own bold text; nothing of the link's is markup.
    assert page.locator("#link_message li *").count() == 0
    assert page.locator("#link_message img").count() == 0
    _upload(page, "content", CONTENT)
    _upload(page, "style", STYLE)
    page.wait_for_selector("#content img", timeout=20_000)
    page.wait_for_selector("#style img", timeout=20_000)
    _good_run(page)
    assert page.locator("#injected").count() == 0
