"""One admission check for every job, from the page and the API, with the same messages."""
from __future__ import annotations

import dataclasses
import json

import pytest

from nst_core import Job, stylize
from nst_core.settings import Settings
from nst_studio.web import admission, forms, settings_io

from conftest import FORM_LIMITS as LIMITS, form

NO_STYLE = "no style image: upload one, or set the style weight to 0"


@pytest.mark.parametrize("changes, n_styles, message", [
    ({"seed": 2 ** 63}, 1, "seed must be a whole number between 0 and "
                           "9223372036854775807 (or none), got 9223372036854775808"),
    ({"param_options": {"octaves": 2}}, 1,
     "parameterization 'pixels' has no option(s) ['octaves']; it takes: none"),
    ({}, 4, "4 style images is over this server's limit of 3 (NST_MAX_STYLES)"),
])
def test_every_job_passes_one_check_from_the_page_and_the_api(changes, n_styles, message):
    """The page (settings_from_form) and the API (settings_from_json) end in check_job."""
    settings = dataclasses.replace(Settings(), size=32, steps=2, **changes)
    with pytest.raises(ValueError) as exc:
        admission.check_job(settings, LIMITS, n_styles)
    assert str(exc.value) == message
    with pytest.raises(ValueError) as exc:
        settings_io.settings_from_json(json.dumps(settings.to_dict()), LIMITS, n_styles)
    assert str(exc.value) == message
    admission.check_job(dataclasses.replace(Settings(), size=32, steps=2, seed=2 ** 63 - 1),
                    LIMITS, 1)


def test_a_style_weight_without_a_style_image_is_one_message_everywhere(content_path):
    # The Python API, the page's form and the HTTP API's JSON refuse it alike.
    with pytest.raises(ValueError, match=NO_STYLE):
        next(stylize(content_path, None, Settings(size=32, steps=1)))
    with pytest.raises(ValueError, match=NO_STYLE):
        forms.settings_from_form(form(), limits=LIMITS, n_styles=0)
    with pytest.raises(ValueError, match=NO_STYLE):
        settings_io.settings_from_json("{}", LIMITS, 0)
    # Content only is a job too.
    assert Job.of(content_path, None, Settings(), style_weight=0).styles == ()
