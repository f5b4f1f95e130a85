import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from nst_core import read_png_settings
from nst_core.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "nst_core", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_end_to_end_png_previews_and_metrics(tmp_path, content_path, style_path):
    out, metrics, previews = tmp_path / "out.png", tmp_path / "m.json", tmp_path / "prev"
    proc = run_cli("--content", content_path, "--style", style_path, "--out", out, "--size", 64,
                   "--steps", 12, "--optimizer", "adam", "--preset", "fine-texture",
                   "--preview-every", 5, "--preview-dir", previews, "--metrics", metrics,
                   "--seed", 3)
    assert proc.returncode == 0, proc.stderr
    assert "12/12" in proc.stderr  # the tqdm bar
    img = Image.open(out)
    assert img.size == (64, 64) and img.format == "PNG"
    embedded = read_png_settings(out)
    assert embedded["settings"]["style_layers"] == ["relu1_1", "relu2_1", "relu3_1"]
    assert sorted(os.listdir(previews)) == ["step_0000.png", "step_0005.png", "step_0010.png"]
    m = json.loads(metrics.read_text())
    assert m["param"] == "pixels" and m["optimizer"] == "adam" and m["steps"] == 12
    assert m["size"] == [64, 64] and m["device"] == "cpu"
    assert m["seconds"] > 0 and m["seconds_per_step"] > 0
    assert set(m["losses"]) == {"content", "style", "tv", "total"}
    rows = m["history"]
    assert [r["step"] for r in rows] == [0, 5, 10, 12]
    assert all(set(r) == {"step", "seconds", "content", "style", "tv", "total"} for r in rows)
    assert rows[-1]["total"] == m["losses"]["total"]


def test_help_explains_every_option():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for option in ("--param", "--optimizer", "--steps", "--size", "--style-weight",
                   "--content-weight", "--tv-weight", "--preset", "--preserve-color", "--init",
                   "--pooling", "--seed", "--device", "--preview-every", "--preview-dir",
                   "--metrics"):
        assert option in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--style", "{style}", "--content", "/nope.png"], "content image: file not found"),
    (["--style", "{bad}", "--content", "{content}"], "style image: not an image"),
    (["--style", "{style}", "--content", "{content}", "--steps", "0"], "steps must be"),
    (["--style", "{style}", "--content", "{content}", "--device", "cuda"], "no CUDA GPU"),
    (["--style", "{style}", "--content", "{content}", "--param-option", "x"], "KEY=VALUE"),
])
def test_errors_are_one_line_without_traceback(args, message, tmp_path, content_path,
                                               style_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    fill = {"style": style_path, "bad": bad, "content": content_path}
    argv = [a.format(**fill) for a in args] + ["--out", str(tmp_path / "o.png"), "--size", "32",
                                                "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()
