"""Brushstroke parameterization (Kotovenko, Wright, Heimbrecht and Ommer, "Rethinking Style
Transfer: From Pixels to Parameterized Brushstrokes", CVPR 2021).

The image is a set of strokes, each a quadratic Bezier curve (a centre, offsets of its start,
control and end points) with a width and a colour, drawn by a differentiable renderer on a flat
canvas; the optimizer moves, bends, widens and recolours strokes, never a pixel. The result
reads as paint: the style can only be laid down in strokes.

Renderer (:func:`render`), after the paper's: each pixel's distance to a stroke is its distance
to the curve (sampled as a polyline of :data:`CURVE_POINTS` points); a stroke covers the pixel
through a sigmoid of (half width - distance), about two pixels wide, so coverage, position and
width have gradients; among the strokes that cover a pixel the nearest centreline wins,
softened by a softmax over distances, and what no stroke covers shows the canvas. Memory is
bounded by considering only each pixel's :data:`NEIGHBOURS` nearest strokes (found without
gradients on blocks of pixels; on a CPU found again only once a stroke has moved by a fraction
of the grid spacing, :class:`Neighbours`) and by keeping five numbers per pixel and neighbour
for the backward pass (:class:`PolylineDistance`): pixels x NEIGHBOURS, whatever the stroke
count (bench/brushstroke_cost.py measures it).

Start (:func:`initial_strokes`): strokes on a jittered grid over the image, oriented along the
start image's local edges (the structure tensor's minor axis, as a painter follows contours),
each coloured with the mean of the image under its centreline; the canvas is the image's mean
colour. Without a start image, random orientations and colours on a grey canvas.

Pixel refinement (Kotovenko et al.'s second stage): with ``stroke_steps`` set, the first that
many optimization steps move strokes; from then on the strokes are frozen and a pixel layer on
top of their rendering is optimized, which adds the detail strokes cannot hold.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from ..fields import option, option_values
from .base import Parameterization, Parameterized, per_pixel_lr
from .fft import SIGMOID_EPS

# Points on each curve's polyline: a quadratic Bezier of the curvature strokes reach is within a
# small fraction of a pixel of 6 points' polyline at the sizes used here.
CURVE_POINTS = 6
# Strokes considered per pixel (their renderer bounds memory the same way, with the k nearest).
NEIGHBOURS = 8
# Side of the blocks the nearest strokes are found for, in grid spacings.
CELL = 0.5
# The search's first pass: blocks COARSE times the side of the blocks neighbours are kept for,
# and CANDIDATES per kept neighbour, enough that re-ranking them finds what ranking every stroke
# for each small block finds (bench/brushstroke_cost.py measures the difference).
COARSE = 4
CANDIDATES = 6
# How far (in grid spacings) any stroke may move, a curve point or its half width, before the
# nearest strokes are searched again (:class:`Neighbours`): REUSE for the second pass, which
# ranks each block's candidates, REUSE_CANDIDATES for the first, which ranks every stroke. On a
# CPU the search is most of a render, and Adam moves strokes by a fraction of a spacing a step.
# On the default objective (astronaut x Starry Night), 50 Adam steps made 4 first and 16
# second passes at 128 px, 4 and 15 at 256 px, with the rendering 0.19 and 0.05 levels (of
# 255) from searching at every render on average (bench/brushstroke_cost.py); raising the
# first pass's tolerance from 0.5 to 2 spacings changed that by nothing measurable. On a GPU
# the search is cheap and deciding would stop the queue for the host, so it runs at every
# render.
REUSE, REUSE_CANDIDATES = 0.5, 2.0
# Scale (px) of the sigmoid edge of a stroke: coverage rises from 10% to 90% over 4.4 x EDGE,
# about two pixels of anti-aliasing, through which position and width get their gradients.
EDGE = 0.5
# Temperature (px) of the softmax that lets the nearest covering stroke win a pixel.
NEAREST = 1.0
# Start shape, in units of the grid spacing d = sqrt(H*W / strokes): a stroke twice as long as
# the spacing and 0.9 of it wide covers about twice the image, so the jittered grid leaves no
# canvas showing.
LENGTH, WIDTH = 2.0, 0.9
JITTER = 0.5  # of a grid cell, uniform
# Half side (in grid spacings) of the box the structure tensor that orients strokes is averaged in.
ORIENTATION_SCALE = 1.0
# Bounds strokes are projected back into before each render (in grid spacings), as the pixel
# parameterization clamps its values: a rate too large for a step then leaves strokes that are
# too thick or too long, not one stroke over the whole canvas (seen with L-BFGS at lr 2), and the
# neighbour search's discs stay small.
MIN_WIDTH, MAX_WIDTH = 0.1, 4.0
MAX_REACH = 3.0  # of the start, control and end points from the stroke's centre
# Pixel layer: its parameter is multiplied by this, so the optimizer's learning rate for strokes
# moves a pixel at about the pixel parameterization's Adam pace.
PIXEL_SCALE = 0.2
# Kotovenko et al.'s count at 512 px (a stroke per 7.2 px of grid). The same count at every size
# keeps a picture's brushwork as the size changes; at 256 px after 100 Adam steps (astronaut x
# Starry Night, the fixed scorer's score / luma SSIM) 5000 strokes gave 1.86e6 / 0.219, 2000
# gave 2.40e6 / 0.190 and 1250 (the paper's density) 2.95e6 / 0.189, with finer detail to see.
STROKES = 5000

# The options (Settings.param_options) and their ranges: 100,000 strokes is 20 times the paper's
# count, one per 10 px^2 at 1024 px.
OPTIONS = (
    option("strokes", STROKES, minimum=1, maximum=100_000,
           help="brushstrokes (at most one per 4 px^2: fewer on a small image)"),
    option("stroke_steps", None, kind="int", optional=True, minimum=0, maximum=100_000,
           help="optimization steps that move strokes; after them the strokes are frozen and "
                "a pixel layer on top is optimized (none: strokes only)"),
)


def bezier(points: torch.Tensor, samples: int | None = None) -> torch.Tensor:
    """N x 3 x 2 (start, control, end) -> N x samples (default CURVE_POINTS) x 2 points of the
    quadratic curve."""
    samples = CURVE_POINTS if samples is None else samples
    t = torch.linspace(0, 1, samples, device=points.device, dtype=points.dtype)[:, None]
    s, c, e = points[:, 0:1], points[:, 1:2], points[:, 2:3]
    return (1 - t) ** 2 * s + 2 * (1 - t) * t * c + t ** 2 * e


def pixel_centres(height: int, width: int, device, step: float = 1.0) -> torch.Tensor:
    """(rows*cols) x 2 (x, y) centres of a grid of ``step``-pixel cells over the image."""
    ys = torch.arange(0, height, step, device=device, dtype=torch.float32) + step / 2
    xs = torch.arange(0, width, step, device=device, dtype=torch.float32) + step / 2
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], dim=1)


def _blocks(height: int, width: int, cell: int) -> tuple[int, int]:
    """Rows and columns of ``cell``-pixel blocks over the image."""
    return -(-height // cell), -(-width // cell)


def _spread(per_block: torch.Tensor, height: int, width: int, cell: int) -> torch.Tensor:
    """rows x cols x k values of blocks -> k x (height*width), each pixel its block's (a row
    per rank, the pixels along it, as the renderer reads them)."""
    k = per_block.shape[-1]
    grid = per_block.permute(2, 0, 1).repeat_interleave(cell, 1)[:, :height] \
        .repeat_interleave(cell, 2)[:, :, :width]
    return grid.reshape(k, height * width)


# Block-candidate-point distances the second pass computes at once: 2 MB temporaries, which
# halved its time against one batch at 128 px (the memory pages, as for DISTANCE_CHUNK below).
RERANK_CHUNK = 2 ** 19


@torch.no_grad()
def nearest_strokes(curves: torch.Tensor, half_widths: torch.Tensor, height: int, width: int,
                    cell: int, k: int | None = None) -> torch.Tensor:
    """k x (H*W) indices of the strokes nearest each pixel (a row per rank), found for the
    centre of each ``cell`` x ``cell`` block in two passes: :func:`candidates` for blocks
    COARSE times larger, then :func:`rerank` for each block."""
    return rerank(curves, half_widths, candidates(curves, half_widths, height, width, cell, k),
                  height, width, cell, k)


def _neighbours(k: int | None, n: int) -> int:
    """Strokes listed per pixel: k (default NEIGHBOURS), at most all n."""
    return min(NEIGHBOURS if k is None else k, n)


@torch.no_grad()
def candidates(curves: torch.Tensor, half_widths: torch.Tensor, height: int, width: int,
               cell: int, k: int | None = None) -> torch.Tensor:
    """The search's first pass: for each block COARSE x ``cell`` pixels wide (row by row),
    every stroke ranked by the distance to the disc that holds it (its curve lies in the hull
    of its points, so within the largest distance of a point from the curve's middle, plus the
    half width), and the CANDIDATES x k best kept. The only pass that sees every stroke: one
    distance per stroke and coarse block."""
    n, points = curves.shape[:2]
    middle = curves[:, points // 2]
    reach = (curves - middle[:, None]).norm(dim=-1).amax(-1) + half_widths
    coarse = pixel_centres(height, width, curves.device, cell * COARSE).to(curves.dtype)
    return (torch.cdist(coarse, middle) - reach) \
        .topk(min(n, CANDIDATES * _neighbours(k, n)), dim=1, largest=False).indices


@torch.no_grad()
def rerank(curves: torch.Tensor, half_widths: torch.Tensor, cand: torch.Tensor, height: int,
           width: int, cell: int, k: int | None = None) -> torch.Tensor:
    """The second pass: each ``cell`` x ``cell`` block re-ranks its coarse block's
    :func:`candidates` by the distance to the nearest of their curve points less the half
    width and keeps k; all the blocks of a coarse block in one batched product (the
    candidates' points gathered once per coarse block, not once per block), RERANK_CHUNK
    values at a time. -> k x (H*W)."""
    points = curves.shape[1]
    k = _neighbours(k, curves.shape[0])
    big = cell * COARSE
    coarse = pixel_centres(height, width, curves.device, big).to(curves.dtype)
    blocks, many = cand.shape
    # Centres of a coarse block's COARSE x COARSE blocks, from its own centre (small numbers,
    # so the squared distances below keep their precision in float32).
    local = (torch.arange(COARSE, device=curves.device, dtype=curves.dtype) + 0.5) * cell \
        - big / 2
    ly, lx = torch.meshgrid(local, local, indexing="ij")
    offsets = torch.stack([lx.flatten(), ly.flatten()], dim=1)
    widths = half_widths[cand]
    parts = []
    step = max(1, RERANK_CHUNK // (len(offsets) * many * points))
    for i in range(0, blocks, step):
        chunk = cand[i:i + step]
        pts = (curves[chunk] - coarse[i:i + step, None, None]).view(len(chunk), -1, 2)
        # |o - p|^2 = |p|^2 + |o|^2 - 2 o.p, for every block centre o and candidate point p.
        square = torch.baddbmm((pts * pts).sum(-1)[:, None, :]
                               + (offsets * offsets).sum(-1)[None, :, None],
                               offsets.expand(len(chunk), -1, -1), pts.transpose(1, 2), alpha=-2)
        near = square.view(len(chunk), len(offsets), many, points).amin(-1).clamp_min_(0) \
            .sqrt_().sub_(widths[i:i + step, None])
        parts.append(chunk[:, None].expand(-1, len(offsets), -1)
                     .gather(2, near.topk(k, dim=2, largest=False).indices))
    best = torch.cat(parts)
    rows, cols = _blocks(height, width, big)
    fine_rows, fine_cols = _blocks(height, width, cell)
    grid = best.view(rows, cols, COARSE, COARSE, k).permute(0, 2, 1, 3, 4) \
        .reshape(rows * COARSE, cols * COARSE, k)[:fine_rows, :fine_cols]
    return _spread(grid, height, width, cell)


class Neighbours:
    """Each pixel's nearest strokes (:func:`nearest_strokes`), searched again only once a
    stroke has moved, a curve point or its half width, since the last search: by more than
    ``tolerance`` pixels for the second pass (:func:`rerank`), by more than
    ``candidates_tolerance`` for the first (:func:`candidates`), whose CANDIDATES x k strokes
    per coarse block leave room for strokes to move. Until the next search a pixel can miss a
    stroke that moved in from beyond its NEIGHBOURS; bench/brushstroke_cost.py measures the
    rendering's difference from searching at every render. A read without gradient (the start,
    the result: a picture someone sees) always searches. Tolerances of 0 search at every
    render."""

    def __init__(self, height: int, width: int, cell: int, tolerance: float = 0.0,
                 candidates_tolerance: float = 0.0):
        self.size, self.cell = (height, width), cell
        self.tolerance, self.candidates_tolerance = tolerance, candidates_tolerance
        self.ranked: tuple | None = None  # (curves, half widths, lists) of the last rerank
        self.found: tuple | None = None  # (curves, half widths, candidates) of the last pass
        self.searches = 0  # first passes made, the counts a test or a benchmark reads
        self.reranks = 0

    def __call__(self, curves: torch.Tensor, half_widths: torch.Tensor) -> torch.Tensor:
        """Lists for (detached) polylines and half widths, as :func:`nearest_strokes`."""
        grad = torch.is_grad_enabled()
        if _within(curves, half_widths, self.ranked if grad else None, self.tolerance):
            return self.ranked[2]
        if not _within(curves, half_widths, self.found if grad else None,
                       self.candidates_tolerance):
            self.found = (curves.clone(), half_widths.clone(),
                          candidates(curves, half_widths, *self.size, self.cell))
            self.searches += 1
        idx = rerank(curves, half_widths, self.found[2], *self.size, self.cell)
        self.ranked = (curves.clone(), half_widths.clone(), idx)
        self.reranks += 1
        return idx


def _within(curves: torch.Tensor, half_widths: torch.Tensor, since: tuple | None,
            tolerance: float) -> bool:
    """Whether no stroke has moved by more than ``tolerance`` pixels since ``since`` (curves,
    half widths, ...): its farthest curve point plus its change of half width. False without
    a ``since`` or a tolerance, and then nothing is read back from the device."""
    if since is None or tolerance <= 0:
        return False
    with torch.no_grad():
        return float(((curves - since[0]).norm(dim=-1).amax(-1)
                      + (half_widths - since[1]).abs()).max()) <= tolerance


# Pixel-stroke-segment values computed at once when measuring distances: chunks of pixels keep
# the temporaries near 4 MB each whatever the image size. Larger ones cost more in fresh memory
# pages than in arithmetic on a CPU: a render's forward and backward at 256 px took 46 ms with
# 2^22 values a chunk, 25 ms with 2^20, 28 ms with 2^16 (per-call overhead).
DISTANCE_CHUNK = 2 ** 20


def _segments(xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per segment of each stroke's polyline (T-1 x N each, a row per segment): the start
    (ax, ay), the direction (bx, by) and 1 / |b|^2, computed once per render rather than per
    pixel."""
    xs, ys = xs.T, ys.T
    ax, ay = xs[:-1], ys[:-1]
    bx, by = xs[1:] - ax, ys[1:] - ay
    return ax.contiguous(), ay.contiguous(), bx, by, 1 / (bx * bx + by * by + 1e-8)


def _closest(px: torch.Tensor, py: torch.Tensor, segments: tuple, idx: torch.Tensor):
    """For pixels (P each) and their strokes (k x P indices into ``segments``): per stroke
    and pixel, the nearest segment j, the position t in [0, 1] of the closest point on it, and
    the offset (dx, dy) from that point to the pixel (k x P each). Segments lead and pixels
    run along the last dimension, so the minimum over a stroke's few segments is a few vector
    operations over pixels; in place where it can be: this is most of a render's forward
    pass."""
    flat = idx.flatten()
    ax, ay, bx, by, inv = (c.index_select(1, flat).view(-1, *idx.shape) for c in segments)
    qx, qy = px - ax, py - ay
    t = (qx * bx).addcmul_(qy, by).mul_(inv).clamp_(0, 1)
    dx, dy = qx.addcmul_(t, bx, value=-1), qy.addcmul_(t, by, value=-1)
    # min's indices, not argmin: over a leading dimension torch's argmin is about thirty times
    # slower on a CPU (35 ms against 1.2 ms for 5 x 8 x 21,845 values).
    j = (dx * dx).addcmul_(dy, dy).min(0, keepdim=True).indices
    return j[0], t.gather(0, j)[0], dx.gather(0, j)[0], dy.gather(0, j)[0]


class PolylineDistance(torch.autograd.Function):
    """Distance of each pixel to each of its k strokes' polylines, k x P (lists ``idx`` k x P),
    differentiable in the polylines' points.

    The closest point c = a + t (b - a) on the nearest segment is optimal, so the distance's
    gradient is -(p - c)/|p - c| on c (t's own change does not count, the envelope theorem),
    shared (1 - t) : t between the segment's ends. Only j, t and that unit vector are kept for
    the backward pass (5 values per pixel and stroke) instead of every segment's
    intermediates: memory stays near that of the image times k.
    """

    @staticmethod
    def forward(ctx, pixels, xs, ys, idx):
        parts = []
        segments = _segments(xs, ys)
        step = max(1, DISTANCE_CHUNK // (len(idx) * xs.shape[1]))
        for i in range(0, idx.shape[1], step):
            p = pixels[i:i + step]
            parts.append(_closest(p[:, 0], p[:, 1], segments, idx[:, i:i + step]))
        j, t, dx, dy = (torch.cat(x, dim=1) for x in zip(*parts))
        dist = (dx * dx + dy * dy + 1e-8).sqrt()
        ctx.save_for_backward(idx, j, t, dx / dist, dy / dist)
        ctx.points = xs.shape
        return dist

    @staticmethod
    def backward(ctx, grad):
        idx, j, t, ux, uy = ctx.saved_tensors
        n, points = ctx.points
        start = (idx * points + j).flatten()
        grads = []
        for u in (ux, uy):
            g = torch.zeros(n * points, dtype=grad.dtype, device=grad.device)
            g.index_add_(0, start, (-(1 - t) * u * grad).flatten())
            g.index_add_(0, start + 1, (-t * u * grad).flatten())
            grads.append(g.view(n, points))
        return None, grads[0], grads[1], None


def render(curves: torch.Tensor, half_widths: torch.Tensor, colors: torch.Tensor,
           canvas: torch.Tensor, height: int, width: int, cell: int,
           neighbours: Optional[Neighbours] = None) -> torch.Tensor:
    """Strokes (N x T x 2 polylines in pixels, N half widths, N x 3 colours in [0, 1]) on a
    canvas colour (3) -> 1 x 3 x H x W image. See the module docstring. ``neighbours`` keeps
    the nearest-stroke lists from one render to the next (default: searched afresh)."""
    neighbours = neighbours or Neighbours(height, width, cell)
    idx = neighbours(curves.detach(), half_widths.detach())
    pixels = pixel_centres(height, width, curves.device)
    dist = PolylineDistance.apply(pixels, curves[..., 0], curves[..., 1], idx)
    # index_select rather than indexing: its backward adds into the strokes' gradients ten
    # times faster on a CPU (a 1-D gather's 0.7 ms against 10 ms at 256 px).
    flat = idx.flatten()
    cover = (half_widths.index_select(0, flat).view(idx.shape) - dist) / EDGE
    # Nearest covering stroke wins: softmax of log(coverage) - distance / temperature.
    weights = torch.softmax(F.logsigmoid(cover) - dist / NEAREST, dim=0)
    # Coverage of the union of strokes: 1 - prod(1 - m).
    alpha = 1 - torch.exp(F.logsigmoid(-cover).sum(0))
    color = (weights * colors.T.index_select(1, flat).view(3, *idx.shape)).sum(1)
    image = alpha * color + (1 - alpha) * canvas[:, None]
    return image.reshape(1, 3, height, width)


def _grid(height: int, width: int, count: int) -> tuple[int, int]:
    """Rows and columns of a grid of about ``count`` cells with the image's aspect ratio."""
    rows = max(1, round(math.sqrt(count * height / width)))
    return rows, max(1, round(count / rows))


def _orientations(image: torch.Tensor, centres: torch.Tensor, spacing: float,
                  generator: Optional[torch.Generator]) -> torch.Tensor:
    """Angle of each stroke: along the image's edges at its centre (perpendicular to the
    structure tensor's major axis, the tensor averaged over about one grid spacing); where
    the structure has no direction (low coherence) the angle is free to be random."""
    gray = image.mean(1, keepdim=True)
    gx = F.pad(gray[..., :, 2:] - gray[..., :, :-2], (1, 1, 0, 0), mode="replicate") / 2
    gy = F.pad(gray[..., 2:, :] - gray[..., :-2, :], (0, 0, 1, 1), mode="replicate") / 2
    tensor = torch.cat([gx * gx, gx * gy, gy * gy], dim=1)
    k = 2 * max(1, round(ORIENTATION_SCALE * spacing)) + 1
    tensor = F.avg_pool2d(tensor, k, stride=1, padding=k // 2, count_include_pad=False)
    jxx, jxy, jyy = _sample(tensor, centres).T
    major = 0.5 * torch.atan2(2 * jxy, jxx - jyy)
    coherence = torch.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2) / (jxx + jyy + 1e-6)
    free = (torch.rand(len(centres), generator=generator) - 0.5) * math.pi
    # The start strokes are built on the CPU (then moved to the run's device).
    return (major + math.pi / 2).cpu() + (1 - coherence.clamp(0, 1)).cpu() * free


def _sample(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Values of a 1 x C x H x W map at pixel positions (P x 2, x y) -> P x C, bilinear."""
    h, w = image.shape[-2:]
    scale = torch.tensor([2.0 / w, 2.0 / h])
    grid = (points.cpu() * scale - 1).to(image.device, image.dtype).view(1, 1, -1, 2)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)[0, :, 0].T


def initial_strokes(image: Optional[torch.Tensor], height: int, width: int, count: int,
                    generator: Optional[torch.Generator] = None) -> dict:
    """Start strokes (see the module docstring): location (N x 2) and curve offsets (N x 3 x 2)
    in grid spacings, log width in grid spacings (N), colour logits (N x 3); and the canvas
    colour (3) and the grid spacing in pixels."""
    rows, cols = _grid(height, width, count)
    cell = torch.tensor([width / cols, height / rows])
    spacing = math.sqrt(float(cell[0] * cell[1]))
    jy, jx = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    corner = torch.stack([jx.flatten(), jy.flatten()], dim=1).float()
    # Listed in no order: torch's top-k on a CPU ranks strokes listed row by row of the grid
    # twice as slowly as shuffled ones (the nearest-stroke search's first pass: 26 ms against
    # 12 ms for 4,096 strokes at 128 px), and the order means nothing to the renderer.
    corner = corner[torch.randperm(len(corner), generator=generator)]
    jitter = (torch.rand(corner.shape, generator=generator) - 0.5) * JITTER
    centres = (corner + 0.5 + jitter) * cell
    n = len(centres)
    if image is None:
        angle = torch.rand(n, generator=generator) * math.pi
        color = torch.logit(torch.rand((n, 3), generator=generator).clamp(0.05, 0.95))
        canvas = torch.full((3,), 0.5)
    else:
        image = image.detach().float()
        angle = _orientations(image, centres, spacing, generator)
        canvas = image.mean((0, 2, 3)).cpu()
    along = torch.stack([angle.cos(), angle.sin()], dim=1) * (LENGTH / 2)
    curve = torch.stack([-along, torch.zeros_like(along), along], dim=1)
    if image is not None:
        line = bezier(centres[:, None, :] + curve * spacing)
        colour = _sample(image, line.reshape(-1, 2)).reshape(n, -1, 3).mean(1).cpu()
        color = torch.logit(colour.clamp(SIGMOID_EPS, 1 - SIGMOID_EPS))
    return {"location": centres / spacing, "curve": curve,
            "width": torch.full((n,), math.log(WIDTH)), "color": color,
            "canvas": canvas, "spacing": spacing}


# Finest stroke grid: one stroke per MIN_SPACING^2 pixels at most, so a small image (a test, a
# first multi-scale level) gets strokes of a few pixels rather than sub-pixel ones.
MIN_SPACING = 2.0


def stroke_count(height: int, width: int, strokes: int) -> int:
    """The strokes asked for, at most one per MIN_SPACING^2 pixels."""
    return max(1, min(strokes, int(height * width / MIN_SPACING ** 2)))


def make_brushstrokes(shape: Sequence[int], init: Optional[torch.Tensor] = None, *,
                      generator: Optional[torch.Generator] = None,
                      device: str | torch.device = "cpu", **options) -> Parameterized:
    """Registry factory: strokes from the start image (or random ones), rendered on each read.

    Options (``Settings.param_options``, :data:`OPTIONS`): ``strokes`` (at most one per
    MIN_SPACING^2 pixels: :func:`stroke_count`) and ``stroke_steps`` (None: every step moves
    strokes; a number: after that many optimization steps the strokes are frozen and a pixel
    layer on top of their rendering is optimized, Kotovenko et al.'s pixel refinement). Before
    each render the strokes are projected back onto the canvas, to widths of
    MIN_WIDTH-MAX_WIDTH grid spacings and points within MAX_REACH of their centres.
    """
    o = option_values("brushstrokes", OPTIONS, options)
    n, c, h, w = shape
    start = initial_strokes(None if init is None else init[:1], h, w,
                            stroke_count(h, w, o["strokes"]), generator)
    spacing = start["spacing"]
    location, curve, width, color = (start[k].to(device).requires_grad_(True)
                                     for k in ("location", "curve", "width", "color"))
    canvas = start["canvas"].to(device)
    cell = max(1, round(spacing * CELL))
    bounds = torch.tensor([w, h], device=device) / spacing
    reuse = spacing if torch.device(device).type == "cpu" else 0.0
    neighbours = Neighbours(h, w, cell, REUSE * reuse, REUSE_CANDIDATES * reuse)

    def strokes_image() -> torch.Tensor:
        with torch.no_grad():
            location.copy_(torch.minimum(location.clamp_min(0), bounds))
            curve.clamp_(-MAX_REACH, MAX_REACH)
            width.clamp_(math.log(MIN_WIDTH), math.log(MAX_WIDTH))
        points = (location[:, None, :] + curve) * spacing
        return render(bezier(points), torch.exp(width) * (spacing / 2), torch.sigmoid(color),
                      canvas, h, w, cell, neighbours)

    params = [location, curve, width, color]
    image_fn = strokes_image if o["stroke_steps"] is None else \
        _refined(strokes_image, o["stroke_steps"], (1, c, h, w), device, params)
    return Parameterized(params, image_fn if n == 1 else
                         (lambda: image_fn().expand(n, c, h, w)))


def _refined(strokes_image, stroke_steps: int, shape, device, params: list) -> callable:
    """Kotovenko et al.'s two stages in one image function: the strokes for the first
    ``stroke_steps`` optimization steps (reads with a gradient), then the frozen rendering
    plus a pixel layer (appended to ``params``; it has no gradient before, so no optimizer
    moves it, and the strokes have none after)."""
    layer = torch.zeros(shape, device=device, requires_grad=True)
    params.append(layer)
    state = {"steps": 0, "frozen": None}

    def image_fn() -> torch.Tensor:
        if torch.is_grad_enabled():
            state["steps"] += 1
            if state["steps"] > stroke_steps and state["frozen"] is None:
                with torch.no_grad():
                    state["frozen"] = strokes_image()
        frozen = state["frozen"]
        if frozen is None:
            return strokes_image()
        with torch.no_grad():
            # Projected back so the image stays in [0, 1], as the pixel parameterization does.
            layer.copy_(torch.maximum(torch.minimum(layer, (1 - frozen) / PIXEL_SCALE),
                                      -frozen / PIXEL_SCALE))
        return frozen + PIXEL_SCALE * layer

    return image_fn


# Learning rates: bench/method_sweep.py --param brushstrokes (docs/methods.md#learning-rates).
# Positions and offsets are in grid spacings, widths in log spacings, colours in logits, so one
# rate suits every parameter; SGD's best rate grows with the pixel count, as pixels' does.
BRUSHSTROKES = Parameterization(
    make_brushstrokes,
    {"lbfgs": 1.0,
     "adam": 0.1,  # the lowest score on both pairs of docs/methods.md (128 px, 60 steps)
     "sgd": per_pixel_lr(1e-7)},
    "quadratic Bezier brushstrokes (position, curve, width, colour) through a differentiable "
    "renderer, started from the content (Kotovenko et al. 2021)",
    best="adam", options=OPTIONS)
