"""What the brushstroke renderer costs: time and memory per step by stroke count and size.

For each output size and stroke count, on strokes started from the astronaut and then bent,
moved and widened at random (as after some optimization): the renderer's forward + backward
time alone (median of --repeats), the bytes autograd keeps for its backward (saved tensors), how
far its rendering is from one that considers 16 strokes per pixel, each pixel's found by ranking
every stroke (mean absolute difference in 8-bit levels, and the share of pixels off by more
than 0.1); and one whole optimization step (renderer + VGG19 + losses, L-BFGS as the engine
runs it) against a step of L-BFGS on pixels at the same size. Times are CPU seconds of this
process (both threads), which other processes sharing the cores disturb less than wall time.

    python bench/brushstroke_cost.py [--sizes 128 256 512] [--strokes 500 2000 5000]

Prints a markdown table with the machine. Other processes sharing the cores slow both columns
alike; the ratio is the figure to read.
"""
from __future__ import annotations

import argparse
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
    """Strokes from the astronaut at ``size`` px, then perturbed at random (seed 0)."""
    torch.manual_seed(0)
    img = images.load_image(CONTENT)
    init = images.to_tensor(images.resize(img, (size, size)))
    params, image_fn = bs.make_brushstrokes((1, 3, size, size), init, strokes=strokes,
                                            generator=torch.Generator().manual_seed(0))
    image_fn.strokes = len(params[0])  # type: ignore[attr-defined]
    location, curve, width, _ = params
    with torch.no_grad():
        location.add_(torch.randn_like(location) * 0.3)
        curve[:, 1].add_(torch.randn_like(curve[:, 1]) * 0.5)
        width.add_(torch.randn_like(width) * 0.3)
    return image_fn


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


def render_cost(size: int, strokes: int, repeats: int) -> dict:
    """Median CPU seconds of a render's forward + backward, saved bytes, strokes drawn, and the
    difference from the exhaustive rendering."""
    image_fn = strokes_at(size, strokes)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        image_fn().sum().backward()
        times.append(time.process_time() - start)
    with torch.no_grad():
        diff = (image_fn() - exhaustive(image_fn)).abs()
    return {"seconds": statistics.median(times), "saved": saved_bytes(lambda: image_fn().sum()),
            "drawn": image_fn.strokes, "levels": float(diff.mean()) * 255,
            "off": float((diff.amax(1) > 0.1).float().mean())}


def step_seconds(size: int, param: str, options: dict, repeats: int) -> float:
    """Median seconds of one engine step (L-BFGS) on the default objective."""
    s = Settings(size=size, param=param, param_options=options, device="cpu", steps=repeats)
    prepared = prepare(CONTENT, STYLE, s)
    made, optimizer, _ = _start_run(prepared)
    closure = _Closure(prepared, made.image_fn, optimizer)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        optimizer.step(closure)
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument("--strokes", type=int, nargs="+", default=[500, 2000, 5000])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"# {machine()}")
    print("| size px | strokes asked (drawn) | render fwd+bwd CPU s | render saved MB | "
          "vs exhaustive: mean levels, pixels > 0.1 | step CPU s (brushstrokes) | "
          "step CPU s (pixels) | step ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        for strokes in args.strokes:
            r = render_cost(size, strokes, args.repeats)
            ours = step_seconds(size, "brushstrokes", {"strokes": strokes}, args.repeats)
            pixels = step_seconds(size, "pixels", {}, args.repeats)
            print(f"| {size} | {strokes} ({r['drawn']}) | {r['seconds']:.3f} | "
                  f"{r['saved'] / 2 ** 20:.0f} | {r['levels']:.2f}, {r['off']:.2%} | "
                  f"{ours:.2f} | {pixels:.2f} | {ours / pixels:.2f} |", flush=True)


if __name__ == "__main__":
    main()
