"""Coarse-to-fine runs at tiny sizes (32 -> 64 px): sizes, one continuous stream, closing."""
import dataclasses
import math

import pytest

from nst_core import Settings, stylize
from nst_core.cli import main as cli
from nst_core.engine.schedule import default_level_steps, level_sizes, plan, stylize_multiscale

from conftest import assert_closes_promptly

TINY = Settings(size=64, steps=4, preview_every=2, multiscale=True, min_size=32)


@pytest.mark.parametrize("size,min_size,factor,expected", [
    (512, 128, 2.0, [128, 256, 512]),
    (512, 100, 2.0, [128, 256, 512]),
    (512, 512, 2.0, [512]),
    (512, 1000, 2.0, [512]),
    (512, 256, math.sqrt(2), [256, 362, 512]),  # crowsonkb's gen_scales(256, 512)
])
def test_level_sizes(size, min_size, factor, expected):
    assert level_sizes(size, min_size, factor) == expected


def test_plan_levels_steps_and_errors(content_path):
    levels = plan(content_path, dataclasses.replace(TINY, size=128))
    assert [lv.size for lv in levels] == [32, 64, 128]
    assert [lv.steps for lv in levels] == list(default_level_steps(3, 4)) == [4, 1, 1]
    with pytest.raises(ValueError, match="level_steps has 2 values for 3 levels"):
        plan(content_path, dataclasses.replace(TINY, size=128), level_steps=(3, 3))
    with pytest.raises(ValueError, match="level_steps must be whole numbers"):
        plan(content_path, TINY, level_steps=(3, 0))
    with pytest.raises(ValueError, match="min_size"):
        list(stylize_multiscale(content_path, None, TINY, min_size=4, style_weight=0))
    # A level whose short side would be below 32 px is left out (VGG19 needs 16x16 at pool4).
    wide = plan(content_path, dataclasses.replace(TINY, size=64, min_size=16))
    assert [lv.size for lv in wide] == [32, 64]


@pytest.fixture(scope="module")
def stream(content_path, style_path):
    return list(stylize_multiscale(content_path, style_path, TINY, level_steps=(4, 3)))


def test_stream_is_continuous_across_levels(stream):
    records = stream
    total = 7
    assert [r.step for r in records] == list(range(total + 1)) + [total]
    assert all(r.total == total for r in records)
    assert [r.info["level"] for r in records] == [0] * 5 + [1] * 4
    assert records[0].info["size"] == [32, 32] and records[-1].info["size"] == [64, 64]
    assert records[0].preview is not None and records[0].preview.size == (32, 32)
    # The first level's result is the preview that bridges to the next level.
    assert records[4].preview is not None and records[4].preview.size == (32, 32)
    assert not any(r.done for r in records[:-1])
    final = records[-1]
    assert final.done and final.image.size == (64, 64)
    assert [lv["size"] for lv in final.info["level_plan"]] == [[32, 32], [64, 64]]
    assert final.info["seconds"] >= records[-2].elapsed >= records[1].elapsed > 0


def test_requested_size_non_square_and_via_settings(style_path):
    # coffee.png is 600x400: the top level is 96x64, the level below 48x32.
    from conftest import EXAMPLES

    records = list(stylize(EXAMPLES / "coffee.png", style_path,
                           dataclasses.replace(TINY, size=96, level_steps=(1, 1),
                                               preview_every=0)))
    assert records[-1].image.size == (96, 64)
    assert [lv["size"] for lv in records[-1].info["level_plan"]] == [[48, 32], [96, 64]]


def test_multiscale_lowers_the_top_level_objective(stream, content_path, style_path):
    """Starting the top level from the upsampled small result beats starting it from content
    with the same number of top-level steps (the stream's top level made 3)."""
    from nst_core.imaging import images
    from nst_core.engine.loop import evaluate
    from nst_core.engine.prepare import prepare

    s = dataclasses.replace(TINY, preview_every=0, multiscale=False, steps=3)
    single = list(stylize(content_path, style_path, s))[-1]
    prepared = prepare(content_path, style_path, s)
    assert evaluate(prepared, images.to_tensor(stream[-1].image))["total"] < \
        0.7 * evaluate(prepared, images.to_tensor(single.image))["total"]


def test_closing_stops_promptly(content_path, style_path):
    gen = stylize_multiscale(content_path, style_path, TINY, level_steps=(1, 10_000))
    for record in gen:
        if record.info["level"] == 1:
            break
    assert_closes_promptly(gen, 1.0)


def test_cli_multiscale(tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    status = cli.main(["--content", str(content_path), "--style", str(style_path), "--out",
                       str(out), "--size", "64", "--multiscale", "--min-size", "32",
                       "--level-steps", "1", "1", "--quiet"])
    assert status == 0
    from PIL import Image

    assert Image.open(out).size == (64, 64)
    bad = cli.main(["--content", str(content_path), "--style", str(style_path), "--out",
                    str(out), "--size", "64", "--multiscale", "--min-size", "32",
                    "--level-steps", "1", "--quiet"])
    assert bad == 2


@pytest.mark.parametrize("multiscale", [False, True])
def test_stylize_validates_once_at_its_edge(monkeypatch, content_path, style_path, multiscale):
    from nst_core import job as job_module
    from nst_core.engine.schedule import stylize_job

    calls = []
    real = job_module.validate
    monkeypatch.setattr(job_module, "validate", lambda s, **kw: calls.append(s) or real(s, **kw))
    s = dataclasses.replace(TINY, steps=1, level_steps=(1, 1) if multiscale else None,
                            multiscale=multiscale)
    list(stylize(content_path, style_path, s))
    assert len(calls) == 1
    job = job_module.Job(s, content_path, (style_path,))  # checked once, when made
    assert len(calls) == 2
    list(stylize_job(job))  # a job made elsewhere runs without checking again
    assert len(calls) == 2
    with pytest.raises(ValueError, match="choose from"):
        next(stylize(content_path, style_path, s, optimizer="newton"))
