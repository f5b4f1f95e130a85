"""Does the Deep Image Prior keep the content? SGD and Adam on the DIP generator against L-BFGS
on pixels, on several content x style pairs, at the same weights and step budget.

Each pair is an ordinary comparison (``python -m nst_core compare``, so a second run skips the
results already in --out), scored by the one fixed scorer (nst_core/experiments/scoring.py): SSIM
of the luma to the content (how much of the photo a person still sees), the fixed Gatys score, and
the style distance. The DIP runs start from the content through the generator's automatic warm-up,
reported in its own columns (it is not part of the step budget). Prints a markdown table and writes
``grid.png`` (one row per pair: content, style, one result per method) to --out.

    python bench/dip_content.py [--size 256] [--steps 300] [--out bench_out/dip_content]
"""
from __future__ import annotations

import argparse
import json
import os

from PIL import Image

import common  # noqa: F401
from common import ROOT, machine
from nst_core.cli import compare as compare_cli
from nst_core.experiments.report import make_grid

PAIRS = (("astronaut.png", "starry_night.jpg"), ("chelsea.png", "the_scream.jpg"),
         ("coffee.png", "woman-with-hat-matisse.jpg"))
METHODS = ("lbfgs:pixels", "sgd:dip", "adam:dip")


def pair_dir(out: str, content: str, style: str) -> str:
    return os.path.join(out, f"{os.path.splitext(content)[0]}__{os.path.splitext(style)[0]}")


def run_pair(out: str, content: str, style: str, args: argparse.Namespace) -> list[dict]:
    folder = pair_dir(out, content, style)
    compare_cli.main(["--content", os.path.join(ROOT, "examples", content),
                  "--style", os.path.join(ROOT, "examples", style),
                  "--size", str(args.size), "--steps", str(args.steps), "--seed", "0",
                  "--methods", *args.methods, "--out", folder, "--quiet"])
    with open(os.path.join(folder, "results.json")) as fh:
        return json.load(fh)["rows"]


def table(results: dict[tuple[str, str], list[dict]]) -> str:
    lines = ["| pair | method | SSIM to content | score | style distance | steps | "
             "warm-up steps / s | run s |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for (content, style), rows in results.items():
        for r in rows:
            warm = (f"{r['warmup_steps']} / {r['warmup_seconds']:.0f}"
                    if "warmup_steps" in r else "-")
            run_s = r["seconds"] - r.get("warmup_seconds", 0.0)
            lines.append(f"| {content} x {style} | {r['label']} | {r['ssim']:.3f} | "
                         f"{r['score']:.3g} | {r['style_distance']:.3g} | {r['steps']} | {warm} | "
                         f"{run_s:.0f} |")
    return "\n".join(lines)


def figure(out: str, results: dict[tuple[str, str], list[dict]], size: int) -> str:
    tiles = []
    for (content, style), rows in results.items():
        folder = pair_dir(out, content, style)
        for name, label in ((content, "content"), (style, "style")):
            img = Image.open(os.path.join(ROOT, "examples", name)).convert("RGB")
            img.thumbnail((size, size))
            tiles.append((img, [f"{label}: {name}"]))
        for r in rows:
            img = Image.open(os.path.join(folder, r["method"].replace(":", "_") + ".png"))
            tiles.append((img.convert("RGB"), [r["label"], f"SSIM {r['ssim']:.2f}  "
                                                          f"score {r['score']:.2e}"]))
    path = os.path.join(out, "grid.png")
    make_grid(tiles, columns=2 + len(next(iter(results.values()))),
              tile_size=(size, size)).save(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--pairs", type=int, default=len(PAIRS), help="how many of the pairs")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench_out", "dip_content"))
    args = ap.parse_args()
    results = {pair: run_pair(args.out, *pair, args) for pair in PAIRS[:args.pairs]}
    print(f"machine: {machine()}; {args.size} px, {args.steps} steps, default settings, seed 0")
    print(table(results))
    print(f"figure: {figure(args.out, results, args.size)}")


if __name__ == "__main__":
    main()
