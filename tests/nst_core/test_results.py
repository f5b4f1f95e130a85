"""The one results writer (nst_core.results): PNG with metadata embedded, JSON beside it."""
import json

import numpy as np
from PIL import Image

from nst_core import Settings, read_png_settings
from nst_core.imaging import images
from nst_core.records import PlanFacts, Progress, RunFacts
from nst_core.results import json_path, result_metadata, write_result
from nst_core.engine.schedule import stylize_final
from nst_core.settings import from_dict


def finished_record(**facts):
    return Progress(4, 4, 0.5, {"content": 1.0, "style": 2.0, "tv": 0.0, "total": 3.0},
                    done=True, **facts)


def test_metadata_layout_run_facts_and_extra():
    # A fact with no JSON form (a NaN) is left out.
    record = finished_record(run=RunFacts(seed=7, size=(32, 24), device="cpu",
                                          average=float("nan")),
                             plan=PlanFacts(level_plan=({"size": 32, "steps": 4},)))
    meta = result_metadata(Settings(seed=0), record, stopped=True, extra={"sweep": {"v": 1}})
    assert set(meta) == {"settings", "losses", "run", "sweep"}
    assert meta["settings"] == Settings(seed=7).to_dict()
    assert meta["losses"] == record.losses
    # JSON-able facts only; tuples as lists.
    assert meta["run"] == {"seed": 7, "size": [32, 24], "device": "cpu",
                           "level_plan": [{"size": 32, "steps": 4}], "step": 4, "stopped": True}
    json.dumps(meta, allow_nan=False)


def test_write_result_embeds_and_writes_json_beside(tmp_path):
    img = Image.fromarray(np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3))
    meta = result_metadata(Settings(size=16), finished_record(run=RunFacts(seed=3)),
                           extra={"note": ("a", 1)})
    png, js = write_result(img, tmp_path / "deep" / "out.png", meta)
    assert png == tmp_path / "deep" / "out.png" and js == tmp_path / "deep" / "out.json"
    assert json_path(png) == js
    embedded = read_png_settings(png)
    assert embedded == json.loads(js.read_text())
    assert embedded["note"] == ["a", 1]
    assert from_dict(embedded["settings"]) == Settings(size=16, seed=3)
    assert np.array_equal(np.asarray(Image.open(png).convert("RGB")), np.asarray(img))


def test_png_written_before_still_reads(tmp_path):
    old = {"settings": Settings().to_dict(), "losses": {"total": 1.0}}
    path = tmp_path / "old.png"
    images.save_png(Image.new("RGB", (8, 8)), path, old)
    assert read_png_settings(path) == json.loads(json.dumps(old))
    assert from_dict(read_png_settings(path)["settings"]) == Settings()


def test_the_seed_used_is_recorded_and_repeats_the_run(tmp_path, content_path, style_path):
    asked = Settings(size=32, steps=2, init="noise", seed=None, preview_every=0)
    final = stylize_final(content_path, style_path, asked)
    meta = result_metadata(asked, final)
    seed = meta["settings"]["seed"]
    assert isinstance(seed, int) and seed == final.info["seed"] == meta["run"]["seed"]
    png, _ = write_result(final.image, tmp_path / "r.png", meta)
    again = stylize_final(content_path, style_path,
                          from_dict(read_png_settings(png)["settings"]))
    assert np.array_equal(np.asarray(again.image), np.asarray(final.image))
