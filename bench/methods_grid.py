"""Every method at its best on the same pairs, at equal time: a labelled picture grid and a table.

A method here is a parameterization at its best optimizer and rate, or a style loss (or the
STROTSS preset) on its own best method, each given the same wall-clock seconds
(``Settings.time_budget``; a warm-up counts) and as many steps as fit. Every result is scored by
the fixed scorer (nst_core/experiments/scoring.py: the default objective, luma SSIM to the
content). The grid has one row per pair (content and style first), one column per method.

    python bench/methods_grid.py --pairs astronaut.png:starry_night.jpg \
        rocket.jpg:woman-with-hat-matisse.jpg --size 256 --seconds 60 \
        --out docs/img/methods_256.png

Times are wall-clock seconds on this machine as it is: other processes sharing its cores slow
every method alike, and the seconds each had are printed with the steps they took.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time

import common  # noqa: F401
from common import ROOT, machine
from nst_core import Settings, from_preset, stylize
from nst_core.engine.schedule import plan
from nst_core.experiments.report import make_grid, markdown_table, number
from nst_core.experiments.scoring import make_scorer
from nst_core.imaging import images
from nst_core.params.registry import PARAMETERIZATIONS

# label -> settings changes (or a preset name): parameterizations at their best optimizer, the
# new style losses on L-BFGS pixels, and STROTSS as a method.
METHODS: dict[str, dict | str] = {
    **{f"{p.best}:{name}": {"param": name, "optimizer": p.best}
       for name, p in PARAMETERIZATIONS.items()},
    "sliced (lbfgs:pixels)": {"style_loss": "sliced"},
    "strotss preset": "strotss",
}


def settings_for(method: dict | str, content: str, size: int, seconds: float) -> Settings:
    """The method's settings with ``seconds`` in all: the time budget holds per level, so a
    coarse-to-fine run (the strotss preset) shares it between its levels."""
    base = from_preset(method) if isinstance(method, str) else Settings(**method)
    s = dataclasses.replace(base, size=size, steps=100_000, preview_every=0, seed=0,
                            device="cpu")
    levels = len(plan(content, s)) if s.multiscale else 1
    return dataclasses.replace(s, time_budget=seconds / levels)


def run_one(pair: tuple[str, str], label: str, size: int, seconds: float, scorer,
            lr: float | None = None) -> dict:
    s = dataclasses.replace(settings_for(METHODS[label], pair[0], size, seconds), lr=lr)
    start = time.perf_counter()
    records = list(stylize(*pair, s))
    took = time.perf_counter() - start
    # Steps taken, over every level: a record per step, the start and the end repeat one.
    steps = len({(r.info.get("level"), r.step) for r in records if r.step > 0})
    scores = scorer(records[-1].image)
    return {"image": records[-1].image, "steps": steps, "seconds": took, **scores}


def _path(name: str) -> str:
    return name if os.path.exists(name) else os.path.join(ROOT, "examples", name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", nargs="+", default=["astronaut.png:starry_night.jpg"],
                    help="CONTENT:STYLE, names in examples/ or paths")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--tile", type=int, default=160, help="grid tile side in px")
    ap.add_argument("--out", help="grid PNG to write")
    ap.add_argument("--lr", nargs="*", default=[], metavar="METHOD=RATE",
                    help="a learning rate other than the registry's for a method")
    args = ap.parse_args()
    print(f"# {machine()}; {args.size} px, {args.seconds:g} s per method (wall clock, "
          "set-up and warm-up included), seed 0")
    rates = {k: float(v) for k, v in (t.rsplit("=", 1) for t in args.lr)}
    rows, tiles = [], []
    for text in args.pairs:
        pair = tuple(_path(p) for p in text.split(":"))
        scorer = make_scorer(*pair, args.size, device="cpu")
        for i, p in enumerate(pair):
            tiles.append((images.load_image(p), [os.path.basename(p), "content" if i == 0
                                                 else "style"]))
        for label in args.methods:
            r = run_one(pair, label, args.size, args.seconds, scorer, rates.get(label))
            tiles.append((r["image"], [label, f"score {number(r['score'], 3, 1e4)}",
                                       f"SSIM {r['ssim']:.3f}"]))
            rows.append([text, label, str(r["steps"]), f"{r['seconds']:.0f}",
                         number(r["score"], 3, 1e4), f"{r['ssim']:.3f}"])
            print(f"- {text} {label}: {r['steps']} steps, {r['seconds']:.0f} s", flush=True)
    print(markdown_table(["pair", "method", "steps", "s", "score", "SSIM"], rows,
                         "llrrrr"))
    if args.out:
        grid = make_grid(tiles, columns=len(args.methods) + 2,
                         tile_size=(args.tile, args.tile))
        grid.save(args.out, optimize=True)
        print(f"grid: {args.out}")


if __name__ == "__main__":
    main()
