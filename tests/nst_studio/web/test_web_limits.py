"""nst_studio.web.limits: what one server accepts, from NST_* environment variables."""
from __future__ import annotations

import dataclasses
import math
import re
import sys
import types

import pytest
from PIL import Image

from nst_core import estimate
from nst_core.estimate import Calibration, Estimator, Method
from nst_core.settings import Settings
from nst_studio.web import jobs, streams
from nst_studio.web import settings_io
from nst_studio.web import admission
from nst_studio.web.limits import GPU_STARTUP_SECONDS, Limits


def test_limits_from_env_defaults_and_overrides():
    assert Limits.from_env({}) == Limits()
    limits = Limits.from_env({"NST_MAX_STEPS": "50", "NST_MAX_SIZE": "128",
                              "NST_CONCURRENCY": "2", "NST_MAX_QUEUE": "3",
                              "NST_MAX_UPLOAD": "5mb", "NST_DEFAULT_SIZE": "512"})
    assert (limits.max_steps, limits.max_size, limits.concurrency, limits.max_queue) == \
        (50, 128, 2, 3)
    assert limits.max_upload_bytes == 5 * 1024 ** 2
    assert limits.default_size == 128  # capped by the limits
    assert limits.default_steps is None  # unset: chosen for the device (web.defaults)
    assert Limits.from_env({"NST_DEFAULT_STEPS": "900", "NST_MAX_STEPS": "50"}).default_steps == 50


@pytest.mark.parametrize("env, message", [
    ({"NST_MAX_STEPS": "many"}, "NST_MAX_STEPS must be a whole number"),
    ({"NST_MAX_STEPS": "0"}, "NST_MAX_STEPS must be >= 1"),
    ({"NST_MAX_UPLOAD": "big"}, "NST_MAX_UPLOAD must look like"),
    ({"NST_MAX_SIZE": "100000"}, "NST_MAX_SIZE must be <="),
    ({"NST_MAX_SECONDS": "soon"}, "NST_MAX_SECONDS must be a number of seconds"),
    ({"NST_MAX_SECONDS": "0"}, "NST_MAX_SECONDS must be > 0 seconds"),
    ({"NST_DEFAULT_SIZE": "8"}, "NST_DEFAULT_SIZE must be >= 16"),
])
def test_limits_from_env_rejects_bad_values(env, message):
    with pytest.raises(ValueError, match=message):
        Limits.from_env(env)


def test_check_names_the_limit_a_job_is_over():
    limits = Limits(max_steps=500, max_size=256)
    limits.check(dataclasses.replace(Settings(), steps=500, size=256))
    with pytest.raises(ValueError, match="501 steps is over this server's limit of 500"):
        limits.check(dataclasses.replace(Settings(), steps=501, size=32))
    with pytest.raises(ValueError, match="size 300 px is over this server's limit of 256"):
        limits.check(dataclasses.replace(Settings(), steps=5, size=300))
    assert limits.caps()["size"] == 256 and limits.caps()["steps"] == 500


def test_warm_up_levels_and_tiles_are_bounded_like_the_steps(monkeypatch):
    from nst_core.params import dip

    limits = Limits(max_steps=500, max_size=256)
    dip_run = Settings(param="dip", optimizer="adam", size=256, steps=200)
    limits.check(dataclasses.replace(dip_run, param_options={"warmup_steps": 300}))
    with pytest.raises(ValueError) as exc:
        limits.check(dataclasses.replace(dip_run, param_options={"warmup_steps": 501}))
    assert str(exc.value) == ("501 warm-up steps (dip option warmup_steps) is over this "
                              "server's limit of 500 steps (NST_MAX_STEPS)")
    monkeypatch.setattr(dip, "WARMUP_STEPS", 600)  # the default count is bounded too
    with pytest.raises(ValueError, match="^600 warm-up steps"):
        limits.check(dip_run)
    monkeypatch.undo()
    with pytest.raises(ValueError) as exc:
        limits.check(Settings(size=256, steps=10, multiscale=True, level_steps=(10, 900)))
    assert str(exc.value) == ("level_steps 900 is over this server's limit of 500 steps per "
                              "level (NST_MAX_STEPS)")
    # Steps and warm-up together, over every tile: 300 + 300 steps on 256 px is more than
    # this server's largest run (500 steps on 256 px)...
    with pytest.raises(ValueError) as exc:
        limits.check(dataclasses.replace(dip_run, steps=300, param_options={"warmup_steps": 300}))
    assert str(exc.value) == (
        "this job makes 300 steps and 300 warm-up steps over its levels and tiles, 39 million "
        "pixel-steps: more than this server's largest run, 500 steps at 256 px (33 million; "
        "NST_MAX_STEPS, NST_MAX_SIZE); try fewer steps, a smaller size or larger tiles")
    # ...and so are 500 steps on each of 64-px tiles overlapping by half.
    with pytest.raises(ValueError, match="^this job makes 24,500 steps over its levels and "
                                         "tiles, 100 million pixel-steps"):
        limits.check(Settings(size=256, steps=500, tile_size=64, tile_overlap=32))
    limits.check(Settings(size=256, steps=500, tile_size=128, tile_overlap=0))


def test_style_limit_and_disk_budget():
    limits = Limits(max_styles=2)
    limits.check(Settings(), n_styles=2)
    with pytest.raises(ValueError) as exc:
        limits.check(Settings(), n_styles=3)
    assert str(exc.value) == "3 style images is over this server's limit of 2 (NST_MAX_STYLES)"
    assert Limits.from_env({"NST_MAX_DISK_MB": "64"}).max_disk_mb == 64
    with pytest.raises(ValueError, match="NST_MAX_DISK_MB must be >= 1"):
        Limits.from_env({"NST_MAX_DISK_MB": "0"})


# ----------------------------------------------------------------------------- time limit


@pytest.fixture
def machine(monkeypatch):
    """A calibrated CPU of known cost (10 ms + 1 us per pixel per step, set-up of 2 steps),
    in place of this process's estimator."""
    est = Estimator()
    est.set(Calibration("cpu", fixed=0.01, per_pixel=1e-6, overhead_steps=2.0,
                        methods={estimate.BASE_METHOD: Method()}))
    monkeypatch.setattr(estimate, "ESTIMATOR", est)
    return est


def test_max_seconds_is_read_and_off_by_default():
    assert Limits.from_env({}).max_seconds is None
    assert Limits.from_env({"NST_MAX_SECONDS": "45.5"}).max_seconds == 45.5


def test_jobs_over_the_time_limit_are_refused_with_what_fits(machine):
    limits = Limits(max_seconds=30.0)
    ok = Settings(size=128, steps=100, device="cpu")  # (100 + 2) x 0.026 s = 2.7 s
    admission.check_job(ok, limits, 1)
    slow = dataclasses.replace(ok, size=512, steps=300)  # 302 x 0.272 s = 82 s
    with pytest.raises(ValueError) as exc:
        admission.check_job(slow, limits, 1)
    message = str(exc.value)
    assert message.startswith("this job would take about 82 s on this CPU, over this "
                              "server's limit of 30 s (NST_MAX_SECONDS): try ")
    steps, size = (int(n) for n in re.findall(r"try (\d+) steps or size (\d+) px", message)[0])
    for fits in (dataclasses.replace(slow, steps=steps), dataclasses.replace(slow, size=size)):
        admission.check_job(fits, limits, 1)  # what the message names is accepted
    with pytest.raises(ValueError, match="NST_MAX_SECONDS"):
        admission.check_job(dataclasses.replace(slow, steps=steps + 1), limits, 1)
    # The HTTP API goes through the same check, with the same message.
    with pytest.raises(ValueError) as api:
        settings_io.settings_from_json('{"size": 512, "steps": 300}', limits, 1)
    assert str(api.value) == message


def test_gpu_duration_follows_the_estimate_once_the_pace_is_known(machine):
    limits = Limits(gpu_duration=120)
    quick = Settings(size=128, steps=300, device="cpu")
    # 2 x 7.97 s of estimate, rounded up
    assert limits.gpu_seconds(quick) == math.ceil(2 * (300 + 2) * (0.01 + 1e-6 * 128 * 128))
    assert limits.gpu_seconds(dataclasses.replace(quick, size=1024, steps=1000)) == 120
    content = types.SimpleNamespace(content=Image.new("RGB", (128, 64)))
    assert limits.stylize_duration(content, quick, stop_key="k") < limits.gpu_seconds(quick)


def test_gpu_duration_covers_the_workers_start_up_and_whole_comparisons(machine):
    limits = Limits(gpu_duration=120)
    tiny = Settings(size=64, steps=10, device="cpu")  # 2 x 0.17 s of estimate
    assert limits.gpu_seconds(tiny) == GPU_STARTUP_SECONDS
    assert Limits(gpu_duration=10).gpu_seconds(tiny) == 10  # the cap still rules
    content = types.SimpleNamespace(content=Image.new("RGB", (128, 128)))
    quick = Settings(size=128, steps=100, device="cpu")
    # three methods of one cost (this machine knows no other), one after the other
    assert limits.compare_duration(content, quick, ["lbfgs:pixels", "adam:fft", "sgd:pixels"],
                                   stop_key="k") == math.ceil(
        2 * 3 * (100 + 2) * (0.01 + 1e-6 * 128 * 128))
    plan = types.SimpleNamespace(cells=tuple(types.SimpleNamespace(settings=s) for s in (
        quick, dataclasses.replace(quick, steps=200))))
    assert limits.explore_duration(content, plan, stop_key="k") == math.ceil(
        2 * (102 + 202) * (0.01 + 1e-6 * 128 * 128))


def test_zero_gpu_durations_are_reckoned_without_touching_the_device(machine, monkeypatch):
    # spaces.GPU calls the duration in the page's process, where nothing may run on the GPU.
    monkeypatch.setattr(estimate, "calibrate", lambda *a, **k: pytest.fail("probed"))
    monkeypatch.setattr(estimate, "probe", lambda *a, **k: pytest.fail("probed"))
    limits = Limits(gpu_duration=120)
    assert limits.gpu_seconds(Settings(size=128, steps=100, device="cpu", param="fft")) > 0


def test_gpu_duration_is_the_limit_before_any_gpu_job(monkeypatch):
    monkeypatch.setattr(estimate, "ESTIMATOR", Estimator())
    assert Limits(gpu_duration=77).gpu_seconds(Settings(device="cpu")) == 77


def test_zero_gpu_gets_the_duration_callable(machine, monkeypatch):
    # The stand-in `spaces` module records what spaces.GPU was given.
    calls = []
    fake = types.ModuleType("spaces")

    def gpu(duration):
        calls.append(duration)
        return lambda fn: fn

    fake.GPU = gpu
    monkeypatch.setitem(sys.modules, "spaces", fake)
    limits = Limits(gpu_duration=90)
    jobs.on_gpu(streams.stylize_updates, limits.stylize_duration)
    (duration,) = calls
    job = (types.SimpleNamespace(content=Image.new("RGB", (128, 128))),
           Settings(size=128, steps=100, device="cpu"))
    assert duration(*job, stop_key="x") == limits.gpu_seconds(job[1], 128, 128) < 90
