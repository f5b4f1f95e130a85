"""nst_studio/ui/estimate.py: the estimate line for the form's values, and finished jobs' pace."""
from __future__ import annotations

import types

import pytest
from PIL import Image

from nst_core import estimate as core
from nst_core.estimate import Calibration, Estimator, Method
from nst_core.settings import Settings
from nst_studio.web import forms
from nst_studio.web import settings_io
from nst_studio.web.limits import Limits
from nst_studio.ui import estimate
from nst_studio.ui.panel import Panel


@pytest.fixture
def machine(monkeypatch):
    est = Estimator()
    est.set(Calibration("cpu", fixed=0.01, per_pixel=1e-6, overhead_steps=2.0,
                        methods={core.BASE_METHOD: Method()}))
    monkeypatch.setattr(core, "ESTIMATOR", est)
    monkeypatch.setattr(estimate, "ESTIMATOR", est)
    return est


def form_data(limits: Limits, content: str | None, **values) -> tuple[Panel, dict]:
    """A panel whose 'components' are the form value names themselves."""
    names = forms.default_values(limits)
    panel = Panel(limits, content="content", base="base", form={n: n for n in names})
    return panel, {**names, **values, "content": content, "base": None}


def test_the_line_gives_time_memory_and_steps_for_the_content_shape(machine, tmp_path):
    limits = Limits(default_size=128, default_steps=100)
    path = tmp_path / "wide.png"
    Image.new("RGB", (200, 100)).save(path)
    panel, data = form_data(limits, str(path), multiscale=False)
    line = estimate.text(panel, data, limits)
    # 128 x 64 px: (100 + 2) x (0.01 + 1e-6 x 8192) s = 1.86 s
    assert line.startswith("**Estimate:** about 2 s, ") and line.endswith(
        " on this CPU for 100 steps")
    panel, data = form_data(limits, None, multiscale=False)
    assert estimate.text(panel, data, limits).endswith("(for a square content image)")


def test_the_line_shows_a_refusal_or_a_bad_value(machine):
    limits = Limits(default_size=256, default_steps=300, max_seconds=10.0)
    panel, data = form_data(limits, None, steps=1000 // 2, size=256, multiscale=False)
    assert "over this server's limit of 10 s (NST_MAX_SECONDS): try " in \
        estimate.text(panel, data, limits)
    panel, data = form_data(limits, None, steps="")
    assert estimate.text(panel, data, limits) == "**Estimate:** Steps is empty; enter a number"


def test_finished_jobs_are_recorded(machine):
    settings = settings_io.settings_from_json('{"size": 64, "steps": 10}', Limits(), 1)

    def updates(inputs, settings, **kwargs):
        yield types.SimpleNamespace(done=False)
        yield types.SimpleNamespace(done=True)

    job = types.SimpleNamespace(content=Image.new("RGB", (64, 64)))
    assert [u.done for u in estimate.paced(updates)(job, settings, stop_key="k")] == \
        [False, True]
    # The fake job took almost no time: the pace fell from 1 towards 0.
    assert machine.known("cpu").pace < 0.6


def test_a_zero_gpu_page_waits_for_the_first_job_instead_of_probing(monkeypatch):
    est = Estimator(probing=False)
    monkeypatch.setattr(core, "ESTIMATOR", est)
    monkeypatch.setattr(estimate, "ESTIMATOR", est)
    monkeypatch.setattr(core, "calibrate", lambda *a, **k: pytest.fail("probed"))
    limits = Limits(default_size=64, default_steps=10)
    panel, data = form_data(limits, None)
    assert estimate.text(panel, data, limits) == estimate.UNKNOWN
    monkeypatch.setattr(estimate, "zero_gpu", lambda: True)
    assert estimate.warm_up() is None  # no calibration thread either


def test_a_comparison_line_counts_scoring_and_names_each_warm_up(machine):
    import dataclasses

    from nst_core.experiments.compare import scoring_seconds

    limits = Limits(default_size=64, default_steps=20)
    panel, data = form_data(limits, None, multiscale=False)
    for param in ("dip", "cppn"):
        machine.known("cpu").methods[core.method_key(Settings(param=param, optimizer="adam"))] \
            = Method(warmup_step=0.5)

    def runs(settings):
        return [(p, dataclasses.replace(settings, param=p, optimizer="adam", size=64,
                                        param_options={"warmup_steps": 10} if p != "pixels"
                                        else {}))
                for p in ("pixels", "dip", "cppn")]

    line = estimate.runs_text(panel, data, limits, runs, "methods", scoring=scoring_seconds)
    assert "for 3 methods, one after the other (pixels: " in line
    assert "; scoring: 1 s)" in line, line
    assert "the DIP and CPPN warm-ups take about" in line, line
    plain = estimate.runs_text(panel, data, limits, runs, "runs")
    assert "scoring" not in plain


def test_the_warm_up_status_names_what_is_fitted():
    from nst_studio.ui.common import warming_status

    assert "fitting the CPPN to the start image, 3/10 warm-up" in warming_status(3, 10, ["cppn"])
    assert "the DIP generator or the CPPN" in warming_status(3, 10, ["dip", "cppn"])
