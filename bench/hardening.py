"""The served app under a header-only image bomb and many jobs: memory and disk stay bounded.

    python bench/hardening.py [--jobs 50] [--growth-jobs 100] [--parts memory growth disk]

Starts ``python app.py`` with its own temp dir and measures:

- memory: the server's resident set (VmRSS, sampled every 5 ms) while a 1-bit 12000x12000 PNG
  of a few KB (144 megapixels by its header) is sent to the content slot of ``/stylize``, to
  its style files and to the page's Run event, against its idle size after a first job;
- growth: the server's resident set every 10 jobs over ``--growth-jobs`` jobs of varied
  contents, sizes and methods (5 clients at a time, through ``/stylize`` and the page's Run
  event), against its size after the first 20 jobs;
- disk: the server's folder (results and Gradio's cache) after ``--jobs`` tiny jobs (32 px,
  1 step); after ``kill -9`` (the folder stays); after a restart (the dead server's folder is
  gone); after SIGTERM (the new server's folder is gone).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import machine, write_bomb_png  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

CONTENT = ROOT / "examples" / "astronaut.png"
STYLE = ROOT / "examples" / "starry_night.jpg"
TINY = '{"size": 32, "steps": 1}'




def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def folder_mb(folder: Path) -> tuple[int, float]:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    return len(files), sum(p.stat().st_size for p in files) / 1024 ** 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tmp: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False", NST_DEFAULT_SIZE="32", NST_DEFAULT_STEPS="1")
    env.pop("GRADIO_TEMP_DIR", None)
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.2)


def peak_rss(pid: int, action) -> tuple[float, str]:
    """The highest RSS (MB) while ``action()`` runs, and how it ended."""
    peak, done = [rss_mb(pid)], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        action()
        outcome = "ran"
    except Exception as exc:  # the refusal is the expected outcome
        outcome = str(exc).split(";")[0]
    finally:
        done.set()
        sampler.join()
    return peak[0], outcome


def page_run(client: Client, content: Path) -> None:
    """The page's Run event with ``content`` and the defaults for everything else."""
    from nst_studio.web import forms
    from nst_studio.web.limits import Limits

    config = client.config
    dep = next(d for d in config["dependencies"] if d.get("api_name") == "run")
    comps = {c["id"]: c for c in config["components"]}
    values = forms.default_values(Limits.from_env({"NST_DEFAULT_SIZE": "32",
                                                   "NST_DEFAULT_STEPS": "1"}))
    values.update(content=handle_file(str(content)), style=handle_file(str(STYLE)))
    args = [values.get(comps[i]["props"].get("elem_id"),
                       1.0 if "weight" in str(comps[i]["props"].get("elem_id")) else None)
            for i in dep["inputs"] if comps[i]["type"] != "state"]
    client.submit(*args, api_name="/run").result()


def memory_rows(pid: int, client: Client, bomb: Path) -> list[tuple[str, str, str]]:
    def api(content: Path, styles: list[Path]):
        return lambda: client.submit(handle_file(str(content)),
                                     [handle_file(str(s)) for s in styles], TINY,
                                     api_name="/stylize").result()

    api(CONTENT, [STYLE])()  # warm: VGG19 loaded, torch and Gradio paths taken once
    time.sleep(1.0)
    idle = rss_mb(pid)
    rows = [("idle after one job", f"{idle:.0f}", "")]
    for what, action in (("bomb as /stylize content", api(bomb, [STYLE])),
                         ("bomb as /stylize style", api(CONTENT, [bomb])),
                         ("bomb as the page's content", lambda: page_run(client, bomb))):
        peak, outcome = peak_rss(pid, action)
        rows.append((what, f"{peak:.0f} (+{peak - idle:.1f})", outcome))
    _, _, progress = api(CONTENT, [STYLE])()
    rows.append(("a normal job afterwards", f"{rss_mb(pid):.0f}",
                 "done" if progress["done"] else "not done"))
    rows.append(("for comparison: decoding it to RGB", f"+{decode_cost(bomb):.0f}",
                 "Pillow in the bench's own process (what an upload component that converts "
                 "would spend)"))
    return rows


# The growth run's jobs, in turn: every size a different shape of the network's activations
# (caches keyed by size show up), every parameterization (a DIP generator is built per job).
GROWTH_SIZES = (32, 48, 64, 80, 96)
GROWTH_METHODS = (("lbfgs", "pixels", {}), ("adam", "fft", {}),
                  ("adam", "dip", {"warmup_steps": 3}), ("lbfgs", "pyramid", {}))
# Contents of four aspect ratios (square, 3:2, 3:2 landscape, 2:3 portrait): with the sizes,
# twenty shapes of activations.
GROWTH_CONTENTS = tuple(ROOT / "examples" / name for name in
                        ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"))
GROWTH_CLIENTS = 5


def growth_job(client: Client, number: int):
    """Job ``number`` of the growth run, submitted (every fifth one is the page's Run event)."""
    content = GROWTH_CONTENTS[number % len(GROWTH_CONTENTS)]
    if number % 5 == 4:
        return threading.Thread(target=page_run, args=(client, content))
    optimizer, param, options = GROWTH_METHODS[number % len(GROWTH_METHODS)]
    settings = json.dumps({"size": GROWTH_SIZES[number % len(GROWTH_SIZES)], "steps": 3,
                           "optimizer": optimizer, "param": param, "param_options": options})
    return threading.Thread(target=lambda: client.submit(
        handle_file(str(content)), [handle_file(str(STYLE))], settings,
        api_name="/stylize").result())


def growth_rows(tmp: Path, jobs: int, every: int = 10) -> list[tuple[str, str, str]]:
    """RSS after every ``every`` jobs, GROWTH_CLIENTS jobs at a time."""
    proc, url = start(tmp)
    try:
        clients = [Client(url, verbose=False, download_files=False)
                   for _ in range(GROWTH_CLIENTS)]
        rows, reference, done = [], None, 0
        while done < jobs:
            batch = [growth_job(clients[i], done + i)
                     for i in range(min(GROWTH_CLIENTS, jobs - done))]
            for thread in batch:
                thread.start()
            for thread in batch:
                thread.join()
            before, done = done, done + len(batch)
            if done // every > before // every:
                rss = rss_mb(proc.pid)
                reference = rss if reference is None and done >= 20 else reference
                change = f"{100 * (rss / reference - 1):+.1f}%" if reference else ""
                rows.append((str(done), f"{rss:.0f}", change))
                print(f"  {done} jobs: {rss:.0f} MB {change}", flush=True)
        return rows
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def decode_cost(bomb: Path) -> float:
    """The RSS increase (MB) of decoding the bomb and converting it to RGB, here."""
    from PIL import Image

    before = rss_mb(os.getpid())
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(bomb) as img:
            rgb = img.convert("RGB")
            peak = rss_mb(os.getpid())
            del rgb
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return peak - before


def disk_rows(tmp: Path, jobs: int) -> list[tuple[str, str, str]]:
    proc, url = start(tmp)
    client = Client(url, verbose=False, download_files=False)
    folder = tmp / f"nst_studio_{proc.pid}"
    for _ in range(jobs):
        client.submit(handle_file(str(CONTENT)), [handle_file(str(STYLE))], TINY,
                      api_name="/stylize").result()
    n, mb = folder_mb(folder)
    rows = [(f"after {jobs} jobs", f"{n} files, {mb:.2f} MB",
             f"{folder.name}; budget {os.environ.get('NST_MAX_DISK_MB', '1024')} MB")]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n, mb = folder_mb(folder)
    rows.append(("after kill -9", f"{n} files, {mb:.2f} MB", "folder left behind"))
    second, _ = start(tmp)
    n, mb = folder_mb(tmp / f"nst_studio_{second.pid}")
    rows.append(("after a restart", f"{n} files, {mb:.2f} MB (new server)",
                 "dead server's folder removed" if not folder.exists() else "still there"))
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=60)
    left = sorted(p.name for p in tmp.glob("nst_studio_*"))
    rows.append(("after SIGTERM", f"{len(left)} server folders", ", ".join(left) or "none"))
    return rows


def table(title: str, rows: list[tuple[str, str, str]], heads: tuple[str, str, str]) -> None:
    print(f"\n{title}\n| {' | '.join(heads)} |\n|---|---|---|")
    for row in rows:
        print(f"| {' | '.join(row)} |")


PARTS = ("memory", "growth", "disk")


def bomb_table(tmp: Path) -> None:
    bomb = write_bomb_png(tmp / "bomb.png")
    print(f"bomb: {bomb.stat().st_size / 1024:.0f} KB, 12000x12000 1-bit PNG")
    proc, url = start(tmp)
    try:
        rows = memory_rows(proc.pid, Client(url, verbose=False, download_files=False), bomb)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    table("Server memory (RSS, MB)", rows, ("case", "RSS MB (peak, vs idle)", "outcome"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50, help="jobs before the disk is measured")
    parser.add_argument("--growth-jobs", type=int, default=100,
                        help="jobs of the memory growth run")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="nst_hardening_") as tmp_name:
        tmp = Path(tmp_name)
        if "memory" in args.parts:
            bomb_table(tmp)
        if "growth" in args.parts:
            table(f"Server memory over {args.growth_jobs} jobs (RSS, MB)",
                  growth_rows(tmp, args.growth_jobs),
                  ("jobs", "RSS MB", "vs after 20 jobs"))
        if "disk" in args.parts:
            table("Disk (the server's folder in TMPDIR)", disk_rows(tmp, args.jobs),
                  ("when", "files", "note"))


if __name__ == "__main__":
    main()
