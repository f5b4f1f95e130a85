import argparse
import dataclasses
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

import conftest
from conftest import half_masks
from nst_core import Settings, read_png_settings
from nst_core.cli import options as cli_options
from nst_core.cli.main import main
from nst_core.cli.options import add_settings_arguments, settings_from_args
from nst_core.settings import field_infos, setting

ROOT = str(conftest.ROOT)


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


# ------------------------------------------------------------- options generated from Settings

@dataclasses.dataclass(frozen=True)
class Extended(Settings):
    sharpness: float = setting(0.5, label="Sharpness", help="how crisp the strokes are",
                               group="images", minimum=0.0, maximum=1.0)


def extended_parser():
    parser = argparse.ArgumentParser(prog="x",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_settings_arguments(parser, cls=Extended)
    return parser


def test_a_field_added_with_metadata_is_an_option():
    parser = extended_parser()
    text = parser.format_help()
    assert "--sharpness SHARPNESS" in text
    assert "how crisp the strokes are (default: 0.5)" in " ".join(text.split())
    images_group = text.split("Images and colour:")[1].split("Multi-scale and tiling:")[0]
    assert "--sharpness" in images_group
    s = settings_from_args(parser.parse_args(["--sharpness", "0.8", "--steps", "5"]), cls=Extended)
    assert isinstance(s, Extended) and s.sharpness == 0.8 and s.steps == 5
    assert settings_from_args(parser.parse_args([]), cls=Extended) == Extended()
    with pytest.raises(ValueError, match="sharpness must be"):
        settings_from_args(parser.parse_args(["--sharpness", "2"]), cls=Extended)


@pytest.mark.parametrize("info", [i for i in field_infos() if i.cli], ids=lambda i: i.name)
def test_every_setting_has_an_option_with_its_help(info):
    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_settings_arguments(parser)
    flag = info.flag or "--" + info.name.replace("_", "-")
    text = " ".join(parser.format_help().split())
    assert f"{flag} " in text
    assert " ".join(info.help.split()) in text


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    return settings_from_args(parser.parse_args(list(argv)))


def test_options_apply_over_the_preset():
    assert parse() == Settings()
    fine = parse("--preset", "fine-texture", "--steps", "7")
    assert fine.style_layers == ("relu1_1", "relu2_1", "relu3_1") and fine.steps == 7
    s = parse("--preset", "fine-texture", "--style-layers", "relu2_1", "--style-blend", "1",
              "--level-steps", "3", "2", "--multiscale", "--seed", "none", "--lr", "0.5",
              "--param", "fft", "--param-option", "decay_power=1.5",
              "--param-option", "decorrelate=false")
    assert s.style_layers == ("relu2_1",) and s.style_blend_weights == (1.0,)
    assert s.level_steps == (3, 2) and s.multiscale and s.seed is None and s.lr == 0.5
    # Values are read as JSON where they are JSON, else as text.
    assert s.param_options == {"decay_power": 1.5, "decorrelate": False}
    assert cli_options._options(["name=x"]) == {"name": "x"}


def test_the_seed_used_is_recorded_beside_the_result(tmp_path, content_path, style_path):
    out = tmp_path / "r.png"
    assert main(["--content", str(content_path), "--style", str(style_path), "--out", str(out),
                 "--size", "32", "--steps", "2", "--seed", "none", "--quiet"]) == 0
    embedded = read_png_settings(out)
    assert embedded == json.loads(out.with_suffix(".json").read_text())
    assert isinstance(embedded["settings"]["seed"], int)
    assert embedded["run"]["seed"] == embedded["settings"]["seed"]
    assert embedded["run"]["step"] == 2 and embedded["run"]["stopped"] is False


def test_ctrl_c_on_a_grid_is_one_line_and_status_130(monkeypatch, capsys):
    from nst_core.cli import main as cli
    from nst_core.experiments import distributed

    def cancelled(argv):
        raise distributed.Interrupted("cancelled 3 of 8 runs; finished results are kept")

    monkeypatch.setitem(cli.COMMANDS, "grid", cancelled)
    assert main(["grid"]) == 130
    assert capsys.readouterr().err == (
        "interrupted: cancelled 3 of 8 runs; finished results are kept\n")


def test_a_saturated_result_is_reported(tmp_path, content_path, style_path, capsys):
    code = main(["--content", str(content_path), "--style", str(style_path), "--out",
                 str(tmp_path / "blown.png"), "--size", "32", "--steps", "3", "--optimizer",
                 "adam", "--lr", "1e9", "--quiet"])
    assert code == 0 and (tmp_path / "blown.png").is_file()
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and "the run saturated" in err


def test_single_run_cli_takes_param_and_options(tmp_path, content_path, style_path):
    from nst_core.params.base import count_parameters
    from nst_core.params.dip import make_dip

    metrics = tmp_path / "m.json"
    code = main(["--content", str(content_path), "--style", str(style_path), "--out",
                 str(tmp_path / "o.png"), "--size", "32", "--steps", "1", "--param", "dip",
                 "--optimizer", "adam", "--param-option", "channels=8",
                 "--param-option", "warmup_steps=2", "--metrics", str(metrics), "--quiet"])
    assert code == 0
    m = json.loads(metrics.read_text())
    assert m["param"] == "dip" and m["parameters"] == count_parameters(
        make_dip((1, 3, 32, 32), channels=8)[0])
    bad = main(["--content", str(content_path), "--style", str(style_path), "--out",
                str(tmp_path / "o.png"), "--size", "32", "--steps", "1", "--param", "fft",
                "--param-option", "decay_power=-2", "--quiet"])
    assert bad == 2


def test_cli_masks_and_edge_options(tmp_path, content_path, style_path, style2_path, capsys):
    left, right = half_masks(32)
    lp, rp = tmp_path / "l.png", tmp_path / "r.png"
    left.save(lp)
    right.save(rp)
    out = tmp_path / "o.png"
    common = ["--content", str(content_path), "--out", str(out), "--size", "32", "--steps", "2",
              "--quiet"]
    assert main(["--style", str(style_path), "--style", str(style2_path), "--mask", str(lp),
                 *common]) == 2
    assert "1 mask(s) for 2 style" in capsys.readouterr().err
    assert main(["--style", str(style_path), "--style", str(style2_path), "--mask", str(lp),
                 "--mask", str(rp), "--edge-weight", "0.5", *common]) == 0
    assert read_png_settings(out)["settings"]["edge_weight"] == 0.5
