"""nst_core.estimate: a calibration measured on this machine, and estimates summed over levels
and tiles from it (the accuracy against real runs is bench/estimate.py's table)."""
from __future__ import annotations

import dataclasses
import math

import pytest

from nst_core import estimate
from nst_core.estimate import Calibration, Estimator, Method
from nst_core.engine.schedule import plan
from nst_core.settings import Settings
from nst_core.imaging.images import Image

# A made-up machine: 10 ms a step plus 1 us a pixel, set-up of two steps.
CAL = Calibration("cpu", fixed=0.01, per_pixel=1e-6, overhead_steps=2.0, saved_fixed=1e6,
                  saved_per_pixel=1500.0, weight_bytes=50_000_000,
                  methods={estimate.BASE_METHOD: Method()})


def fresh(cal: Calibration = CAL) -> Estimator:
    est = Estimator()
    est.set(dataclasses.replace(cal, methods=dict(cal.methods)))
    return est


@pytest.fixture(scope="module")
def measured() -> Calibration:
    return estimate.calibrate("cpu", sides=(32, 64), steps=3)


def test_calibration_measures_time_and_saved_tensors(measured):
    assert measured.device == "cpu" and not measured.observed
    assert measured.step(64 * 64) > 0 and measured.per_pixel >= 0 and measured.fixed >= 0
    assert measured.overhead_steps > 0 and measured.seconds > 0
    # VGG19 keeps more than a kilobyte per pixel for its backward pass (64 channels x 4 B at
    # full resolution alone are 256 B per layer), and its weights are tens of MB.
    assert measured.saved_per_pixel > 1000 and measured.weight_bytes > 10_000_000
    shape = measured.methods[estimate.BASE_METHOD]
    assert shape.parameters_per_pixel == 3 and shape.parameters_fixed == 0


def test_method_factors_are_measured_against_the_base(measured):
    dip = estimate.measure_method(measured, Settings(optimizer="adam", param="dip"), steps=3,
                                  side=32)
    assert dip.time > 0 and dip.saved > 0
    # The generator's weights do not grow with the image: no parameters per pixel.
    assert dip.parameters_per_pixel == 0 and dip.parameters_fixed > 100_000
    # Starting from an image, DIP first fits its generator to it: one warm-up step (a forward
    # and backward pass of the generator) is measured in base steps, whatever the run's start
    # image and warm-up count (the run's count is counted, not measured).
    assert dip.warmup_step > 0.05
    cold = estimate.measure_method(measured, Settings(optimizer="adam", param="dip",
                                                      init="noise",
                                                      param_options={"warmup_steps": 999}),
                                   steps=3, side=32)
    assert cold.warmup_step > 0.05
    assert estimate.method_key(Settings(param="dip", param_options={"warmup_steps": 999})) \
        == estimate.method_key(Settings(param="dip"))


def test_a_warm_up_is_counted_per_level_and_tile_where_the_run_has_a_start_image():
    s = Settings(size=100, steps=50, optimizer="adam", param="dip",
                 param_options={"warmup_steps": 40})
    cal = dataclasses.replace(CAL, methods={**CAL.methods,
                                            estimate.method_key(s): Method(warmup_step=0.5)})
    step = 0.01 + 1e-6 * 100 * 50
    assert fresh(cal).estimate(s, 100, 50).seconds == pytest.approx((50 + 2 + 20) * step)
    # From noise there is nothing to fit at the first level; every later one starts from the
    # level before.
    noise = dataclasses.replace(s, init="noise")
    assert fresh(cal).estimate(noise, 100, 50).seconds == pytest.approx((50 + 2) * step)
    pyramid = dataclasses.replace(noise, size=128, multiscale=True, min_size=64)
    levels = plan(Image.new("RGB", (128, 128)), pyramid)
    expected = sum((lv.steps + 2 + (20 if i else 0)) * (0.01 + 1e-6 * lv.width * lv.height)
                   for i, lv in enumerate(levels))
    assert fresh(cal).estimate(pyramid, 128, 128).seconds == pytest.approx(expected)
    work = estimate.work(pyramid, 128, 128)
    assert work.evaluations == sum(lv.steps for lv in levels)
    assert work.warmup_steps == 40 * (len(levels) - 1)
    assert work.pixel_steps == sum((lv.steps + (40 if i else 0)) * lv.width * lv.height
                                   for i, lv in enumerate(levels))


def test_a_parameterization_set_up_is_counted_once_per_run():
    s = Settings(size=100, steps=50, optimizer="adam", param="dip")
    cal = dataclasses.replace(CAL, methods={**CAL.methods,
                                            estimate.method_key(s): Method(setup_steps=30.0)})
    est = fresh(cal).estimate(s, 100, 50)
    assert est.seconds == pytest.approx((50 + 2 + 30) * (0.01 + 1e-6 * 100 * 50))


def test_a_run_is_its_steps_and_its_set_up():
    s = Settings(size=100, steps=50)
    est = fresh().estimate(s, 100, 50)
    pixels = 100 * 50
    assert est.evaluations == 50
    assert est.seconds == pytest.approx((50 + 2) * (0.01 + 1e-6 * pixels))
    assert est.text().startswith("about 1 s, ") and est.text().endswith(" on this CPU")
    # Without a shape the content is taken as a square of the output size (the most pixels).
    assert fresh().estimate(s).seconds > est.seconds


def test_measured_methods_are_bounded(monkeypatch):
    """Every distinct set of options is a method a visitor can make the estimate measure:
    the calibration keeps the latest MAX_METHODS and the base."""
    monkeypatch.setattr(estimate, "measure_method", lambda cal, s, lock=None: Method(time=2.0))
    est = fresh()
    for channels in range(1, estimate.MAX_METHODS + 20):
        est.estimate(Settings(size=64, steps=5, param="dip", optimizer="adam",
                              param_options={"channels": channels}), 64, 64)
    methods = est.known("cpu").methods
    assert len(methods) == estimate.MAX_METHODS and estimate.BASE_METHOD in methods


def test_free_memory_is_the_nearer_of_the_system_and_the_container_limit(tmp_path,
                                                                         monkeypatch):
    system = estimate.free_memory("cpu")
    assert system is not None and system > 0
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text(str(3 * 2 ** 30) + "\n")
    usage.write_text(str(2 ** 30) + "\n")
    monkeypatch.setattr(estimate, "CGROUP_FILES", ((str(limit), str(usage)),))
    assert estimate.free_memory("cpu") == min(system, 2 * 2 ** 30)
    limit.write_text("max\n")  # cgroup v2 without a limit
    assert estimate.free_memory("cpu") == pytest.approx(system, rel=0.2)


def test_multiscale_levels_and_tiles_are_summed():
    s = Settings(size=256, steps=40, multiscale=True, min_size=64)
    est = fresh().estimate(s, 256, 256)
    levels = plan(Image.new("RGB", (256, 256)), s)
    assert [size for size, _ in est.levels] == [lv.size for lv in levels] == [64, 128, 256]
    assert est.evaluations == sum(lv.evaluations for lv in levels) == 40 + 10 + 10
    assert est.seconds == pytest.approx(sum(sec for _, sec in est.levels))
    expected = sum((lv.steps + 2) * (0.01 + 1e-6 * lv.width * lv.height) for lv in levels)
    assert est.seconds == pytest.approx(expected)
    tiled = fresh().estimate(dataclasses.replace(s, multiscale=False, tile_size=128,
                                                 tile_overlap=32), 256, 256)
    assert tiled.evaluations > 40  # 40 steps per tile
    assert tiled.evaluations % 40 == 0
    # Tiles bound the memory: the peak is one tile's, not the whole image's.
    whole = fresh().estimate(dataclasses.replace(s, multiscale=False, tile_size=0), 256, 256)
    assert tiled.peak_bytes < whole.peak_bytes


def test_memory_counts_weights_activations_and_optimizer_state():
    s = Settings(size=128, steps=300)
    lbfgs = fresh().estimate(s, 128, 128)
    pixels = 128 * 128
    history = 4 * (2 * 100 + 2 + 2) * 3 * pixels  # 100 L-BFGS pairs of 3 x pixels floats
    assert lbfgs.peak_bytes == 50_000_000 + int(1e6 + 1500 * pixels) + history
    est = fresh()
    est.known("cpu").methods[estimate.method_key(dataclasses.replace(s, optimizer="adam"))] = \
        Method()
    adam = est.estimate(dataclasses.replace(s, optimizer="adam"), 128, 128)
    assert adam.peak_bytes < lbfgs.peak_bytes


def test_time_budget_caps_the_estimate():
    s = Settings(size=128, steps=1000)
    assert fresh().estimate(dataclasses.replace(s, time_budget=5.0)).seconds == \
        pytest.approx(5.0 + 2 * (0.01 + 1e-6 * 128 * 128))


def test_a_slow_pace_scales_the_work_but_not_the_time_budget():
    s = Settings(size=128, steps=1000, time_budget=5.0)
    est = fresh()
    est.known("cpu").pace = 3.0  # the machine is three times slower than measured just now
    overhead = 2 * (0.01 + 1e-6 * 128 * 128)
    assert est.estimate(s).seconds == pytest.approx(5.0 + 3 * overhead)
    short = dataclasses.replace(s, steps=10)  # ends on its steps, well within the budget
    assert est.estimate(short).seconds == \
        pytest.approx(3 * fresh().estimate(dataclasses.replace(short, time_budget=None)).seconds)
    est.record(s, 128, 128, 60.0)  # its clock stopped it: says nothing of the pace
    assert est.known("cpu").pace == 3.0


def test_finished_jobs_refine_the_pace_and_teach_an_unprobed_device():
    est = fresh()
    s = Settings(size=64, steps=10)
    before = est.estimate(s, 64, 64).seconds
    est.record(s, 64, 64, 3 * before)
    assert est.known("cpu").pace == pytest.approx(2.0)  # half the old pace, half the new
    assert est.estimate(s, 64, 64).seconds == pytest.approx(2 * before)
    # A device never probed (a ZeroGPU worker) has no estimate until a job finished on it.
    blank = Estimator()
    assert blank.estimate(s, 64, 64, measure=False) is None
    blank.record(s, 64, 64, 4.0)
    learnt = blank.estimate(s, 64, 64, measure=False)
    assert learnt.seconds == pytest.approx(4.0) and learnt.peak_bytes == 0
    assert blank.estimate(dataclasses.replace(s, steps=20), 64, 64,
                          measure=False).seconds == pytest.approx(8.0)


def test_fitting_names_the_largest_steps_and_size_within_a_limit():
    est = fresh()
    s = Settings(size=256, steps=300)
    limit = 0.4 * est.estimate(s).seconds
    fit = estimate.fitting(s, limit, estimator=est)
    assert est.estimate(dataclasses.replace(s, steps=fit["steps"])).seconds <= limit
    assert est.estimate(dataclasses.replace(s, steps=fit["steps"] + 1)).seconds > limit
    assert est.estimate(dataclasses.replace(s, size=fit["size"])).seconds <= limit
    assert est.estimate(dataclasses.replace(s, size=fit["size"] + 1)).seconds > limit
    assert estimate.fitting(s, 1e-6, estimator=est) == {}


@pytest.mark.parametrize("seconds, text", [(0.2, "1 s"), (40.4, "40 s"), (160, "3 min"),
                                           (3 * 3600, "3.0 h")])
def test_human_seconds(seconds, text):
    assert estimate.human_seconds(seconds) == text


def test_human_bytes():
    assert estimate.human_bytes(1.2e9) == "1.2 GB" and estimate.human_bytes(3.1e8) == "310 MB"
    assert math.isclose(CAL.step(100), 0.0101)


def test_an_estimator_that_may_not_probe_learns_from_jobs_only(monkeypatch):
    # A ZeroGPU Space's page process: its GPU exists only inside jobs.
    monkeypatch.setattr(estimate, "calibrate", lambda *a, **k: pytest.fail("probed"))
    monkeypatch.setattr(estimate, "measure_method", lambda *a, **k: pytest.fail("probed"))
    est = Estimator(probing=False)
    s = Settings(size=64, steps=10, device="cpu")
    assert est.estimate(s) is None  # measure=True asks for a probe; none is made
    assert estimate.fitting(s, 1.0, estimator=est) == {"steps": 10, "size": 64}
    est.record(s, 64, 64, 4.0)
    assert est.estimate(dataclasses.replace(s, param="fft")).seconds == pytest.approx(4.0)


def test_a_gpu_is_calibrated_at_the_sizes_of_its_runs():
    assert estimate.probe_sides("cpu") == (estimate.PROBE_SIDES, estimate.FACTOR_SIDE)
    sides, factor = estimate.probe_sides("cuda")
    assert min(sides) >= 256 and factor == 512  # launches dominate a GPU step below that


def test_lbfgs_on_a_gpu_holds_its_whole_history_from_the_first_step():
    cal = Calibration("cuda", fixed=0.001, per_pixel=1e-9, overhead_steps=2.0,
                      methods={estimate.BASE_METHOD: Method()})
    pixels = 128 * 128
    short = estimate.estimate_with(cal, Method(), Settings(size=128, steps=10), 128, 128)
    cpu = estimate.estimate_with(dataclasses.replace(cal, device="cpu"), Method(),
                                 Settings(size=128, steps=10), 128, 128)
    assert short.peak_bytes - cpu.peak_bytes == 4 * 3 * pixels * (
        estimate.GPU_LBFGS_VECTORS - estimate.STATE_VECTORS["lbfgs"](10))
