"""nst_studio.web.streams: jobs streamed as update records for the Stylize, Compare and Explore
tabs (status lines, loss plots, previews, result files), without a server."""
from __future__ import annotations

import json

import pytest
import torch

from nst_core import job as job_module, settings as settings_module
from nst_core.imaging import images
from nst_core.experiments import sweep
from nst_core.records import Progress
from nst_studio.web import explore, files, forms, inputs, streams
from nst_studio.web.jobs import JOBS
from nst_core.methods import available_methods

from conftest import FORM_LIMITS as LIMITS, form


def test_stylize_updates_stream_and_result_files(content_path, style_path, monkeypatch):
    # Previews by time are tested below: here only the engine's (every preview_every steps)
    # and the first step's.
    monkeypatch.setattr(streams, "PREVIEW_SECONDS", 1e9)
    settings = forms.settings_from_form(form(size=32, steps=4, preview_every=3, seed=1),
                                        limits=LIMITS)
    read = inputs.load_inputs(content_path, [style_path])
    updates = list(streams.stylize_updates(read, settings))
    assert len(updates) == settings.steps + 2  # step 0, one per step, the final record
    previews = [u for u in updates if u.preview is not None]
    # The start image, the image after the first step, the engine's at step 3, the result.
    assert [u.progress["step"] for u in previews] == [0, 1, 3, 4]
    last = updates[-1]
    assert last.done and last.png and last.settings_json
    meta = images.read_png_settings(last.png)
    assert meta["settings"]["steps"] == 4 and meta["settings"]["seed"] == 1
    assert meta["run"]["step"] == 4 and meta["run"]["stopped"] is False
    assert json.loads(open(last.settings_json).read()) == meta
    axes = last.plot.axes[0]
    assert {line.get_label() for line in axes.get_lines()} == {"content", "style", "total"}
    assert "Done" in last.status
    # Every step leaves its image for Stop: stopped after step 2 (no preview there), the
    # result is the image at step 2, not the last preview (step 1) nor the start image.
    state = updates[2].state
    assert state["step"] == 2 and updates[2].preview is None
    stopped = files.stop_result(state)
    assert "Stopped at step 2/4" in stopped.status
    assert images.read_png_settings(stopped.png)["run"]["stopped"] is True
    assert images.read_png_settings(stopped.png)["run"]["step"] == 2
    kept = images.to_tensor(images.load_image(stopped.png))
    assert kept.sub(images.to_tensor(previews[1].preview)).abs().max() > 1 / 255
    assert kept.sub(images.to_tensor(previews[0].preview)).abs().max() > 1 / 255
    assert files.stop_result(None).png is None and "nothing to keep" in \
        files.stop_result(None).status
    assert files.stop_result(last.state).png is None  # finished: the result is already there
    assert files.stop_result(updates[0].state).png is None  # step 0: nothing was done yet
    assert files.state_settings(last.state).seed == 1
    # A session keeps an ended job's facts, not its images (the files hold them).
    assert "tensor" in state and not {"tensor", "preview"} & set(last.state)
    assert files.without_images(state)["step"] == 2
    assert not {"tensor", "preview"} & set(files.without_images(state))
    assert JOBS.recent()[-1].state == "done"


def test_previews_come_by_time_between_preview_steps():
    pace = streams.Throttle(60.0)
    losses = {"content": 0.0, "style": 1.0, "tv": 0.0, "total": 1.0}
    image = torch.rand(1, 3, 8, 8)
    start = Progress(0, 100, 0.0, losses, preview=images.to_pil(image), tensor=image)
    assert streams.paced_preview(start, pace) is start.preview
    # The first optimized step shows at once (the start image does not count) ...
    first = streams.paced_preview(Progress(1, 100, 1.0, losses, tensor=image), pace)
    assert first is not None and first.size == (8, 8)
    # ... then nothing until the pace's time has passed ...
    assert streams.paced_preview(Progress(2, 100, 2.0, losses, tensor=image), pace) is None
    pace.last -= 61.0
    assert streams.paced_preview(Progress(3, 100, 3.0, losses, tensor=image), pace) is not None
    # ... and an engine preview restarts the wait.
    pace.last -= 61.0
    engine = Progress(10, 100, 9.0, losses, preview=images.to_pil(image), tensor=image)
    assert streams.paced_preview(engine, pace) is engine.preview
    assert streams.paced_preview(Progress(11, 100, 10.0, losses, tensor=image), pace) is None


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


def test_loss_plot_is_relative_readable_and_whole_stepped():
    history = streams.LossHistory()
    # The content term starts at 0 and grows from a tiny value; style falls.
    for step, (content, style) in enumerate([(0.0, 1e8), (1e-3, 5e7), (1e4, 2e7), (1e5, 1e7)]):
        history.add_terms(Progress(step, 300, step, {"content": content, "style": style,
                                                     "tv": 0.0, "total": content + style}))
    points = history.points()
    assert points["total"][0] == (0, 1.0) and points["style"][-1][1] == pytest.approx(0.1)
    ax = history.figure("Loss").axes[0]
    assert ax.get_yscale() == "log" and ax.get_title(loc="left") == "Loss"
    low, high = ax.get_ylim()
    # The axis spans the data's top few decades, not down to the content's first 1e-11.
    assert high >= 1.0 and low >= 1e-5 and low <= 1e-3
    assert ax.get_xlim() == (0, 3)
    assert all(float(t).is_integer() for t in ax.get_xticks())
    # At step 0 alone, x still runs over whole steps (not -0.04 .. 0.04).
    first = streams.LossHistory()
    first.add_terms(Progress(0, 300, 0.0, {"content": 0.0, "style": 5.0, "tv": 0.0,
                                           "total": 5.0}))
    ax = first.figure().axes[0]
    assert ax.get_xlim() == (0, 1) and all(float(t).is_integer() for t in ax.get_xticks())
    # Methods of a comparison: each from its own start, so every start is visible at 1.
    methods = streams.LossHistory(per_series=True)
    for step, (a, b) in enumerate([(100.0, 7.0), (50.0, 3.0)]):
        methods.add("A", step, a)
        methods.add("B", step, b)
    assert methods.points()["A"][0][1] == methods.points()["B"][0][1] == 1.0
    assert methods.figure().axes[0].get_ylim()[1] > 1.0


def test_compare_updates_run_each_method_and_summarize(content_path, style_path):
    settings = forms.settings_from_form(form(size=32, steps=2, preview_every=1),
                                        limits=LIMITS)
    read = inputs.load_inputs(content_path, [style_path])
    chosen = [v for _, v in available_methods()][:2]
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

    for module in (sweep, job_module, settings_module):
        monkeypatch.setattr(module, "validate", counting)
    plan = explore.explore_plan(settings, "stylize", "style_weight", "1; 1e4", LIMITS, 1)
    assert checked == [1.0, 1e4]  # every cell refused or accepted before any run is queued
    updates = list(streams.explore_updates(read, plan))
    # Each cell's run is then a job, checked when made (before the first run starts), and
    # nothing below the job checks again.
    assert checked == [1.0, 1e4, 1.0, 1e4]
    last = updates[-1]
    # Captions say what differs (the page names the setting once, in the status).
    assert "Done" in last.status and "Style weight" in last.status
    assert [c for _, c in last.gallery] == ["1", "10000"]
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


def test_page_table_is_short_and_rounded():
    row = ["Adam · DIP", "328,791", "1.3", "2", "8.028e+08", "0.027", "1.276e+06", "0.5"]
    assert streams.page_table([row]) == [["Adam · DIP", "1.3", "2", "8.03e+08", "0.027",
                                          "1.28e+06", "0.5"]]
    assert len(streams.PAGE_TABLE_HEADERS) == len(streams.page_table([row])[0])


def test_explore_names_settings_in_the_forms_words():
    labels = dict((value, label) for label, value in explore.vary_labels())
    assert labels["style_weight"] == "Style weight" and labels["method"] == "Method"
    assert [v for _, v in explore.vary_labels()] == explore.vary_choices()
    assert explore.vary_help("content_layers").startswith("VGG19 layers")
    assert explore.cell_caption("content_layers=relu2_2") == "relu2_2"


def test_explore_plan_applies_this_servers_limits():
    with pytest.raises(ValueError, match="steps=900: 900 steps is over this server's limit"):
        explore.explore_plan(forms.settings_from_form(form(), limits=LIMITS), "stylize",
                             "steps", "2; 900", LIMITS, 1)
    assert explore.explore_defaults("texture")[0] == "style_layers"
    assert explore.vary_choices()[0] == "style_weight"
