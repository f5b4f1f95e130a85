"""A 4096x4096 output on the CPU: multi-scale up to 4096 px with the top levels tiled.

Run under ``/usr/bin/time -v`` for the peak resident memory:

    /usr/bin/time -v .venv/bin/python bench/tiled_4096.py --out /tmp/tiled_4096.png \
        --json docs/img/tiled_4096.json

Writes the full-size PNG, a 512 px thumbnail and a 512 px crop at full resolution next to the
JSON, and the per-level timings (the run's level_plan) into the JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

from nst_core import Settings  # noqa: E402
from nst_core.results import result_metadata, write_result  # noqa: E402
from nst_core.engine.schedule import plan, stylize_multiscale  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--content", default=os.path.join(ROOT, "examples", "astronaut.png"))
    p.add_argument("--style", default=os.path.join(ROOT, "examples", "starry_night.jpg"))
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--min-size", type=int, default=256)
    p.add_argument("--level-steps", type=int, nargs="+", default=[40, 10, 3, 1, 1])
    p.add_argument("--tile-size", type=int, default=1152)
    p.add_argument("--tile-overlap", type=int, default=128)
    p.add_argument("--tile-optimizer", default="adam")
    p.add_argument("--out", default="/tmp/tiled_4096.png")
    p.add_argument("--json", default=os.path.join(ROOT, "docs", "img", "tiled_4096.json"))
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    s = Settings(size=args.size, multiscale=True, min_size=args.min_size,
                 level_steps=tuple(args.level_steps), tile_size=args.tile_size,
                 tile_overlap=args.tile_overlap, preview_every=0)
    levels = plan(args.content, s)
    print("plan:", levels, file=sys.stderr, flush=True)
    start = time.perf_counter()
    final = None
    for r in stylize_multiscale(args.content, args.style, s, tile_optimizer=args.tile_optimizer):
        if r.step % 5 == 0 or r.done:
            print(f"{time.perf_counter() - start:8.1f}s step {r.step}/{r.total} "
                  f"level {r.info.get('level')} tile {r.info.get('tile')} "
                  f"loss {r.losses['total']:.4g}", file=sys.stderr, flush=True)
        final = r
    wall = time.perf_counter() - start
    assert final is not None and final.done
    write_result(final.image, args.out, result_metadata(s, final))
    base = os.path.splitext(args.json)[0]
    thumb = final.image.resize((512, 512 * final.image.height // final.image.width))
    thumb.save(base + "_thumb.png")
    w, h = final.image.size
    final.image.crop((w // 2 - 256, h // 3 - 256, w // 2 + 256, h // 3 + 256)).save(
        base + "_crop.png")
    out = {"size": list(final.image.size), "wall_seconds": round(wall, 1),
           "level_plan": final.info["level_plan"], "tile_optimizer": args.tile_optimizer,
           "settings": s.to_dict(), "losses": final.losses,
           "torch_threads": torch.get_num_threads()}
    with open(args.json, "w") as fh:
        json.dump(out, fh, indent=1)
    print(json.dumps(out["level_plan"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
