"""Side-by-side comparison of optimizer:param methods (nst_core.experiments.compare) and its
CLI."""
import json
import time

import pytest
from PIL import Image

from nst_core import Settings, read_png_settings
from nst_core.cli.main import main
from nst_core.experiments.compare import compare, compare_stream, scoring_seconds, summarize
from nst_core.methods import parse_method
from nst_core.params.registry import PARAMETERIZATIONS

from conftest import assert_closes_promptly

TINY = Settings(size=32, steps=3, preview_every=2)
METHODS = ["lbfgs:pixels", "adam:fft", "sgd:dip"]


@pytest.mark.parametrize("methods, message", [([], "no methods"),
                                              (["adam:fft", "ADAM:fft"], "listed twice")])
def test_bad_method_lists(methods, message, content_path, style_path):
    with pytest.raises(ValueError, match=message):
        next(compare_stream(content_path, style_path, TINY, methods))


@pytest.fixture(scope="module")
def streamed(content_path, style_path):
    start = time.perf_counter()
    records = list(compare_stream(content_path, style_path, TINY, METHODS))
    return records, time.perf_counter() - start


def test_stream_is_round_robin_with_every_record(streamed):
    records, _ = streamed
    # Step 0 of every method first, then step 1 of every method, ...
    assert [m for m, _ in records[:3]] == METHODS
    assert [r.step for _, r in records[:6]] == [0, 0, 0, 1, 1, 1]
    for method in METHODS:
        mine = [r for m, r in records if m == method]
        assert [r.step for r in mine] == [0, 1, 2, 3, 3]
        assert [r.done for r in mine] == [False] * 4 + [True]
        assert [r.step for r in mine if r.preview is not None and not r.done] == [0, 2]
        optimizer, param = parse_method(method)
        assert mine[-1].info["optimizer"] == optimizer and mine[-1].info["param"] == param
        elapsed = [r.elapsed for r in mine]
        assert elapsed == sorted(elapsed) and elapsed[0] == 0


def test_each_method_is_timed_on_its_own_steps(streamed):
    records, wall = streamed
    finals = {m: r for m, r in records if r.done}
    own = [f.info["seconds"] for f in finals.values()]
    assert all(s > 0 for s in own)
    # Each method's clock excludes the others' turns, so together they fit in the wall time.
    assert sum(own) < wall
    for f in finals.values():
        assert f.elapsed == f.info["seconds"]
        assert f.info["seconds_per_step"] == pytest.approx(f.info["seconds"] / 3)
    assert finals["sgd:dip"].info["parameters"] > 100 * finals["lbfgs:pixels"].info["parameters"]


def test_summary_grid_curves_table_json(streamed, content_path, style_path):
    records, _ = streamed
    finals = {m: r for m, r in records if r.done}
    histories = {m: [{"step": r.step, "seconds": r.elapsed, **r.losses}
                     for mm, r in records if mm == m] for m in METHODS}
    result = summarize(content_path, style_path, finals, histories, TINY)
    # 5 tiles (content, style, 3 results) in one row of enlarged tiles with captions.
    assert result.grid.width > 5 * 200 and 200 < result.grid.height < 2 * 200
    assert len(result.grid.convert("L").getcolors(256)) > 50  # pictures, not blank tiles
    assert result.curves.width > 400 and result.curves.height > 200
    assert [r["method"] for r in result.rows] == METHODS
    for row in result.rows:
        assert set(row["losses"]) == {"content", "style", "tv", "total"}
        assert row["seconds"] > 0 and row["seconds_per_step"] > 0 and row["parameters"] > 0
        assert row["label"] in result.markdown
    assert result.markdown.count("\n") == 2 + len(METHODS)
    data = json.loads(result.to_json())
    assert data["methods"] == METHODS and len(data["histories"]["adam:fft"]) == 5
    assert data["settings"]["size"] == 32


def test_summary_needs_final_records(streamed, content_path, style_path):
    records, _ = streamed
    not_final = {m: r for m, r in records if r.step == 1}
    with pytest.raises(ValueError, match="not a final one"):
        summarize(content_path, style_path, not_final, {}, TINY)


def test_closing_the_stream_stops_every_run(content_path, style_path):
    gen = compare_stream(content_path, style_path, Settings(size=32, steps=10_000),
                         ["adam:pixels", "adam:fft"])
    for method, record in gen:
        if record.step == 2:
            break
    assert_closes_promptly(gen, 0.5)


def test_compare_calls_back_for_every_record(content_path, style_path):
    seen = []
    result = compare(content_path, style_path, Settings(size=32, steps=2, preview_every=0),
                     ["adam:pixels", "lbfgs:fft"], on_record=lambda m, r: seen.append((m, r.step)))
    assert len(seen) == 2 * 4
    assert set(result.images) == {"adam:pixels", "lbfgs:fft"}


def test_cli_writes_grid_curves_table_and_results(tmp_path, content_path, style_path):
    out = tmp_path / "cmp"
    code = main(["compare", "--content", str(content_path), "--style", str(style_path),
                 "--methods", "adam:pixels", "adam:fft", "--steps", "2", "--size", "32",
                 "--out", str(out), "--quiet"])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["adam_fft.json", "adam_fft.png", "adam_pixels.json", "adam_pixels.png",
                     "curves.png", "grid.png", "results.json", "table.md"]
    assert Image.open(out / "adam_fft.png").size == (32, 32)
    # Each result carries its own method and the seed used, embedded and beside it.
    embedded = read_png_settings(out / "adam_fft.png")
    assert embedded == json.loads((out / "adam_fft.json").read_text())
    assert (embedded["settings"]["optimizer"], embedded["settings"]["param"]) == ("adam", "fft")
    assert embedded["settings"]["seed"] == embedded["run"]["seed"] == 0
    assert embedded["losses"] == data_row(out, "adam:fft")["losses"]
    data = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in data["rows"]] == ["adam:pixels", "adam:fft"]
    assert "Adam · FFT" in (out / "table.md").read_text()


def data_row(out, method):
    rows = json.loads((out / "results.json").read_text())["rows"]
    return next(r for r in rows if r["method"] == method)


def test_bad_settings_fail_before_any_run(content_path, style_path):
    with pytest.raises(ValueError, match="steps must be"):
        next(compare_stream(content_path, style_path, Settings(size=32, steps=0), ["adam:fft"]))


def test_cli_bad_method_exits_2_with_one_line(tmp_path, content_path, style_path, capsys):
    code = main(["compare", "--content", str(content_path), "--style", str(style_path),
                 "--methods", "adam:voxels", "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "voxels" in err and len(err.splitlines()) == 1


def test_equal_time_stops_every_method_near_its_budget(content_path, style_path):
    from nst_core.experiments.compare import EQUAL_TIME_STEPS

    budget = 1.0
    s = Settings(size=32, steps=EQUAL_TIME_STEPS, time_budget=budget, preview_every=0)
    finals = {m: r for m, r in compare_stream(content_path, style_path, s,
                                              ["adam:pixels", "lbfgs:pyramid"]) if r.done}
    for method, final in finals.items():
        spent, per_step = final.info["seconds"], final.info["seconds_per_step"]
        assert final.info["stopped_by"] == "time_budget", method
        # Stopped at the first step boundary past the budget: within a step or two of it.
        assert budget <= spent <= budget + 2 * per_step + 0.25, (method, spent, per_step)
        assert final.step > 1


def test_default_comparison_puts_every_parameterization_at_its_best():
    from nst_core.methods import DEFAULT_METHODS

    assert [parse_method(m)[1] for m in DEFAULT_METHODS] == list(PARAMETERIZATIONS)
    for method in DEFAULT_METHODS:
        optimizer, param = parse_method(method)
        assert optimizer == PARAMETERIZATIONS[param].best


def test_cli_equal_time_comparison_carries_the_fixed_score(tmp_path, content_path, style_path):
    out = tmp_path / "eq"
    code = main(["compare", "--content", str(content_path), "--style", str(style_path),
                 "--methods", "adam:pixels", "lbfgs:fft", "--budget-seconds", "1.5",
                 "--size", "32", "--out", str(out), "--quiet"])
    assert code == 0
    data = json.loads((out / "results.json").read_text())
    for row in data["rows"]:
        assert row["score"] > 0 and 0 < row["ssim"] <= 1 and row["style_distance"] > 0
        assert 1.5 <= row["seconds"] < 4 and row["steps"] > 1
        curve = [p for p in data["histories"][row["method"]] if "fixed_score" in p]
        assert len(curve) >= 2 and curve[-1]["fixed_score"] == pytest.approx(row["score"])
        assert curve[0]["seconds"] < curve[-1]["seconds"]
    table = (out / "table.md").read_text()
    for header in ("Parameters", "Seconds", "Steps", "Score", "SSIM"):
        assert header in table
    assert Image.open(out / "curves.png").width >= 1400  # three panels: score vs seconds last
    with pytest.raises(SystemExit):
        main(["compare", "--content", str(content_path), "--style", str(style_path),
              "--budget-seconds", "x", "--out", str(out)])


def test_scoring_seconds_count_a_pass_per_preview_and_two_more():
    from nst_core.estimate import BASE_METHOD, Calibration, Estimator, Method
    est = Estimator()
    cal = Calibration("cpu", fixed=0.01, per_pixel=1e-6, overhead_steps=0.0, saved_fixed=0.0,
                      saved_per_pixel=0.0, weight_bytes=0, methods={BASE_METHOD: Method()})
    est.set(cal)
    step = 0.01 + 1e-6 * 64 * 64
    s = Settings(size=64, steps=100, preview_every=10, device="cpu")
    assert scoring_seconds(s, 64, 64, est) == pytest.approx(12 * step)
    # Equal time: only the steps its clock allows are previewed (about half of them here).
    half = Settings(size=64, steps=100, preview_every=10, device="cpu", time_budget=55 * step)
    assert scoring_seconds(half, 64, 64, est) == pytest.approx(7 * step)
    cal.pace = 2.0  # a busier machine: each pass takes twice as long, and fewer steps fit
    assert scoring_seconds(half, 64, 64, est) == pytest.approx(2 * 4 * step)
    assert scoring_seconds(s, 64, 64, Estimator()) == 0.0  # no calibration yet
