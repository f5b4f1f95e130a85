"""nst_core.web.streams: jobs streamed as update records for the Stylize, Compare and Explore
tabs (status lines, loss plots, previews, result files), without a server."""
from __future__ import annotations

import json

import pytest

from nst_core import images, schedule, settings as settings_module, sweep
from nst_core.engine import Progress
from nst_core.web import explore, files, forms, inputs, streams
from nst_core.web.jobs import JOBS
from nst_core.web.limits import Limits

LIMITS = Limits(max_steps=500, max_size=256, default_size=32, default_steps=4)


def form(**changes):
    values = forms.default_values(LIMITS)
    values.update(changes)
    return values


def test_stylize_updates_stream_and_result_files(content_path, style_path):
    settings = forms.settings_from_form(form(size=32, steps=4, preview_every=2, seed=1),
                                        limits=LIMITS)
    read = inputs.load_inputs(content_path, [style_path])
    updates = list(streams.stylize_updates(read, settings))
    assert len(updates) == settings.steps + 2  # step 0, one per step, the final record
    previews = [u for u in updates if u.preview is not None]
    assert [u.progress["step"] for u in previews] == [0, 2, 4]  # the last is the result
    last = updates[-1]
    assert last.done and last.png and last.settings_json
    meta = images.read_png_settings(last.png)
    assert meta["settings"]["steps"] == 4 and meta["settings"]["seed"] == 1
    assert meta["run"]["step"] == 4 and meta["run"]["stopped"] is False
    assert json.loads(open(last.settings_json).read()) == meta
    axes = last.plot.axes[0]
    assert {line.get_label() for line in axes.get_lines()} == {"content", "style", "total"}
    assert axes.get_yscale() == "log"
    assert "Done" in last.status
    # Stop after the last preview keeps it: a PNG with the settings and the step it reached.
    state = previews[1].state
    assert state["step"] == 2
    png, js, text = files.stop_result(state)
    assert "Stopped" in text and images.read_png_settings(png)["run"]["stopped"] is True
    assert files.stop_result(None)[0] is None
    assert files.state_settings(last.state).seed == 1
    assert JOBS.recent()[-1].state == "done"


def test_a_random_seed_is_recorded_and_reused(content_path, style_path):
    settings = forms.settings_from_form(form(size=32, steps=2, seed=-1), limits=LIMITS)
    assert settings.seed is None
    last = list(streams.stylize_updates(inputs.load_inputs(content_path, [style_path]),
                                        settings))[-1]
    used = images.read_png_settings(last.png)["settings"]["seed"]
    assert isinstance(used, int) and files.state_settings(last.state).seed == used


def test_status_line():
    p = Progress(40, 300, 20.0, {"content": 1.0, "style": 2.0, "tv": 0.0, "total": 3.0})
    line = streams.status_line(p)
    assert "step 40/300" in line and "0.50 s/step" in line and "ETA 2 min 10 s" in line
    history = streams.LossHistory()
    history.add_terms(p)
    assert list(history.series) == ["content", "style", "tv", "total"]
    drawn = [line.get_label() for line in history.figure().axes[0].get_lines()]
    assert drawn == ["content", "style", "total"]  # tv is 0: nothing to draw on a log axis


def test_compare_updates_run_each_method_and_summarize(content_path, style_path):
    settings = forms.settings_from_form(form(size=32, steps=2, preview_every=1),
                                        limits=LIMITS)
    read = inputs.load_inputs(content_path, [style_path])
    chosen = [v for _, v in forms.methods()][:2]
    updates = list(streams.compare_updates(read, settings, chosen))
    last = updates[-1]
    assert "Done" in last.status and len(last.gallery) == 2 and len(last.table) == 2
    assert json.loads(open(last.json_path).read())["methods"] == chosen
    with pytest.raises(ValueError, match="pick at least one method"):
        next(streams.compare_updates(read, settings, []))


def test_explore_checks_each_cell_once_and_streams_a_grid(content_path, style_path,
                                                          monkeypatch):
    settings = forms.settings_from_form(form(size=32, steps=2, preview_every=1),
                                        limits=LIMITS)
    read = inputs.load_inputs(content_path, [style_path])
    checked = []
    real = settings_module.validate

    def counting(s, **kw):
        checked.append(s.style_weight)
        real(s, **kw)

    for module in (explore, sweep, schedule, settings_module):
        monkeypatch.setattr(module, "validate", counting)
    plan = explore.explore_plan(settings, "stylize", "style_weight", "1; 1e4", LIMITS, 1)
    updates = list(streams.explore_updates(read, plan))
    assert sorted(checked) == [1.0, 1e4]  # each cell once: the plan, not again below it
    last = updates[-1]
    assert "Done" in last.status and [c for _, c in last.gallery] == [
        "style_weight=1", "style_weight=10000"]
    meta = images.read_png_settings(last.grid_png)
    assert [c["label"] for c in meta["sweep"]["cells"]] == ["style_weight=1",
                                                            "style_weight=10000"]


@pytest.mark.parametrize("values, message", [
    ("gram; nope", "style_loss=nope: unknown style loss"),
    ("", "no values to try for style_loss"),
    ("; ".join(["gram"] * 13), "at most 12 per sweep"),
])
def test_explore_plan_names_the_bad_cell(values, message):
    with pytest.raises(ValueError, match=message):
        explore.explore_plan(forms.settings_from_form(form(), limits=LIMITS), "stylize",
                             "style_loss", values, LIMITS, 1)


def test_explore_plan_applies_this_servers_limits():
    with pytest.raises(ValueError, match="steps=900: 900 steps is over this server's limit"):
        explore.explore_plan(forms.settings_from_form(form(), limits=LIMITS), "stylize",
                             "steps", "2; 900", LIMITS, 1)
    assert explore.explore_defaults("texture")[0] == "style_layers"
    assert explore.vary_choices()[0] == "style_weight"
