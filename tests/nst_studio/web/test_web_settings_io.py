"""Settings files (PNG or JSON) and an API call's JSON, read as this server reads them."""
from __future__ import annotations

import dataclasses

import pytest
from PIL import Image

from nst_core.settings import Settings
from nst_studio.web import files
from nst_studio.web import settings_io

from conftest import FORM_LIMITS as LIMITS


def test_settings_files_round_trip(tmp_path):
    settings = dataclasses.replace(Settings(), size=48, steps=9, seed=3, device="cpu")
    meta = {"settings": settings.to_dict(), "losses": {"total": 1.0}}
    png, js = files.save_result(Image.new("RGB", (8, 8), "red"), meta)
    for path in (png, js):
        loaded = settings_io.load_settings_file(path)
        assert loaded.size == 48 and loaded.steps == 9 and loaded.seed == 3
        assert loaded.device == Settings().device  # the server's own device, not the file's
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    with pytest.raises(ValueError, match="holds no settings"):
        settings_io.load_settings_file(plain)
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    with pytest.raises(ValueError, match="neither a PNG made by this tool nor"):
        settings_io.load_settings_file(junk)


def test_settings_from_json_for_the_api():
    s = settings_io.settings_from_json('{"steps": 7, "size": 40}', LIMITS, n_styles=1)
    assert (s.steps, s.size) == (7, 40)
    assert settings_io.settings_from_json("", LIMITS, 1).size == LIMITS.default_size
    with pytest.raises(ValueError, match="NST_MAX_STEPS"):
        settings_io.settings_from_json('{"steps": 9999}', LIMITS, 1)
    with pytest.raises(ValueError, match="unknown setting"):
        settings_io.settings_from_json('{"stpes": 3}', LIMITS, 1)
    with pytest.raises(ValueError, match="not valid JSON"):
        settings_io.settings_from_json("{", LIMITS, 1)
    with pytest.raises(ValueError, match="must be a JSON object"):
        settings_io.settings_from_json("[1]", LIMITS, 1)
