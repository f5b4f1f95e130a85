"""The command line as a new user meets it, by subprocess: defaults fitted to the hardware and
printed with their estimate, the output path checked before any work, the format the extension
names, the files written listed, a folder or a typo'd option answered in one clear line, and
the VGG19 load announced."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

import conftest
from nst_core import read_png_settings

ROOT = str(conftest.ROOT)
ENV = dict(os.environ, PYTHONPATH=ROOT)


def nst(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "nst_core", *map(str, args)], cwd=cwd,
                          env=ENV, capture_output=True, text=True, timeout=300)


def _pair(content_path, style_path) -> list:
    return ["--content", content_path, "--style", style_path]


@pytest.mark.parametrize("out, message", [
    ("{tmp}", "is a folder; give a file name in it"),
    ("{tmp}/missing/out.png", "does not exist"),
    ("{tmp}/out.gif", "unknown image extension '.gif'; choose from: .png, .jpg, .jpeg, .webp"),
    ("/proc/out.png", "cannot write in /proc"),
])
def test_out_is_checked_before_any_work(tmp_path, content_path, style_path, out, message):
    proc = nst(*_pair(content_path, style_path), "--out", out.format(tmp=tmp_path))
    assert proc.returncode == 2
    assert message in proc.stderr and "loading VGG19" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_folder_as_content_is_named(tmp_path, style_path):
    proc = nst("--content", conftest.EXAMPLES, "--style", style_path, "--out",
               tmp_path / "o.png")
    assert proc.returncode == 2
    assert "is a folder; give one image file" in proc.stderr, proc.stderr


def test_a_typo_gives_one_line_and_points_at_help(tmp_path, content_path, style_path):
    proc = nst(*_pair(content_path, style_path), "--out", tmp_path / "o.png", "--stpes", "3")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == ["nst: error: unrecognized arguments: --stpes 3", "see nst --help"]


@pytest.mark.parametrize("suffix, fmt", [(".jpg", "JPEG"), (".webp", "WEBP")])
def test_extension_names_the_format_and_files_are_listed(tmp_path, content_path, style_path,
                                                         suffix, fmt):
    out = tmp_path / f"result{suffix}"
    proc = nst(*_pair(content_path, style_path), "--out", out, "--size", 32, "--steps", 2,
               "--metrics", tmp_path / "m.json")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).format == fmt
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["settings"]["steps"] == 2
    assert "loading VGG19" in proc.stderr
    for path in (out, out.with_suffix(".json"), tmp_path / "m.json"):
        assert str(path) in proc.stdout, proc.stdout
    assert "holds no settings: they are in the JSON" in proc.stdout


def test_png_keeps_its_settings_chunk(tmp_path, content_path, style_path):
    out = tmp_path / "result.png"
    proc = nst(*_pair(content_path, style_path), "--out", out, "--size", 32, "--steps", 2)
    assert proc.returncode == 0, proc.stderr
    assert read_png_settings(out)["settings"]["size"] == 32
    assert f"{out} (the result; settings embedded)" in proc.stdout


def test_without_size_or_steps_the_hardware_defaults_and_estimate_are_printed(
        tmp_path, content_path, style_path):
    """The run itself (a minute on a CPU) is stopped once the network starts loading."""
    proc = subprocess.Popen([sys.executable, "-m", "nst_core", *map(str, _pair(
        content_path, style_path)), "--out", str(tmp_path / "o.png"), "--device", "cpu"],
        cwd=ROOT, env=ENV, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if "loading VGG19" in line:
                break
    finally:
        proc.kill()
        proc.wait()
    text = "".join(seen)
    assert "this CPU's defaults, 256 px, 50 steps, multi-scale from 128 px" in text, text
    assert "estimate: about" in text and "for 62 steps" in text, text


def test_help_says_how_defaults_are_chosen():
    proc = nst("--help")
    assert proc.returncode == 0
    assert "Without --size and --steps the run fits the hardware" in " ".join(
        proc.stdout.split())


@pytest.mark.parametrize("command", [[], ["compare", "--methods", "adam:dip"]])
def test_a_warm_up_shows_on_the_bar_as_it_goes(tmp_path, content_path, style_path, command):
    """A DIP warm-up runs before the first step: the bar names it and counts its steps."""
    out = ["--out", tmp_path / ("cmp" if command else "o.png")]
    proc = nst(*command, *_pair(content_path, style_path), *out, "--size", 32, "--steps", 1,
               "--param", "dip", "--optimizer", "adam", "--param-option", "warmup_steps=20")
    assert proc.returncode == 0, proc.stderr
    assert "setting up, warm-up step 10/20" in proc.stderr, proc.stderr
    assert "warm-up step 20/20" in proc.stderr
