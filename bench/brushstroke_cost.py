"""What the brushstroke renderer costs: time and memory per step by stroke count and size, and
what reusing the nearest-stroke lists from step to step changes.

Cost table. For each output size and stroke count, on strokes started from the astronaut and
then bent, moved and widened at random (as after some optimization): the renderer's forward +
backward time (median of --repeats) with the nearest strokes searched afresh and with the
lists of the previous render reused (what most steps of a run on a CPU do), the bytes autograd
keeps for its backward (saved tensors), how far its rendering is from one that considers 16
strokes per pixel, each pixel's found by ranking every stroke (mean absolute difference in
8-bit levels, and the share of pixels off by more than 0.1); and one whole optimization step
of each default method (Adam on strokes, L-BFGS on pixels: renderer + VGG19 + losses, as the
engine runs them) against each other at the same size. Times are CPU seconds of this process
(both threads), which other processes sharing the cores disturb less than wall time.

Reuse table (--reuse-steps N, on by default): N Adam steps on the default objective at each
size, as a run on a CPU makes them (the lists searched again only once a stroke has moved:
brushstrokes.REUSE and REUSE_CANDIDATES), and at every step the rendering with the lists
searched afresh: the passes made and the mean and worst difference between the two.

    python bench/brushstroke_cost.py [--sizes 128 256 512] [--strokes 500 2000 5000]
                                     [--reuse-sizes 128 256] [--reuse-steps 50]

Prints markdown tables with the machine. Other processes sharing the cores slow both step
columns alike; the ratio is the figure to read.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

import common  # noqa: F401
from common import CONTENT, STYLE, machine
from nst_core import Settings
from nst_core.engine.loop import _Closure, _start_run
from nst_core.engine.prepare import prepare
from nst_core.imaging import images
from nst_core.params import brushstrokes as bs


def saved_bytes(fn) -> int:
    """Bytes of the tensors autograd keeps for the backward of ``fn()``."""
    kept: list[int] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        kept.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(kept)


def strokes_at(size: int, strokes: int):
    """Strokes from the astronaut at ``size`` px, then perturbed at random (seed 0): their
    image function and the arguments its renders take (recorded from one render)."""
    torch.manual_seed(0)
    img = images.load_image(CONTENT)
    init = images.to_tensor(images.resize(img, (size, size)))
    params, image_fn = bs.make_brushstrokes((1, 3, size, size), init, strokes=strokes,
                                            generator=torch.Generator().manual_seed(0))
    location, curve, width, _ = params
    with torch.no_grad():
        location.add_(torch.randn_like(location) * 0.3)
        curve[:, 1].add_(torch.randn_like(curve[:, 1]) * 0.5)
        width.add_(torch.randn_like(width) * 0.3)
    recorded: list = []
    with _watching(lambda args, _image: recorded.append(args)):
        image_fn()
    return image_fn, recorded[0][:7]


class _watching:
    """Within it, every brushstroke render calls ``see(arguments, image)`` after drawing."""

    def __init__(self, see):
        self.see, self.real = see, bs.render

    def __enter__(self):
        real, see = self.real, self.see

        def render(*args):
            out = real(*args)
            see(args, out)
            return out

        bs.render = render

    def __exit__(self, *exc):
        bs.render = self.real


def exhaustive(image_fn) -> torch.Tensor:
    """The rendering with 16 strokes per pixel, each block ranking every stroke by its disc and
    re-ranking the best 128 by their curve points."""
    saved = bs.NEIGHBOURS, bs.COARSE, bs.CANDIDATES
    bs.NEIGHBOURS, bs.COARSE, bs.CANDIDATES = 16, 1, 8
    try:
        with torch.no_grad():
            return image_fn()
    finally:
        bs.NEIGHBOURS, bs.COARSE, bs.CANDIDATES = saved


def _render_seconds(args: tuple, neighbours, repeats: int) -> float:
    """Median CPU seconds of a render's forward + backward with ``neighbours``' lists."""
    times = []
    for _ in range(repeats):
        curves, widths, colors = (a.detach().requires_grad_() for a in args[:3])
        start = time.process_time()
        bs.render(curves, widths, colors, *args[3:], neighbours).sum().backward()
        times.append(time.process_time() - start)
    return statistics.median(times)


def render_cost(size: int, strokes: int, repeats: int) -> dict:
    """Render seconds searching afresh and reusing the lists, saved bytes, strokes drawn, and
    the difference from the exhaustive rendering."""
    image_fn, args = strokes_at(size, strokes)
    h, w, cell = args[4:7]
    fresh = _render_seconds(args, None, repeats)
    kept = bs.Neighbours(h, w, cell, math.inf, math.inf)
    kept(args[0].detach(), args[1].detach())
    reused = _render_seconds(args, kept, repeats)
    saved = saved_bytes(lambda: image_fn().sum())  # before the exhaustive lists exist
    with torch.no_grad():
        diff = (image_fn() - exhaustive(image_fn)).abs()
    return {"fresh": fresh, "reused": reused, "saved": saved, "drawn": len(args[0]),
            "levels": float(diff.mean()) * 255, "off": float((diff.amax(1) > 0.1).float().mean())}


def step_seconds(size: int, param: str, optimizer: str, options: dict, steps: int) -> float:
    """Mean CPU seconds of an engine step of ``optimizer`` on ``param`` on the default
    objective, over ``steps`` steps after a first (a run's steps differ: most reuse the
    nearest-stroke lists, some search again)."""
    s = Settings(size=size, param=param, optimizer=optimizer, param_options=options,
                 device="cpu", steps=steps + 1)
    prepared = prepare(CONTENT, STYLE, s)
    made, opt, _ = _start_run(prepared)
    closure = _Closure(prepared, made.image_fn, opt)
    opt.step(closure)
    start = time.process_time()
    for _ in range(steps):
        opt.step(closure)
    return (time.process_time() - start) / steps


def reuse_error(size: int, steps: int) -> dict:
    """Adam on strokes at ``size`` px, the default objective, for ``steps`` steps: the
    searches the run's lists made and, at every step, the difference between its rendering
    and the one with lists searched afresh (8-bit levels)."""
    s = Settings(size=size, param="brushstrokes", optimizer="adam", device="cpu",
                 steps=steps, seed=0)
    prepared = prepare(CONTENT, STYLE, s)
    made, opt, _ = _start_run(prepared)
    closure = _Closure(prepared, made.image_fn, opt)
    diffs, runs = [], []

    def compare(args, _image):
        neighbours = args[7] if len(args) > 7 else None
        if not torch.is_grad_enabled() or not isinstance(neighbours, bs.Neighbours):
            return
        runs.append(neighbours)
        used, (h, w, cell) = neighbours.ranked[2], args[4:7]
        with torch.no_grad():
            fresh = bs.nearest_strokes(args[0], args[1], h, w, cell)
            a, b = (bs.render(*args[:7], lambda *_, i=i: i) for i in (used, fresh))
        diffs.append((a - b).abs().amax(1))

    with _watching(compare):
        for _ in range(steps):
            opt.step(closure)
    levels = [float(d.mean()) * 255 for d in diffs]
    return {"searches": runs[-1].searches, "reranks": runs[-1].reranks,
            "mean": statistics.mean(levels), "worst": max(levels),
            "off": max(float((d > 0.1).float().mean()) for d in diffs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument("--strokes", type=int, nargs="+", default=[500, 2000, 5000])
    ap.add_argument("--repeats", type=int, default=3, help="renders timed (median)")
    ap.add_argument("--step-repeats", type=int, default=10, help="steps timed (mean)")
    ap.add_argument("--reuse-sizes", type=int, nargs="*", default=[128, 256])
    ap.add_argument("--reuse-steps", type=int, default=50)
    args = ap.parse_args()
    print(f"# {machine()}")
    print("| size px | strokes asked (drawn) | render fwd+bwd CPU s: searched, lists reused | "
          "render saved MB | vs exhaustive: mean levels, pixels > 0.1 | "
          "step CPU s (Adam, brushstrokes) | step CPU s (L-BFGS, pixels) | step ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        pixels = step_seconds(size, "pixels", "lbfgs", {}, args.step_repeats)
        for strokes in args.strokes:
            r = render_cost(size, strokes, args.repeats)
            ours = step_seconds(size, "brushstrokes", "adam", {"strokes": strokes},
                                args.step_repeats)
            print(f"| {size} | {strokes} ({r['drawn']}) | {r['fresh']:.3f}, {r['reused']:.3f} "
                  f"| {r['saved'] / 2 ** 20:.0f} | {r['levels']:.2f}, {r['off']:.2%} | "
                  f"{ours:.3f} | {pixels:.3f} | {ours / pixels:.2f} |", flush=True)
    if not args.reuse_sizes:
        return
    print(f"\nReusing the nearest-stroke lists: Adam, default objective and strokes, "
          f"{args.reuse_steps} steps, against searching at every render")
    print("| size px | first passes | second passes | mean levels off (mean over steps) | "
          "worst step, mean levels | worst step, pixels > 0.1 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size in args.reuse_sizes:
        r = reuse_error(size, args.reuse_steps)
        print(f"| {size} | {r['searches']} | {r['reranks']} | {r['mean']:.3f} | "
              f"{r['worst']:.3f} | {r['off']:.3%} |", flush=True)


if __name__ == "__main__":
    main()
