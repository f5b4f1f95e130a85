"""The records that cross layers: the run facts each kind of run reports, as result files store
them (their JSON keys must not change), and result files written before a fact existed still
read back."""
from __future__ import annotations

import dataclasses

import pytest
from PIL import Image

from nst_core import Settings, stylize
from nst_core.experiments import tasks
from nst_core.results import result_metadata

BASE = Settings(size=32, steps=2, preview_every=0)
KINDS = {
    "plain": BASE,
    "dip": dataclasses.replace(BASE, param="dip", optimizer="adam",
                               param_options={"warmup_steps": 2}),
    "time": dataclasses.replace(BASE, optimizer="adam", time_budget=1e-9),
    "multiscale": dataclasses.replace(BASE, size=64, multiscale=True, min_size=32,
                                      level_steps=(1, 1)),
    "tiled": dataclasses.replace(BASE, size=128, tile_size=64, tile_overlap=16, steps=1),
}
# Measured on the dict records these typed ones replace (Progress.info): the same keys, for
# the step-0 record, the first record between it and the end, the final record, and the "run"
# object of the result file's JSON.
RUN = {"average", "device", "lr", "optimizer", "param", "parameters", "seed", "setup_seconds",
       "size"}  # an engine run's facts at its start
END = RUN | {"seconds", "seconds_per_step", "steps_done"}  # ... and at its end
FILE = {"step", "stopped"}  # what a result file adds
WARM = {"warmup_mse", "warmup_psnr", "warmup_seconds", "warmup_steps"}
LEVEL = {"level", "level_step", "level_steps", "levels"}
TILES = {"tile_overlap", "tile_size", "tiles"}
PLAN = {"level_plan", "multiscale"}
KEYS = {  # kind: (step 0, first record between, final, the file's "run")
    "plain": (RUN, set(), END, END | FILE),
    "dip": (RUN | WARM, set(), END | WARM, END | WARM | FILE),
    "time": (RUN, set(), END | {"stopped_by"}, END | {"stopped_by"} | FILE),
    "multiscale": (RUN | LEVEL, END | LEVEL, END | LEVEL | PLAN, END | LEVEL | PLAN | FILE),
    "tiled": (LEVEL | TILES | {"size", "tile"}, END | LEVEL | TILES | {"tile", "tile_box"},
              END | LEVEL | TILES | PLAN | {"level_seconds", "losses_are"},
              END | LEVEL | TILES | PLAN | {"level_seconds", "losses_are"} | FILE),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_json_keys_are_those_result_files_hold(kind, content_path, style_path):
    s = KINDS[kind]
    records = list(stylize(content_path, style_path, s))
    mid = [r for r in records if 0 < r.step and not r.done]
    step0, between, final, file = KEYS[kind]
    assert set(records[0].info) == step0
    assert (set(mid[0].info) if mid else set()) == between
    assert set(records[-1].info) == final
    assert set(result_metadata(s, records[-1])["run"]) == file


def _old_metadata(drop: tuple[str, ...]) -> dict:
    run = {"size": [32, 32], "device": "cpu", "param": "pixels", "optimizer": "lbfgs",
           "lr": 1.0, "seed": 3, "parameters": 3072, "setup_seconds": 0.1, "seconds": 1.5,
           "seconds_per_step": 0.75, "step": 2, "stopped": False}
    return {"settings": Settings(size=32, steps=2).to_dict(),
            "losses": {"content": 1.0, "style": 2.0, "tv": 0.0, "total": 3.0},
            "run": {k: v for k, v in run.items() if k not in drop}}


@pytest.mark.parametrize("drop", [(), ("seconds", "seconds_per_step"), ("seed", "step"),
                                  ("param", "optimizer", "lr", "parameters")])
def test_old_result_files_still_read(drop, tmp_path):
    # Files written before a fact existed (or with it left out) rebuild a final record and a
    # table row; what is missing is simply absent.
    meta = _old_metadata(drop)
    image = Image.new("RGB", (32, 32))
    outcome = tasks.Outcome("k", image, meta)
    record = tasks.record_from_metadata(outcome)
    assert record.done and record.losses["total"] == 3.0
    assert record.step == (0 if "step" in drop else 2)
    info = record.info
    for key in ("seconds", "seed", "param"):
        assert (key in info) == (key not in drop)
    source = tasks.Source("c.png", b"")
    task = tasks.make_task(lambda *a: None, Settings(size=32), source, [source], str(tmp_path),
                           "label", "value")
    row = tasks.outcome_row(task, outcome)
    assert row["seconds"] == (None if "seconds" in drop else 1.5)
    assert row["seed"] == (None if "seed" in drop else 3)
