"""Learning-rate sweep of a parameterization on the default objective, the protocol behind the
registry's learning rates (nst_core/params/*.py, docs/methods.md): astronaut x Starry Night, init content, seed 0; for each
optimizer and rate, the total loss after / before (12 steps at 64 px, 40 at 128 px by default)
and the fixed scorer's score and luma SSIM (nst_core/experiments/scoring.py) of the saved result at the
larger size. A parameterization's ``best`` optimizer is the one whose best rate scores lowest.

    python bench/method_sweep.py --param brushstrokes --optimizer adam --lrs 0.02 0.05 0.1
    python bench/method_sweep.py --param cppn --optimizer lbfgs adam sgd   # registry rates
    python bench/method_sweep.py --preset strotss --optimizer adam --lrs 0.05 0.1 --sizes 128 \
        --steps 40

Prints a markdown table with the machine; with --save DIR, the result of every cell as a PNG.
Timings are wall-clock seconds of the run (set-up such as a warm-up included) on this machine as
it is (other processes sharing its cores make them slower).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import common  # noqa: F401
from common import CONTENT, STYLE, machine
from nst_core import Settings, evaluate, from_preset, prepare, stylize
from nst_core.experiments.scoring import make_scorer
from nst_core.params.registry import get_param


def cell(base: Settings, optimizer: str, lr: float | None, size: int, steps: int,
         scorer=None, pair: tuple[str, str] = (CONTENT, STYLE)) -> dict:
    """One run: loss ratio, seconds and (with a scorer) the fixed score and SSIM.

    The ratio is the method's own objective at the output size, of the result over the start
    image's (for a coarse-to-fine run, whose first record is at its smallest level, both are
    scored again at the output size)."""
    s = dataclasses.replace(base, optimizer=optimizer, lr=lr, size=size, steps=steps,
                            preview_every=0, seed=0, device="cpu")
    start = time.perf_counter()
    records = list(stylize(pair[0], pair[1], s))
    seconds = time.perf_counter() - start
    first, final = records[0], records[-1]
    ratio = final.losses["total"] / first.losses["total"]
    if s.multiscale:
        top = prepare(pair[0], pair[1], dataclasses.replace(s, multiscale=False))
        ratio = evaluate(top, final.tensor)["total"] / evaluate(top, top.init)["total"]
    out = {"ratio": ratio, "seconds": seconds, "image": final.image,
           "lr": final.info.get("lr", lr)}
    if scorer is not None:
        out.update({k: scorer(final.image)[k] for k in ("score", "ssim")})
    return out


def settings_from(args) -> Settings:
    base = from_preset(args.preset) if args.preset else Settings()
    changes = {"init": args.init}
    if args.param:
        changes["param"] = args.param
    if args.style_loss:
        changes["style_loss"] = args.style_loss
    if args.style_weight is not None:
        changes["style_weight"] = args.style_weight
    if args.param_options:
        changes["param_options"] = json.loads(args.param_options)
    return dataclasses.replace(base, **changes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--param")
    ap.add_argument("--preset")
    ap.add_argument("--style-loss")
    ap.add_argument("--style-weight", type=float)
    ap.add_argument("--init", default="content")
    ap.add_argument("--param-options", help='JSON object, e.g. \'{"strokes": 1000}\'')
    ap.add_argument("--optimizer", nargs="+", default=["lbfgs", "adam", "sgd"])
    ap.add_argument("--lrs", type=float, nargs="*", default=None,
                    help="rates to try (default: the registry's rate for each optimizer)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--steps", type=int, nargs="+", default=[12, 40],
                    help="steps per size, in the order of --sizes")
    ap.add_argument("--save", help="folder for each cell's result PNG")
    ap.add_argument("--content", default=CONTENT)
    ap.add_argument("--style", default=STYLE)
    args = ap.parse_args()
    base = settings_from(args)
    pair = (args.content, args.style)
    scorer = make_scorer(*pair, max(args.sizes), device="cpu")
    names = " x ".join(os.path.basename(p) for p in pair)
    print(f"# {machine()}; {names}, init {base.init}, seed 0; "
          f"{base.param}, style loss {base.style_loss} x {base.style_weight:g}, content loss "
          f"{base.content_loss} x {base.content_weight:g}, "
          f"options {dict(base.param_options)}" + (f", preset {args.preset}" if args.preset
                                                  else ""))
    sizes = " | ".join(f"{z} px {k} steps: after/before, s" for z, k in
                       zip(args.sizes, args.steps))
    print(f"| optimizer | lr | {sizes} | score / SSIM at {max(args.sizes)} px |")
    print("|---|---:|" + "---:|" * (len(args.sizes) + 1))
    for optimizer in args.optimizer:
        for lr in args.lrs or [None]:
            cells = [cell(base, optimizer, lr, z, k, scorer if z == max(args.sizes) else None,
                          pair)
                     for z, k in zip(args.sizes, args.steps)]
            shown = lr if lr is not None else get_param(base.param).default_lr(
                optimizer, (1, 3, max(args.sizes), max(args.sizes)))
            row = " | ".join(f"{c['ratio']:.3f}, {c['seconds']:.0f}" for c in cells)
            last = cells[-1]
            print(f"| {optimizer} | {shown:g} | {row} | {last['score']:.4g} / "
                  f"{last['ssim']:.3f} |", flush=True)
            if args.save:
                os.makedirs(args.save, exist_ok=True)
                name = args.preset or base.param
                last["image"].save(os.path.join(args.save, f"{name}_sw{base.style_weight:g}_"
                                                f"{optimizer}_{shown:g}_{max(args.sizes)}.png"))


if __name__ == "__main__":
    main()
