"""A grid's runs (nst_core.experiments.tasks): inputs, identity, resuming, failures reported,
in-process."""
from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from conftest import EXAMPLES
from nst_core import Settings
from nst_core.experiments import tasks as tasks_mod
from nst_core.experiments.tasks import (Source, image_files, load_finished, make_task, perform,
                                        perform_here, save_outcome)
from nst_core.experiments.sweep import stylize_task

TINY = Settings(size=32, steps=1, preview_every=0)


def test_image_files_expand_folders_in_name_order(tmp_path):
    for name in ("b.png", "a.jpg"):
        shutil.copy(EXAMPLES / "astronaut.png", tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    one = str(EXAMPLES / "coffee.png")
    assert image_files([tmp_path, one], "content") == [
        str(tmp_path / "a.jpg"), str(tmp_path / "b.png"), one]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="content folder .*empty holds no images"):
        image_files([empty], "content")
    with pytest.raises(FileNotFoundError, match="style .*nope.png: no such file or folder"):
        image_files([tmp_path / "nope.png"], "style")


def test_a_run_is_named_by_its_inputs_and_settings(tmp_path, content_path, style_path):
    content, style = Source.read(content_path), Source.read(style_path)
    a = make_task(stylize_task, TINY, content, [style], tmp_path, "x")
    assert a.key == make_task(stylize_task, TINY, Source.read(content_path), [style], tmp_path,
                              "y").key
    assert a.path.startswith(str(tmp_path / "astronaut__starry_night__"))
    other = [make_task(stylize_task, Settings(size=33, steps=1), content, [style], tmp_path, "x"),
             make_task(stylize_task, TINY, style, [style], tmp_path, "x"),
             make_task(stylize_task, TINY, content, [content], tmp_path, "x")]
    assert len({a.key, *(r.key for r in other)}) == 4
    copy = tmp_path / "astronaut.png"
    copy.write_bytes(content.data[:-1] + b"\0")  # same name, other bytes
    assert make_task(stylize_task, TINY, Source.read(copy), [style], tmp_path, "x").key != a.key


def test_results_are_written_once_and_read_back(tmp_path, content_path, style_path):
    task = make_task(stylize_task, TINY, Source.read(content_path), [Source.read(style_path)],
                     tmp_path, "style_weight=1", 1.0)
    assert load_finished(task) is None
    seen = []
    perform_here([task], lambda t, o: (save_outcome(t, o), seen.append(o)))
    (outcome,) = seen
    assert outcome.ok and outcome.metadata["grid"]["key"] == task.key
    back = load_finished(task)
    assert back.resumed and back.metadata == json.loads(json.dumps(outcome.metadata))
    assert back.image.size == outcome.image.size == (32, 32)
    assert tasks_mod.outcome_row(task, back)["status"] == "resumed"
    final = tasks_mod.record_from_metadata(back)
    assert final.done and final.losses == outcome.metadata["losses"] and final.step == 1
    # A JSON cut short, or another run's, means: run it again.
    js = tmp_path / (task.path[len(str(tmp_path)) + 1:-4] + ".json")
    js.write_text(js.read_text()[:-20])
    assert load_finished(task) is None
    js.write_text(json.dumps(dict(outcome.metadata, grid={"key": "other"})))
    assert load_finished(task) is None


def test_a_failure_is_returned_with_its_message(tmp_path, style_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    task = make_task(stylize_task, TINY, Source.read(bad), [Source.read(style_path)], tmp_path, "x")
    outcome = perform(task)
    assert not outcome.ok and outcome.image is None
    assert outcome.error.startswith(f"content image {bad}")
    save_outcome(task, outcome)
    assert not list(tmp_path.glob("bad__*"))  # nothing written: the next run tries again
    row = tasks_mod.outcome_row(task, outcome)
    assert row["status"] == "failed" and row["file"] is None and row["error"] == outcome.error


def test_a_mask_and_blended_styles_travel_with_the_run(tmp_path, content_path, style_path,
                                                      style2_path):
    mask = tmp_path / "half.png"
    Image.new("L", (8, 8), 255).save(mask)
    styles = [Source.read(style_path), Source.read(style2_path)]
    task = make_task(stylize_task, TINY, Source.read(content_path), styles, tmp_path, "x",
                     masks=[Source.read(mask), Source.read(mask)])
    assert [s.path for s in task.sources()] == [str(content_path), str(style_path),
                                               str(style2_path), str(mask), str(mask)]
    assert "starry_night+the_scream" in task.path
    outcome = perform(task)
    assert outcome.ok, outcome.error
    assert outcome.metadata["grid"]["masks"] == [str(mask), str(mask)]
