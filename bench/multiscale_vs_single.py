"""Time-to-quality: multi-scale (coarse-to-fine) against single-scale L-BFGS.

Single-scale runs N L-BFGS steps at SIZE from the content image; its final 8-bit image, scored
with ``engine.evaluate`` at SIZE, sets the target L*. Each multi-scale schedule then runs with
up to N steps at the top level, a preview at every step; the first top-level preview whose
``evaluate`` score is <= L* marks its time-to-quality (scoring time is excluded from the clock).
Wall and process CPU seconds are both recorded: the machine is shared, and CPU seconds are the
steadier of the two under load.

    .venv/bin/python bench/multiscale_vs_single.py --size 256 --steps 60 \
        --json docs/img/multiscale_vs_single.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

from nst_core import Settings, stylize  # noqa: E402
from nst_core.imaging import images
from nst_core.engine.loop import evaluate  # noqa: E402
from nst_core.engine.prepare import prepare
from nst_core.engine.schedule import stylize_multiscale  # noqa: E402

CONTENT = os.path.join(ROOT, "examples", "astronaut.png")
STYLE = os.path.join(ROOT, "examples", "starry_night.jpg")


def clocks():
    return time.perf_counter(), time.process_time()


def run_single(s: Settings, scorer) -> dict:
    w0, c0 = clocks()
    final = None
    for r in stylize(CONTENT, STYLE, s, multiscale=False):
        final = r
    w1, c1 = clocks()
    score = scorer(final.image)
    return {"name": f"single {s.size}px x {s.steps}", "wall": w1 - w0, "cpu": c1 - c0,
            "score": score, "image": final.image}


def run_multi(name: str, s: Settings, min_size: int, level_steps, target: float, scorer,
              checkpoints=(), stop_early: bool = True) -> dict:
    """Run a schedule; note when the top level first reaches `target` and at `checkpoints`."""
    w0, c0 = clocks()
    excluded_w = excluded_c = 0.0
    reached = None
    marks = {}
    n_levels = len(level_steps)
    top_offset = sum(level_steps[:-1])
    final = None
    for r in stylize_multiscale(CONTENT, STYLE, dataclasses.replace(s, preview_every=1),
                                min_size=min_size, level_steps=level_steps):
        final = r
        if r.info.get("level") != n_levels - 1 or r.preview is None:
            continue
        top_step = r.step - top_offset
        w, c = clocks()
        wall, cpu = w - w0 - excluded_w, c - c0 - excluded_c
        want = (reached is None and r.losses["total"] <= 1.05 * target) or \
            top_step in checkpoints or r.done
        if want:
            score = scorer(r.preview)
            if reached is None and score <= target:
                reached = {"top_step": top_step, "wall": wall, "cpu": cpu, "score": score}
            if top_step in checkpoints and top_step not in marks:
                marks[top_step] = {"wall": wall, "cpu": cpu, "score": score}
            w2, c2 = clocks()
            excluded_w += w2 - w
            excluded_c += c2 - c
        if stop_early and reached is not None and all(k in marks for k in checkpoints):
            break  # closes the run: what follows would not change the measurement
    w, c = clocks()
    return {"name": name, "min_size": min_size, "level_steps": list(level_steps),
            "reached": reached, "checkpoints": marks,
            "full": {"wall": w - w0 - excluded_w, "cpu": c - c0 - excluded_c,
                     "score": scorer(final.image or final.preview),
                     "top_step": final.step - top_offset},
            "image": final.image or final.preview}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--reuse-single", nargs=3, metavar=("WALL", "CPU", "SCORE"),
                   help="skip the single-scale run: its seconds and its final score L*")
    p.add_argument("--json", default=os.path.join(ROOT, "docs", "img",
                                                  "multiscale_vs_single.json"))
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    n = args.steps
    s = Settings(size=args.size, steps=n, preview_every=0)
    prepared = prepare(CONTENT, STYLE, s)

    def scorer(img) -> float:
        return evaluate(prepared, images.to_tensor(img))["total"]

    if args.reuse_single:
        # The single-scale run as measured by an earlier invocation (its printed line).
        wall, cpu, score = (float(x) for x in args.reuse_single)
        single = {"name": f"single {s.size}px x {s.steps}", "wall": wall, "cpu": cpu,
                  "score": score, "image": None, "reused": True}
    else:
        single = run_single(s, scorer)
    target = single["score"]
    if single["image"] is not None:
        single["image"].save(os.path.splitext(args.json)[0] + "_single.png")
    print(f"single: {single['wall']:.1f}s wall {single['cpu']:.1f}s cpu, L*={target:.5g}",
          file=sys.stderr, flush=True)
    runs = [single]
    quarter = max(1, n // 4)
    for name, min_size, steps in [
            (f"multi {args.size // 2}->{args.size}", args.size // 2, (n, n)),
            (f"multi {args.size // 4}->{args.size // 2}->{args.size}", args.size // 4,
             (n, quarter, n))]:
        r = run_multi(name, s, min_size, steps, target, scorer, checkpoints=(quarter,))
        print(name, json.dumps({k: v for k, v in r.items() if k != "image"}), file=sys.stderr,
              flush=True)
        runs.append(r)
    base = os.path.splitext(args.json)[0]
    for i, r in enumerate(runs):
        img = r.pop("image")
        if img is not None:
            img.save(f"{base}_{i}.png")
    load = os.getloadavg()
    with open(args.json, "w") as fh:
        json.dump({"size": args.size, "steps": n, "target": target, "runs": runs,
                   "loadavg_at_end": load, "torch_threads": torch.get_num_threads()}, fh,
                  indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
