"""The brushstroke and CPPN parameterizations, the sliced Wasserstein and STROTSS losses and the
strotss preset by name on the command line: in ``nst compare`` (scored by the fixed scorer like
the others) and in ``nst`` itself."""
from __future__ import annotations

import json

import pytest

from nst_core.cli.main import main


def test_compare_runs_the_new_methods_with_a_new_loss(tmp_path, content_path, style_path):
    out = tmp_path / "cmp"
    code = main(["compare", "--content", str(content_path), "--style", str(style_path),
                 "--methods", "adam:brushstrokes", "lbfgs:cppn", "--style-loss", "sliced",
                 "--budget-seconds", "2", "--size", "32", "--out", str(out), "--quiet"])
    assert code == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["adam:brushstrokes", "lbfgs:cppn"]
    for row in rows:
        assert row["score"] > 0 and 0 < row["ssim"] <= 1
    assert "CPPN" in (out / "table.md").read_text()


@pytest.mark.parametrize("args", [["--param", "brushstrokes", "--optimizer", "adam"],
                                  ["--param", "cppn", "--param-option", "warmup_steps=3"],
                                  ["--style-loss", "strotss", "--content-loss",
                                   "self_similarity"]])
def test_stylize_takes_them_by_name(args, tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    assert main(["--content", str(content_path), "--style", str(style_path), "--size", "24",
                 "--steps", "1", "--out", str(out), "--quiet", *args]) == 0
    assert out.exists()


def test_an_unknown_option_of_a_new_parameterization_is_one_clear_line(tmp_path, content_path,
                                                                       style_path, capsys):
    code = main(["--content", str(content_path), "--style", str(style_path), "--size", "24",
                 "--steps", "1", "--out", str(tmp_path / "x.png"), "--quiet",
                 "--param", "brushstrokes", "--param-option", "stroke=5"])
    assert code != 0
    assert "unknown brushstrokes option(s) stroke" in capsys.readouterr().err
