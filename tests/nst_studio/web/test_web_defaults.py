"""nst_studio.web.defaults: the form's starting run for the device, within the server's limits."""
from __future__ import annotations

import pytest

from nst_core import estimate
from nst_core.estimate import Calibration, Estimator, Method
from nst_core.engine.schedule import plan
from nst_core.settings import Settings
from nst_core.imaging.images import Image
from nst_studio.web import defaults, forms
from nst_studio.web import settings_io
from nst_studio.web.limits import Limits


def test_a_gpu_starts_from_the_quality_run_and_a_cpu_from_a_short_coarse_to_fine_one():
    gpu = defaults.start_settings(Limits(), kind="cuda")
    assert (gpu.size, gpu.steps, gpu.optimizer, gpu.param, gpu.multiscale) == \
        (512, 300, "lbfgs", "pixels", False)
    cpu = defaults.start_settings(Limits(), kind="cpu")
    assert cpu.multiscale and cpu.size > cpu.min_size
    levels = plan(Image.new("RGB", (512, 512)), cpu)
    assert [level.size for level in levels] == [cpu.min_size, cpu.size]
    # Most steps go to the small level, where a step costs a quarter.
    assert levels[0].steps > levels[1].steps
    assert defaults.device_kind("cpu") == "cpu"


def test_environment_and_limits_override_the_device_defaults():
    start = defaults.start_settings(Limits.from_env({"NST_DEFAULT_SIZE": "384",
                                                     "NST_DEFAULT_STEPS": "77"}), kind="cpu")
    assert (start.size, start.steps) == (384, 77)
    capped = defaults.start_settings(Limits(max_size=200, max_steps=50), kind="cuda")
    assert (capped.size, capped.steps) == (200, 50)
    # An output no larger than the smallest level is one level.
    small = defaults.start_settings(Limits(default_size=96), kind="cpu")
    assert small.size == 96 and not small.multiscale


def test_a_time_limit_lowers_the_starting_steps(monkeypatch):
    est = Estimator()
    est.set(Calibration("cpu", fixed=0.01, per_pixel=1e-6, overhead_steps=2.0,
                        methods={estimate.BASE_METHOD: Method()}))
    monkeypatch.setattr(estimate, "ESTIMATOR", est)
    free = defaults.start_settings(Limits(default_size=512, default_steps=300), kind="cpu")
    limited = defaults.start_settings(Limits(default_size=512, default_steps=300,
                                             max_seconds=5.0), kind="cpu")
    assert limited.steps < free.steps
    assert est.estimate(limited).seconds <= 5.0


def test_the_form_and_the_api_start_from_these_defaults():
    limits = Limits(default_size=64, default_steps=9)
    values = forms.default_values(limits)
    assert (values["size"], values["steps"]) == (64, 9)
    assert values["method"] == "lbfgs:pixels"
    api = settings_io.settings_from_json("", limits, 1)
    assert (api.size, api.steps) == (64, 9) and not api.multiscale
    assert isinstance(defaults.start_settings(limits, Settings), Settings)


def test_unknown_device_kind_is_refused():
    with pytest.raises(ValueError, match="unknown device kind 'tpu'; choose from: cuda, cpu"):
        defaults.hardware_values("tpu")
