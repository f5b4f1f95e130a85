"""Links: settings, example images, tab and the Compare tab's choices as URL query parameters,
and back, with a message per parameter left out."""
from __future__ import annotations

import dataclasses
from urllib.parse import parse_qsl

import pytest

from nst_core.settings import Settings, field_infos
from nst_studio.web import defaults, links
from nst_studio.web.limits import Limits

from conftest import EXAMPLES

PAIRS = [(EXAMPLES / "astronaut.png", EXAMPLES / "starry_night.jpg"),
         (EXAMPLES / "chelsea.png", EXAMPLES / "the_scream.jpg")]
LIMITS = Limits(max_size=512, default_size=128, default_steps=30)


def _read(query: str, limits: Limits = LIMITS) -> links.LinkRequest:
    return links.read_query(dict(parse_qsl(query.lstrip("?"), keep_blank_values=True)),
                            limits, PAIRS)


def test_names_come_from_the_settings_description():
    names = links.param_names()
    form_fields = [i.name for i in field_infos() if i.form]
    assert "method" in names and "optimizer" not in names and "param" not in names
    assert set(form_fields) - {"optimizer", "param"} <= set(names)
    assert {"example", "content", "style", "tab", "methods", "budget", "seconds"} <= set(names)


def test_round_trip_of_changed_settings_images_tab_and_compare_choices():
    settings = dataclasses.replace(
        Settings(), size=200, steps=40, optimizer="adam", param="fft", style_weight=1e4,
        seed=3, tv_weight=0.5, multiscale=True, style_layers=("relu1_1", "relu3_1"),
        preserve_color="luminance", edge_weight=0.25, param_options={"decay_power": 1.5})
    compare = {"methods": ["lbfgs:pixels", "adam:fft"], "budget": "time", "seconds": 20}
    query = links.query(settings, example=2, tab="compare", compare=compare)
    params = dict(parse_qsl(query[1:]))
    assert params["example"] == "2" and params["method"] == "adam:fft" and params["size"] == "200"
    assert "content_weight" not in params  # unchanged from the defaults: left out
    read = _read(query)
    assert read.problems == []
    assert read.settings == settings
    assert (read.content, read.style, read.tab) == (*PAIRS[1], "compare")
    assert read.compare == {"methods": ["lbfgs:pixels", "adam:fft"], "budget": "time",
                            "seconds": 20.0}


def test_none_values_and_switched_off_options_travel():
    settings = dataclasses.replace(Settings(), seed=None, edge_weight=None)
    read = _read(links.query(settings) + "&edge_weight=none")
    assert read.problems == [] and read.settings.seed is None
    assert read.settings.edge_weight is None


def test_size_and_steps_are_always_written_and_default_to_the_server():
    params = dict(parse_qsl(links.query(Settings())[1:]))
    assert params["size"] == str(Settings().size) and params["steps"] == str(Settings().steps)
    read = _read("?seed=5")
    assert (read.settings.size, read.settings.steps, read.settings.seed) == (128, 30, 5)


def test_a_link_is_read_over_the_servers_starting_values_and_round_trips_on_it():
    # A CPU server starts from a coarse-to-fine run; its own limits leave size and steps unset.
    cpu = Limits()
    start = defaults.start_settings(cpu, kind="cpu")
    assert start.multiscale and start.min_size < start.size
    read = _read("?seed=5", cpu)
    assert read.problems == []
    assert dataclasses.replace(read.settings, seed=start.seed) == \
        dataclasses.replace(start, device=read.settings.device)
    # A form that turned the schedule off says so, even where that is the class default.
    single = dataclasses.replace(start, multiscale=False, seed=5)
    query = links.query(single, start=start)
    assert dict(parse_qsl(query[1:]))["multiscale"] == "0"
    assert _read(query, cpu).settings.multiscale is False


def test_bad_parameters_are_named_and_the_rest_still_applies():
    read = _read("?bogus=1&size=4096&steps=12&method=x:y&example=9&tab=nope&seconds=-1"
                 "&multiscale=maybe&style_loss=wrong&content=nothere.png&style=the_scream.jpg"
                 "&methods=adam:fft,zzz&budget=forever&style_weight=0")
    text = "\n".join(read.problems)
    for name in ("bogus", "size=4096", "method=x:y", "example=9", "tab=nope", "seconds=-1",
                 "multiscale=maybe", "style_loss=wrong", "content=nothere.png",
                 "methods=adam:fft,zzz", "budget=forever", "style_weight=0"):
        assert name in text, name
    assert "NST_MAX_SIZE" in text and "examples 1 to 2" in text
    assert read.settings.steps == 12 and read.settings.size == 128
    assert read.style == PAIRS[1][1] and read.content is None and read.tab is None
    assert read.compare == {}


def test_an_empty_query_asks_for_nothing():
    assert _read("").empty
    assert _read("?deep_link=abc123&__theme=dark").empty  # Gradio's own
    assert not _read("?tab=compare").empty


def test_which_examples_recognises_copies_by_their_bytes(tmp_path):
    content = tmp_path / "upload_1.png"
    content.write_bytes(PAIRS[1][0].read_bytes())
    style = tmp_path / "upload_2.jpg"
    style.write_bytes(PAIRS[1][1].read_bytes())
    assert links.which_examples(str(content), str(style), PAIRS) == \
        (2, "chelsea.png", "the_scream.jpg")
    # A pairing of two examples' images: each by name, no pair number.
    assert links.which_examples(str(content), str(PAIRS[0][1]), PAIRS) == \
        (None, "chelsea.png", "starry_night.jpg")
    other = tmp_path / "mine.png"
    other.write_bytes(b"not an example")
    assert links.which_examples(str(other), None, PAIRS) == (None, None, None)
    query = links.query(None, content="chelsea.png", style="starry_night.jpg")
    read = _read(query)
    assert (read.content, read.style) == (PAIRS[1][0], PAIRS[0][1])


@pytest.mark.parametrize("value", ["abc", "1.5", ""])
def test_a_number_that_is_no_whole_number_is_refused(value):
    read = _read(f"?steps={value}")
    assert len(read.problems) == 1 and read.problems[0].startswith(f"steps={value}")
    assert read.settings.steps == 30
