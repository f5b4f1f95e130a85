"""The session gallery: entries from result PNGs, captions, the bound, side-by-side picks."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PIL import Image

from nst_core.records import Progress, RunFacts
from nst_core.results import result_metadata
from nst_core.settings import Settings
from nst_studio.web import files, gallery


def _result(name: str, stopped: bool = False, seconds: float | None = 12.4
            ) -> str:
    settings = dataclasses.replace(Settings(), size=64, steps=20, optimizer="adam", param="fft")
    record = Progress(12 if stopped else 20, 20, 0.0, {"total": 1234.5},
                      run=RunFacts(seed=3, seconds=seconds))
    png, _ = files.save_result(Image.new("RGB", (64, 48), "red"),
                               result_metadata(settings, record, stopped=stopped), prefix=name)
    return png


def test_an_entry_copies_the_result_and_captions_it():
    png = _result("a")
    entries = gallery.add([], png, {"elapsed": 99.0})
    assert len(entries) == 1
    entry = entries[0]
    assert Path(entry["path"]).parent == gallery.folder() and Path(entry["path"]).is_file()
    assert entry["caption"] == "#1 Adam · FFT · 64 px · 20/20 steps · 12 s · loss 1.23e+03"
    assert gallery.items(entries) == [(entry["path"], entry["caption"])]
    assert gallery.listing(entries) == f"- {entry['caption']}"
    gallery.remove_files(entries)
    assert not Path(entry["path"]).exists()


def test_a_stopped_run_says_so_and_takes_its_seconds_from_the_job():
    png = _result("b", stopped=True, seconds=None)
    entry = gallery.add([], png, {"elapsed": 7.0})[0]
    assert "12/20 steps · 7 s" in entry["caption"] and entry["caption"].endswith("(stopped)")
    gallery.remove_files([entry])


def test_the_same_result_is_kept_once_and_nothing_is_added_without_one():
    png = _result("c")
    entries = gallery.add([], png, None)
    assert gallery.add(entries, png, None) == entries
    assert gallery.add(entries, entries[0]["path"], None) == entries  # a shown entry's copy
    assert gallery.add(entries, None, None) == entries
    gallery.remove_files(entries)
    assert gallery.add(entries, None, None) == []  # pruned files drop out


def test_the_gallery_is_bounded_newest_first(monkeypatch, tmp_path):
    # A folder of its own: the server's is shared by every visit (and test) of this process.
    monkeypatch.setattr(gallery, "folder", lambda: tmp_path)
    entries: list = []
    for i in range(4):
        entries = gallery.add(entries, _result(f"d{i}"), None, max_entries=3)
    assert [e["number"] for e in entries] == [4, 3, 2]
    assert len(list(tmp_path.glob("run1_*"))) == 0  # the dropped one's copy is gone
    assert len(list(tmp_path.glob("run*_*"))) == 3
    gallery.remove_files(entries)


def test_pick_keeps_the_last_two_clicked():
    entries: list = []
    for i in range(3):
        entries = gallery.add(entries, _result(f"e{i}"), None)
    entry, picked = gallery.pick(entries, 0, [])
    assert entry["number"] == 3 and picked == [entries[0]["path"]]
    _, picked = gallery.pick(entries, 2, picked)
    assert picked == [entries[0]["path"], entries[2]["path"]]
    _, picked = gallery.pick(entries, 1, picked)
    assert picked == [entries[2]["path"], entries[1]["path"]]
    _, picked = gallery.pick(entries, 1, picked)  # the same one again: shown once
    assert picked == [entries[2]["path"], entries[1]["path"]]
    with pytest.raises(ValueError, match="no run number 9"):
        gallery.pick(entries, 8, picked)
    gallery.remove_files(entries)
