"""Explore modes and labelled sweep grids (nst_core.experiments.sweep) and the sweep command."""
import json

import numpy as np
import pytest
from PIL import Image

from nst_core import Settings
from nst_core.imaging import images
from nst_core.experiments import report
from nst_core.experiments import sweep as sweep_mod
from nst_core.cli.main import main as cli_main
from nst_core.settings import field_infos


def tensor_at(path, size):
    img = images.load_image(path)
    return images.to_tensor(images.resize(img, images.fit_size(*img.size, size)))


def test_sweep_streams_cells_and_a_labelled_grid(content_path, style_path):
    s = Settings(size=32, steps=3, preview_every=0)
    records = list(sweep_mod.sweep(content_path, style_path, s, "style_weight", ["1", "1e4"]))
    final = records[-1]
    assert final.done and final.grid is not None
    assert final.grid.size == (2 * 32 + report.GRID_GAP, 32 + report.LABEL_HEIGHT)
    assert [r["label"] for r in final.results] == ["style_weight=1", "style_weight=10000"]
    finished = [r for r in records if r.image is not None]
    assert [r.cell for r in finished] == [0, 1]
    assert sum(1 for r in records if r.progress is not None) == 2 * (3 + 2)
    # More style weight, lower (unweighted) style loss.
    low, high = final.results
    assert high["losses"]["style"] / 1e4 < low["losses"]["style"] / 1
    # The label strip holds dark text pixels.
    strip = np.asarray(final.grid)[32:, :32]
    assert strip.min() < 128


def test_sweep_values_and_errors():
    assert sweep_mod.parse_value("style_layers", "relu1_1,relu2_1") == ("relu1_1", "relu2_1")
    assert sweep_mod.parse_value("steps", "10") == 10
    assert sweep_mod.parse_value("edge_weight", "none") is None
    s = sweep_mod.cell_settings(Settings(), "method", "adam:pixels")
    assert (s.optimizer, s.param) == ("adam", "pixels")
    assert sweep_mod.cell_settings(Settings(), "preset", "fine-texture").style_layers == (
        "relu1_1", "relu2_1", "relu3_1")
    with pytest.raises(ValueError, match="cannot vary"):
        sweep_mod.cell_settings(Settings(), "colour", 1)
    with pytest.raises(ValueError, match="optimizer:param"):
        sweep_mod.cell_settings(Settings(), "method", "adam")
    with pytest.raises(ValueError, match="style_weight=-1: style_weight must be"):
        next(sweep_mod.sweep("x.png", "y.png", Settings(), "style_weight", ["-1"]))


def test_reconstruction_mode_low_layer_is_close(content_path):
    s = Settings(size=32, steps=30, preview_every=0)
    final = list(sweep_mod.sweep(content_path, None, s, "content_layers", ["relu1_1"],
                                 mode="reconstruct"))[-1]
    assert final.results[0]["losses"]["style"] == 0
    assert final.grid.size == (32, 32 + report.LABEL_HEIGHT)
    cell = images.to_tensor(final.grid.crop((0, 0, 32, 32)))
    assert float((cell - tensor_at(content_path, 32)).square().mean()) < 0.02


def test_texture_mode_needs_no_content(style_path):
    s = Settings(size=32, steps=10, preview_every=0)
    records = list(sweep_mod.sweep(None, style_path, s, "style_layers", ["relu1_1,relu2_1"],
                                   mode="texture"))
    first = next(r.progress for r in records if r.progress is not None)
    final = records[-1]
    assert final.results[0]["losses"]["content"] == 0
    assert final.results[0]["losses"]["style"] < 0.1 * first.losses["style"]


def test_sweep_cli_writes_the_grid(tmp_path, content_path, style_path):
    out, metrics = tmp_path / "grid.png", tmp_path / "m.json"
    code = cli_main(["sweep", "--content", str(content_path), "--style", str(style_path),
                     "--vary", "style_loss", "--values", "gram", "bn", "--size", "32",
                     "--steps", "2", "--out", str(out), "--metrics", str(metrics), "--quiet"])
    assert code == 0
    assert Image.open(out).size == (2 * 32 + report.GRID_GAP, 32 + report.LABEL_HEIGHT)
    assert images.read_png_settings(out)["sweep"]["vary"] == "style_loss"
    assert cli_main(["sweep", "--content", str(content_path), "--style", str(style_path),
                     "--vary", "nope", "--values", "1", "--out", str(out), "--quiet"]) == 2


@pytest.mark.parametrize("vary, text, value", [
    ("level_steps", "3,2", (3, 2)), ("level_steps", "none", None), ("seed", "none", None),
    ("seed", "7", 7), ("lr", "0.5", 0.5), ("multiscale", "yes", True),
    ("style_blend_weights", "1,0.5", (1.0, 0.5)), ("style_loss", "bn", "bn"),
    ("preset", "fine-texture", "fine-texture"), ("method", "adam:fft", "adam:fft"),
])
def test_values_are_read_as_the_setting_describes(vary, text, value):
    assert sweep_mod.parse_value(vary, text) == value


def test_only_lists_are_comma_separated():
    lists = {i.name for i in field_infos() if i.kind in ("strs", "floats", "ints")}
    assert {n for n in lists if sweep_mod.is_list(n)} == lists
    assert not sweep_mod.is_list("style_weight") and not sweep_mod.is_list("preset")
    with pytest.raises(ValueError, match="steps: cannot read 'none'"):
        sweep_mod.parse_value("steps", "none")
    with pytest.raises(ValueError, match="cannot vary 'param_options'"):
        sweep_mod.check_vary("param_options")


def test_cells_record_the_seed_used_and_the_grid_its_json(tmp_path, content_path, style_path):
    out = tmp_path / "grid.png"
    assert cli_main(["sweep", "--content", str(content_path), "--style", str(style_path),
                     "--vary", "steps", "--values", "1", "2", "--size", "32", "--seed", "none",
                     "--out", str(out), "--quiet"]) == 0
    embedded = images.read_png_settings(out)
    assert embedded == json.loads(out.with_suffix(".json").read_text())
    cells = embedded["sweep"]["cells"]
    assert [c["value"] for c in cells] == [1, 2]
    assert all(isinstance(c["seed"], int) for c in cells)


def test_a_grid_of_contents_and_styles_here_resumes_and_reports_failures(tmp_path, content_path,
                                                                         style_path, style2_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    out = tmp_path / "grid.png"
    args = ["sweep", "--content", str(content_path), str(broken), "--styles", str(style_path),
            str(style2_path), "--vary", "steps", "--values", "1", "2", "--size", "32",
            "--out", str(out), "--quiet"]
    assert cli_main(args) == 1  # 4 of 8 runs failed; the others finished
    data = images.read_png_settings(out)["sweep"]
    assert data["runs"] == {"done": 4, "resumed": 0, "failed": 4}
    assert [c["label"] for c in data["cells"][:2]] == ["astronaut/starry_night · steps=1",
                                                       "astronaut/starry_night · steps=2"]
    assert all("broken.png" in c["error"] for c in data["cells"][4:])
    # Every finished run carries the fixed scorer's numbers, the same yardstick for all.
    assert all(0 < c["score"]["ssim"] <= 1 and c["score"]["score"] > 0
               for c in data["cells"][:4])
    grid = Image.open(out)  # a row per content and style, failed cells grey
    assert grid.size == (2 * 32 + report.GRID_GAP,
                         4 * (32 + report.LABEL_HEIGHT) + 3 * report.GRID_GAP)
    assert grid.getpixel((5, 3 * (32 + report.LABEL_HEIGHT + report.GRID_GAP) + 5)) == (
        report.FAILED_GREY)
    assert out.with_suffix(".md").read_text().count("| failed |") == 4
    broken.unlink()
    assert cli_main([a for a in args if a != str(broken)]) == 0
    again = images.read_png_settings(out)["sweep"]
    assert again["runs"] == {"done": 0, "resumed": 4, "failed": 0}
