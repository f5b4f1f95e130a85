"""nst_core.service: limits, form values <-> Settings, the device lock, result files, and job
streams as the app sees them (no server, no Gradio)."""
from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest
from PIL import Image

from nst_core import images, service
from nst_core.optim import OPTIMIZERS
from nst_core.params import PARAMETERIZATIONS
from nst_core.settings import PRESETS, Settings

LIMITS = service.Limits(max_steps=500, max_size=256, default_size=32, default_steps=4)


def form(**changes):
    values = service.default_values(LIMITS)
    values.update(changes)
    return values


def test_limits_from_env_defaults_and_overrides():
    assert service.Limits.from_env({}) == service.Limits()
    limits = service.Limits.from_env({"NST_MAX_STEPS": "50", "NST_MAX_SIZE": "128",
                                      "NST_CONCURRENCY": "2", "NST_MAX_QUEUE": "3",
                                      "NST_MAX_UPLOAD": "5mb", "NST_DEFAULT_SIZE": "512"})
    assert (limits.max_steps, limits.max_size, limits.concurrency, limits.max_queue) == \
        (50, 128, 2, 3)
    assert limits.max_upload_bytes == 5 * 1024 ** 2
    assert limits.default_size == 128 and limits.default_steps == 50  # capped by the limits


@pytest.mark.parametrize("env, message", [
    ({"NST_MAX_STEPS": "many"}, "NST_MAX_STEPS must be a whole number"),
    ({"NST_MAX_STEPS": "0"}, "NST_MAX_STEPS must be >= 1"),
    ({"NST_MAX_UPLOAD": "big"}, "NST_MAX_UPLOAD must look like"),
    ({"NST_MAX_SIZE": "100000"}, "NST_MAX_SIZE must be <="),
])
def test_limits_from_env_rejects_bad_values(env, message):
    with pytest.raises(ValueError, match=message):
        service.Limits.from_env(env)


@pytest.mark.parametrize("param", list(PARAMETERIZATIONS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_registry_pair_with_a_default_lr_is_a_method(param, optimizer):
    values = [v for _, v in service.methods()]
    assert (f"{optimizer}:{param}" in values) == (optimizer in PARAMETERIZATIONS[param].lr)
    if optimizer in PARAMETERIZATIONS[param].lr:
        settings = service.settings_from_ui(form(method=f"{optimizer}:{param}"), limits=LIMITS)
        assert (settings.optimizer, settings.param) == (optimizer, param)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_form_values_round_trip_for_every_preset(preset):
    original = dataclasses.replace(PRESETS[preset], size=64, steps=20, seed=7, tv_weight=1e5,
                                   style_weight=3e3, preserve_color="luminance", lr=0.5)
    values, notes = service.ui_values(original, LIMITS)
    assert notes == [] and values["preset"] == preset
    back = service.settings_from_ui(values, limits=LIMITS)
    assert back.style_weight == pytest.approx(3e3, rel=1e-12)
    assert back == dataclasses.replace(original, style_weight=back.style_weight)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_values_set_the_presets_layers(preset):
    values = service.preset_values(preset, LIMITS)
    settings = service.settings_from_ui(form(**values), limits=LIMITS)
    assert settings.content_layers == PRESETS[preset].content_layers
    assert settings.style_layers == PRESETS[preset].style_layers


@pytest.mark.parametrize("changes, message", [
    (dict(steps=None), "Steps is empty"),
    (dict(steps=2.5), "Steps must be a whole number"),
    (dict(steps=501), "over this server's limit of 500"),
    (dict(size=300), "over this server's limit of 256"),
    (dict(content_weight="abc"), "Content weight must be a number"),
    (dict(method="adam:nothing"), "unknown parameterization 'nothing'"),
    (dict(param_options="{oops"), "not valid JSON"),
    (dict(param_options='{"no_such_option": 1}'), "has no option"),
    (dict(style_layers=["relu9_9"]), "unknown VGG19 layer"),
    (dict(preview_every=0), "at least 1 step"),
])
def test_bad_form_values_raise_clear_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        service.settings_from_ui(form(**changes), limits=LIMITS)


def test_seed_and_lr_blanks_mean_random_and_default():
    s = service.settings_from_ui(form(seed=-1, lr=0), limits=LIMITS)
    assert s.seed is None and s.lr is None
    s = service.settings_from_ui(form(seed=5, lr=0.1), limits=LIMITS)
    assert s.seed == 5 and s.lr == 0.1


def test_styles_and_blend_weights():
    styles, blend = service.collect_styles(["a", None, "c"], [2, 1, 0.5])
    assert styles == ["a", "c"] and blend == [2.0, 0.5]
    s = service.settings_from_ui(form(), limits=LIMITS, n_styles=2, blend=blend)
    assert s.style_blend_weights == (2.0, 0.5)
    with pytest.raises(ValueError, match="blend weight is 0"):
        service.collect_styles(["a", "b"], [0, 0])
    with pytest.raises(ValueError, match="no style image"):
        service.settings_from_ui(form(), limits=LIMITS, n_styles=0)


def test_fields_the_form_lacks_survive_from_a_loaded_file_unless_layers_change():
    base = dataclasses.replace(Settings(), style_layer_weights=(1, 2, 3, 4, 5), tv_exponent=0.5,
                               content_layer_weights=(2.0,))
    s = service.settings_from_ui(form(), limits=LIMITS, base=base)
    assert s.style_layer_weights == (1, 2, 3, 4, 5) and s.content_layer_weights == (2.0,)
    assert s.tv_exponent == 1.25  # a form field: the form wins
    s = service.settings_from_ui(form(style_layers=["relu1_1"]), limits=LIMITS, base=base)
    assert s.style_layer_weights is None


def test_settings_files_round_trip(tmp_path):
    settings = dataclasses.replace(Settings(), size=48, steps=9, seed=3, device="cpu")
    meta = {"settings": settings.to_dict(), "losses": {"total": 1.0}}
    png, js = service.save_result(Image.new("RGB", (8, 8), "red"), meta)
    for path in (png, js):
        loaded = service.load_settings_file(path)
        assert loaded.size == 48 and loaded.steps == 9 and loaded.seed == 3
        assert loaded.device == Settings().device  # the server's own device, not the file's
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    with pytest.raises(ValueError, match="holds no settings"):
        service.load_settings_file(plain)
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    with pytest.raises(ValueError, match="neither a PNG made by this tool nor"):
        service.load_settings_file(junk)


def test_settings_from_json_for_the_api():
    s = service.settings_from_json('{"steps": 7, "size": 40}', LIMITS, n_styles=1)
    assert (s.steps, s.size) == (7, 40)
    assert service.settings_from_json("", LIMITS, 1).size == LIMITS.default_size
    with pytest.raises(ValueError, match="NST_MAX_STEPS"):
        service.settings_from_json('{"steps": 9999}', LIMITS, 1)
    with pytest.raises(ValueError, match="unknown setting"):
        service.settings_from_json('{"stpes": 3}', LIMITS, 1)
    with pytest.raises(ValueError, match="not valid JSON"):
        service.settings_from_json("{", LIMITS, 1)


def test_locked_holds_the_device_lock_only_during_a_step():
    seen = []

    def steps():
        for i in range(3):
            seen.append(service.device_lock("test-device").locked())
            yield i

    gen = service.locked(steps(), "test-device", "stylize", 3)
    assert next(gen) == 0
    assert not service.device_lock("test-device").locked()  # released while the consumer waits
    gen.close()
    assert seen == [True]
    assert service.recent_jobs()[-1].state == "closed"


def test_locked_makes_two_jobs_take_turns():
    active, overlaps = [0], [0]

    def steps():
        for _ in range(5):
            active[0] += 1
            overlaps[0] = max(overlaps[0], active[0])
            time.sleep(0.01)
            active[0] -= 1
            yield 0

    threads = [threading.Thread(target=lambda: list(service.locked(steps(), "turns", "x", 5)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps[0] == 1


def test_stylize_updates_stream_and_result_files(content_path, style_path):
    settings = service.settings_from_ui(form(size=32, steps=4, preview_every=2, seed=1),
                                        limits=LIMITS)
    content, styles = service.load_inputs(content_path, [style_path])
    updates = list(service.stylize_updates(content, styles, settings))
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
    png, js, text = service.stop_result(state)
    assert "Stopped" in text and images.read_png_settings(png)["run"]["stopped"] is True
    assert service.stop_result(None)[0] is None
    assert service.state_settings(last.state).seed == 1


def test_status_line():
    from nst_core.engine import Progress

    p = Progress(40, 300, 20.0, {"content": 1.0, "style": 2.0, "tv": 0.0, "total": 3.0})
    line = service.status_line(p)
    assert "step 40/300" in line and "0.50 s/step" in line and "ETA 2 min 10 s" in line
    history = service.LossHistory()
    history.add_terms(p)
    assert list(history.series) == ["content", "style", "tv", "total"]
    drawn = [line.get_label() for line in history.figure().axes[0].get_lines()]
    assert drawn == ["content", "style", "total"]  # tv is 0: nothing to draw on a log axis


def test_check_upload_names_the_problem(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not an image")
    assert "content image: not an image file" in service.check_upload(bad, "content image")


def test_on_gpu_uses_spaces_where_installed(monkeypatch):
    import sys
    import types

    def job():
        yield 1

    monkeypatch.setitem(sys.modules, "spaces", None)  # import fails: not on a Space
    assert service.on_gpu(job, 60) is job
    calls = []
    fake = types.ModuleType("spaces")

    def gpu(duration):
        calls.append(duration)
        return lambda fn: ("wrapped", fn)

    fake.GPU = gpu
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert service.on_gpu(job, 60) == ("wrapped", job) and calls == [60]


def test_a_stop_token_interrupts_the_step_in_progress(content_path, style_path):
    settings = service.settings_from_ui(form(size=64, steps=50, preview_every=10),
                                        limits=LIMITS)
    content, styles = service.load_inputs(content_path, [style_path])
    service.stop_token("test-session:stylize")
    updates = service.stylize_updates(content, styles, settings, stop_key="test-session:stylize")
    assert next(updates).progress["step"] == 0  # set-up done
    t0 = time.perf_counter()
    assert next(updates).progress["step"] == 1
    step_seconds = time.perf_counter() - t0
    job = service.recent_jobs()[-1]
    asked = []

    def stop_mid_step():
        asked.append(time.perf_counter())
        service.request_stop("test-session:stylize")

    timer = threading.Timer(step_seconds / 3, stop_mid_step)
    timer.start()
    rest = list(updates)  # ends early: the token interrupts the step in progress
    latency = time.perf_counter() - asked[0]
    timer.join()
    assert job.state == "stopped" and job.step <= 2
    assert not any(u.done for u in rest)
    # A step took step_seconds; the stop took a fraction of one (one convolution's time).
    assert latency < max(0.5 * step_seconds, 0.05), (latency, step_seconds)
    assert not service.device_lock(job.device).locked()
    # The next job on the same network, without a token, is untouched by the hooks.
    assert list(service.stylize_updates(content, styles,
                                        dataclasses.replace(settings, steps=2)))[-1].done
