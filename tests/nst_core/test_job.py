"""A job: a run's inputs checked once, at the edge of every interface; the style argument
normalized once; one rule and one message for a style weight without a style image."""
import dataclasses

import pytest

from nst_core import Job, Settings
from nst_core.job import as_styles
from nst_core.settings import validate


def test_the_style_argument_is_a_tuple_once():
    assert as_styles(None) == ()
    assert as_styles("a.png") == ("a.png",)
    assert as_styles(["a.png", "b.png"]) == ("a.png", "b.png")
    assert as_styles(("a.png",)) == ("a.png",)


def test_a_job_is_checked_when_made(content_path, style_path):
    job = Job.of(content_path, [style_path], Settings(size=32), steps=3)
    assert job.styles == (style_path,) and job.settings.steps == 3 and job.masks is None
    with pytest.raises(ValueError, match="steps must be"):
        Job.of(content_path, style_path, Settings(), steps=0)
    with pytest.raises(ValueError, match="choose from"):
        job.with_settings(dataclasses.replace(job.settings, optimizer="newton"))
    with pytest.raises(ValueError, match="blend"):  # the settings' rules for this many styles
        Job(Settings(style_blend_weights=(1.0, 1.0)), content_path, (style_path,))
    validate(job.settings, n_styles=1)
