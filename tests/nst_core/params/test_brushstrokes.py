"""The brushstroke parameterization: curves, the renderer, the start, refinement, options."""
import math

import pytest
import torch

from nst_core import Settings, stylize
from nst_core.imaging import images
from nst_core.optim.registry import OPTIMIZERS
from nst_core.params import brushstrokes as bs


def one_stroke(y=8.0, x0=4.0, x1=28.0, half_width=2.0, color=(1.0, 0.0, 0.0)):
    """A straight horizontal stroke on a black 16 x 32 canvas."""
    points = torch.tensor([[[x0, y], [(x0 + x1) / 2, y], [x1, y]]])
    return bs.render(bs.bezier(points), torch.tensor([half_width]), torch.tensor([color]),
                     torch.zeros(3), 16, 32, cell=4)


def test_bezier_starts_ends_and_bends_towards_its_control_point():
    points = torch.tensor([[[0.0, 0.0], [5.0, 10.0], [10.0, 0.0]]])
    curve = bs.bezier(points, 5)[0]
    torch.testing.assert_close(curve[0], points[0, 0])
    torch.testing.assert_close(curve[-1], points[0, 2])
    torch.testing.assert_close(curve[2], torch.tensor([5.0, 5.0]))  # halfway to the control


def test_a_stroke_covers_its_width_along_its_curve_and_nothing_else():
    image = one_stroke()[0]
    assert image.shape == (3, 16, 32)
    # Pixel centres at y = 7.5 and 8.5 lie 0.5 from the centreline: inside, red.
    assert float(image[0, 7:9, 8:24].min()) > 0.8 and float(image[1:, 7:9, 8:24].max()) < 0.05
    # 1.5 px beyond the half width of 2 (the centreline or the round end cap): the canvas.
    assert float(image[:, 11:, :].max()) < 0.1 and float(image[:, :, 31:].max()) < 0.1
    wide = one_stroke(half_width=4.0)[0]
    assert float(wide[0, 11, 8:24].min()) > 0.5 > float(image[0, 11, 8:24].max())


def test_the_nearest_covering_stroke_wins_a_pixel():
    points = torch.tensor([[[2.0, 6.0], [16.0, 6.0], [30.0, 6.0]],
                           [[2.0, 10.0], [16.0, 10.0], [30.0, 10.0]]])
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    image = bs.render(bs.bezier(points), torch.tensor([4.0, 4.0]), colors, torch.zeros(3),
                      16, 32, cell=4)[0]
    assert float(image[0, 5, 16]) > 0.9 and float(image[2, 11, 16]) > 0.9


def test_render_is_differentiable_in_every_stroke_parameter(content_path):
    torch.manual_seed(0)
    content = images.to_tensor(images.load_image(content_path).resize((24, 20)))
    params, image_fn = bs.make_brushstrokes((1, 3, 20, 24), content, strokes=6,
                                            generator=torch.Generator().manual_seed(0))
    weights = torch.linspace(-1, 1, 3 * 20 * 24).reshape(1, 3, 20, 24)
    (image_fn() * weights).sum().backward()
    location, curve, width, color = params
    assert location.shape == (6, 2) and curve.shape == (6, 3, 2)
    assert width.shape == (6,) and color.shape == (6, 3)
    for p in params:
        assert torch.isfinite(p.grad).all()
        # Every stroke, every coordinate: each parameter moves the picture.
        assert bool((p.grad != 0).all()), p.grad


def test_memory_is_bounded_by_the_nearest_strokes_not_their_number():
    """What autograd keeps for a render grows with the pixels, not with the stroke count."""
    def saved_bytes(strokes):
        kept = []
        params, image_fn = bs.make_brushstrokes((1, 3, 48, 48), strokes=strokes,
                                                generator=torch.Generator().manual_seed(0))
        with torch.autograd.graph.saved_tensors_hooks(
                lambda t: kept.append(t.numel() * t.element_size()) or t, lambda t: t):
            image_fn().sum()
        return sum(kept)

    few, many = saved_bytes(60), saved_bytes(570)
    assert many < 1.1 * few


def test_nearest_strokes_finds_the_covering_stroke():
    points = torch.tensor([[[2.0, 4.0], [8.0, 4.0], [14.0, 4.0]],
                           [[2.0, 12.0], [8.0, 12.0], [14.0, 12.0]]])
    idx = bs.nearest_strokes(bs.bezier(points), torch.tensor([1.0, 1.0]), 16, 16, cell=2, k=1)
    assert idx.shape == (1, 256)
    rows = idx.view(16, 16)
    assert bool((rows[:6] == 0).all()) and bool((rows[10:] == 1).all())


def _segment_distance(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance from point p to the segment a-b, written out plainly."""
    d = b - a
    t = ((p - a) @ d / (d @ d)).clamp(0, 1)
    return (p - (a + t * d)).norm()


def test_polyline_distance_and_its_hand_written_gradient_are_exact():
    g = torch.Generator().manual_seed(0)
    xs, ys = (torch.rand(3, 6, generator=g, dtype=torch.float64) * 10 for _ in range(2))
    pixels = torch.rand(7, 2, generator=g, dtype=torch.float64) * 10
    idx = torch.randint(0, 3, (2, 7), generator=g)  # 2 strokes listed per pixel
    dist = bs.PolylineDistance.apply(pixels, xs, ys, idx)
    assert dist.shape == (2, 7)
    points = torch.stack([xs, ys], dim=-1)
    for rank in range(2):
        for p in range(7):
            line = points[idx[rank, p]]
            expected = min(_segment_distance(pixels[p], line[i], line[i + 1]) for i in range(5))
            # Up to the 1e-8 under the square root that keeps its gradient finite at 0.
            torch.testing.assert_close(dist[rank, p], expected, atol=1e-6, rtol=1e-6)
    assert torch.autograd.gradcheck(lambda a, b: bs.PolylineDistance.apply(pixels, a, b, idx),
                                    (xs.requires_grad_(), ys.requires_grad_()))


def _two_strokes():
    points = torch.tensor([[[2.0, 4.0], [8.0, 4.0], [14.0, 4.0]],
                           [[18.0, 12.0], [24.0, 12.0], [30.0, 12.0]]])
    return bs.bezier(points), torch.tensor([1.0, 1.0])


def test_the_nearest_strokes_are_searched_again_only_once_a_stroke_has_moved():
    curves, widths = _two_strokes()
    right = torch.tensor([1.0, 0.0])
    lists = bs.Neighbours(16, 32, 2, tolerance=1.0, candidates_tolerance=4.0)
    first = lists(curves, widths)
    assert torch.equal(first, bs.nearest_strokes(curves, widths, 16, 32, 2))
    assert (lists.searches, lists.reranks) == (1, 1)
    assert lists(curves + 0.5 * right, widths) is first  # within the tolerance: kept
    moved = curves + 2 * right  # beyond it, within the candidates': ranked again
    assert torch.equal(lists(moved, widths), bs.nearest_strokes(moved, widths, 16, 32, 2))
    assert (lists.searches, lists.reranks) == (1, 2)
    lists(moved, widths + 1.5)  # a half width counts as a move
    assert (lists.searches, lists.reranks) == (1, 3)
    far = curves + 10 * right  # beyond the candidates' tolerance: searched from the start
    assert torch.equal(lists(far, widths), bs.nearest_strokes(far, widths, 16, 32, 2))
    assert (lists.searches, lists.reranks) == (2, 4)
    with torch.no_grad():  # a read someone sees is never drawn from old lists
        lists(far, widths)
    assert (lists.searches, lists.reranks) == (3, 5)
    always = bs.Neighbours(16, 32, 2)
    always(curves, widths), always(curves, widths)
    assert (always.searches, always.reranks) == (2, 2)


def test_a_run_on_a_cpu_reuses_the_lists(monkeypatch):
    made = []
    real = bs.Neighbours.__init__

    def record(self, *args, **kwargs):
        real(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(bs.Neighbours, "__init__", record)
    _, image_fn = bs.make_brushstrokes((1, 3, 32, 32), strokes=64)
    spacing = math.sqrt(32 * 32 / 64)
    assert made[-1].tolerance == pytest.approx(bs.REUSE * spacing)
    assert made[-1].candidates_tolerance == pytest.approx(bs.REUSE_CANDIDATES * spacing)
    image_fn(), image_fn()
    assert made[-1].reranks == 1
    with torch.no_grad():
        image_fn()
    assert made[-1].reranks == 2
    # On a GPU it searches at every render and reads nothing back to decide: a step without
    # host syncs, tests/nst_core/engine/test_devices.py.


def test_strokes_start_from_the_content(content_path):
    content = images.to_tensor(images.load_image(content_path).resize((64, 64)))
    _, image_fn = bs.make_brushstrokes((1, 3, 64, 64), content, strokes=400,
                                       generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        start = image_fn()
        noise = bs.make_brushstrokes((1, 3, 64, 64), None, strokes=400,
                                     generator=torch.Generator().manual_seed(0))[1]()
    assert float((start - content).square().mean()) < 0.03
    assert float((start - content).square().mean()) < 0.2 * float(
        (noise - content).square().mean())
    assert bs.stroke_count(64, 64, 400) == 400


def test_stroke_count_is_capped_on_small_images():
    assert bs.stroke_count(16, 16, 5000) == 64
    params, _ = bs.make_brushstrokes((1, 3, 16, 16), strokes=5000)
    assert params[0].shape[0] == pytest.approx(64, rel=0.1)


def test_strokes_follow_the_edges_of_the_start_image():
    """A vertical edge: strokes near it are vertical (along it), not across it."""
    image = torch.zeros(1, 3, 64, 64)
    image[..., 32:] = 1
    start = bs.initial_strokes(image, 64, 64, 64, torch.Generator().manual_seed(0))
    near = (start["location"][:, 0] * start["spacing"] - 32).abs() < 6
    direction = start["curve"][near, 2] - start["curve"][near, 0]
    assert bool((direction[:, 1].abs() > 3 * direction[:, 0].abs()).all())


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_pixel_refinement_takes_over_after_the_stroke_steps(optimizer):
    torch.manual_seed(0)
    params, image_fn = bs.make_brushstrokes((1, 3, 24, 24), None, stroke_steps=2,
                                            strokes=40)
    assert len(params) == 5 and float(params[4].detach().abs().sum()) == 0
    opt = OPTIMIZERS[optimizer](params, 0.05 if optimizer != "sgd" else 1.0)
    target = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    snapshots = []
    for _ in range(4):
        def closure():
            opt.zero_grad()
            loss = (image_fn() - target).square().mean()
            loss.backward()
            return loss
        opt.step(closure)
        snapshots.append([p.detach().clone() for p in params])
    strokes_moved = [not torch.equal(a, b) for a, b in zip(snapshots[0][:4], snapshots[1][:4])]
    assert any(strokes_moved) and float(snapshots[1][4].abs().sum()) == 0
    assert float(snapshots[3][4].abs().sum()) > 0
    with torch.no_grad():
        image = image_fn()
        # From the third step on, the picture is the frozen rendering plus the pixel layer:
        # the strokes no longer change it (L-BFGS's history may still move them, unseen).
        rendering = image - bs.PIXEL_SCALE * params[4]
        params[4].add_(0.01)
        torch.testing.assert_close(image_fn() - bs.PIXEL_SCALE * params[4], rendering)
    assert float(image.min()) >= 0 and float(image.max()) <= 1


def test_a_refined_run_under_the_engine(content_path, style_path):
    s = Settings(size=32, steps=4, preview_every=0, param="brushstrokes", optimizer="adam",
                 param_options={"strokes": 100, "stroke_steps": 2})
    records = list(stylize(content_path, style_path, s))
    assert records[-1].losses["total"] < records[0].losses["total"]


@pytest.mark.parametrize("options, message", [
    ({"count": 3}, "unknown brushstrokes option"), ({"strokes": 0}, "strokes must be"),
    ({"strokes": 2.5}, "strokes must be"), ({"stroke_steps": -1}, "stroke_steps must be"),
    ({"strokes": 10 ** 6}, "between 1 and 100000"), ({"strokes": True}, "strokes must be")])
def test_bad_options_are_value_errors(options, message):
    with pytest.raises(ValueError, match=message):
        bs.make_brushstrokes((1, 3, 16, 16), **options)


def test_strokes_are_projected_back_into_bounds_before_each_render():
    params, image_fn = bs.make_brushstrokes((1, 3, 32, 32), strokes=16)
    location, curve, width, _ = params
    with torch.no_grad():
        width.fill_(10.0)  # e^10 grid spacings: one stroke over the whole canvas
        curve.fill_(50.0)
        location.fill_(-3.0)
        image_fn()
    assert float(width.detach().max()) == pytest.approx(math.log(bs.MAX_WIDTH))
    assert float(curve.detach().max()) == bs.MAX_REACH
    assert float(location.detach().min()) == 0.0


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_a_few_steps_under_every_optimizer(optimizer, content_path, style_path):
    s = Settings(size=32, steps=3, preview_every=0, param="brushstrokes", optimizer=optimizer,
                 param_options={"strokes": 60})
    records = list(stylize(content_path, style_path, s))
    first, final = records[0].losses, records[-1].losses
    assert final["total"] < first["total"] and math.isfinite(final["total"])
    assert records[-1].image.size == (32, 32)
