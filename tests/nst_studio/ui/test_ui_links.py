"""The page's link handlers on a built page: the load event's filling from a URL's query, and
"Copy link" from the form's values (the browser test drives them in Chromium)."""
from __future__ import annotations

import shutil
from urllib.parse import parse_qsl

import pytest

gr = pytest.importorskip("gradio")

from nst_studio.web import forms  # noqa: E402
from nst_studio.web.limits import Limits  # noqa: E402
from nst_studio.ui import examples, links, panel as panel_ui  # noqa: E402
from nst_core.methods import available_methods

LIMITS = Limits(max_size=256, default_size=64, default_steps=10)


@pytest.fixture(scope="module")
def page():
    with gr.Blocks():
        left = panel_ui.build(LIMITS)
        message = links.message_box()
        methods = gr.CheckboxGroup([v for _, v in available_methods()], value=["lbfgs:pixels"])
        stylize = links.copy_link(left, "stylize")
        compare = links.copy_link(left, "compare", {"methods": methods})
    return left, message, stylize, compare, methods


def _data(left, values: dict, content=None, style=None, extra=None) -> dict:
    data = {c: values[name] for name, c in left.form.items()}
    data.update({left.content: content, left.base: None, **{s: None for s in left.styles}})
    data[left.styles[0]] = style
    return data | (extra or {})


def test_a_link_fills_the_form_images_and_compare_choices(page):
    left, message, stylize, compare, methods = page
    out = links.fill(left, {"example": "1", "steps": "25", "method": "adam:fft",
                            "methods": "adam:fft,lbfgs:pixels", "tab": "compare"},
                     [stylize, compare], message)
    assert out[left.form["steps"]] == 25 and out[left.form["method"]] == "adam:fft"
    assert out[left.form["size"]] == 64  # not in the link: the server's default
    pairs = examples.example_pairs()
    assert out[left.content] == str(pairs[0][0]) and out[left.styles[0]] == str(pairs[0][1])
    assert out[methods] == ["adam:fft", "lbfgs:pixels"]
    assert out[message]["visible"] is False


def test_a_bad_link_says_what_was_left_out_and_fills_the_rest(page):
    left, message, stylize, compare, _ = page
    out = links.fill(left, {"size": "abc", "steps": "7", "colour": "red"},
                     [stylize, compare], message)
    assert out[left.form["steps"]] == 7
    shown = out[message]
    assert shown["visible"] is True
    assert "size=abc" in shown["value"] and "colour" in shown["value"]


def test_a_page_opened_without_a_query_is_left_alone(page):
    left, message, stylize, compare, _ = page
    out = links.fill(left, {}, [stylize, compare], message)
    assert list(out) == [message]


def test_copy_link_writes_the_form_and_the_example(page, tmp_path):
    left, message, stylize, compare, methods = page
    values = forms.default_values(LIMITS) | {"steps": 12, "method": "adam:pixels"}
    pair = examples.example_pairs()[1]
    copies = [tmp_path / "a.png", tmp_path / "b.jpg"]  # the page holds copies of examples
    for src, dst in zip(pair, copies):
        shutil.copyfile(src, dst)
    out = links.form_link(left, compare, _data(left, values, *map(str, copies),
                                               extra={methods: ["adam:fft"]}))
    params = dict(parse_qsl(out[compare.box][1:]))
    assert params["example"] == "2" and params["steps"] == "12" and params["size"] == "64"
    assert params["method"] == "adam:pixels" and params["methods"] == "adam:fft"
    assert params["tab"] == "compare"
    assert "example 2" in out[compare.note]
    # Read back, the link gives the same form.
    back = links.fill(left, params, [stylize, compare], message)
    assert all(back[c] == values[n] for n, c in left.form.items() if n in values)


def test_copy_link_with_an_upload_says_it_must_be_uploaded_again(page, tmp_path):
    left, message, stylize, *_ = page
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"my own photo")
    out = links.form_link(left, stylize, _data(left, forms.default_values(LIMITS), str(mine),
                                               str(examples.example_pairs()[0][1])))
    params = dict(parse_qsl(out[stylize.box][1:]))
    assert "example" not in params and params["style"] == "starry_night.jpg"
    assert "content image you uploaded" in out[stylize.note]
    assert "uploads it again" in out[stylize.note]


def test_copy_link_refuses_a_bad_form_with_its_message(page):
    left, message, stylize, *_ = page
    values = forms.default_values(LIMITS) | {"steps": "many"}
    with pytest.raises(gr.Error, match="Steps must be a number"):
        links.form_link(left, stylize, _data(left, values))


def test_on_a_space_a_deep_link_button_shares_the_whole_session(monkeypatch):
    with gr.Blocks() as off_space:
        links.copy_link(panel_ui.build(LIMITS), "stylize")
    monkeypatch.setenv("SPACE_ID", "someone/nst-studio")
    with gr.Blocks() as on_space:
        links.copy_link(panel_ui.build(LIMITS), "stylize")

    def deep_links(demo):
        return [b for b in demo.blocks.values() if isinstance(b, gr.DeepLinkButton)]

    assert not deep_links(off_space) and len(deep_links(on_space)) == 1
