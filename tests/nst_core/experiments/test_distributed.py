"""Grids on Ray (nst_core.experiments.distributed): a local Ray instance with 2 CPUs, tiny runs.

One Ray instance serves the whole module (starting one takes seconds on this machine); the
command-line runs find it initialized and use it. Its workers can import this module, so the
hooks below travel to them by name.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from conftest import EXAMPLES, ROOT
from nst_core.imaging import images
from nst_core.cli import sweep as sweep_cli
from nst_core.experiments import report
from nst_core.experiments import sweep as sweep_mod
from nst_core.cli.main import main as cli_main

ray = pytest.importorskip("ray")

TINY = ["--size", "32", "--steps", "2", "--quiet"]
CONTENTS = ("astronaut.png", "coffee.png")
STYLES = (EXAMPLES / "starry_night.jpg", EXAMPLES / "the_scream.jpg")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    # Workers import this module by name (its folder) and conftest (tests/).
    path = os.pathsep.join([str(ROOT), str(ROOT / "tests"),
                           str(Path(__file__).resolve().parent)])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}})
    yield
    ray.shutdown()


@pytest.fixture()
def content_dir(tmp_path):
    folder = tmp_path / "contents"
    folder.mkdir()
    for name in CONTENTS:
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def record_pid_then_wait(pid_file: str) -> None:
    """Runs in a worker before each run: the first run to start writes its worker's process id
    and waits (to be killed by the test); later runs, the retried one included, go on."""
    try:
        fd = os.open(pid_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    time.sleep(120)


def kill_when_recorded(pid_file: Path, killed: list) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if pid_file.exists() and pid_file.read_text():
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.1)


def sweep_args(content_dir, out):
    return ["sweep", "--content", str(content_dir), "--styles", *map(str, STYLES),
            "--vary", "style_weight", "--values", "1", "1e4", "--out", str(out), "--ray", "local",
            *TINY]


def test_grid_finishes_when_a_worker_is_killed_and_resumes(tmp_path, content_dir):
    out, pid_file = tmp_path / "grid.png", tmp_path / "worker.pid"
    killed: list[int] = []
    killer = threading.Thread(target=kill_when_recorded, args=(pid_file, killed))
    killer.start()
    hook = functools.partial(record_pid_then_wait, str(pid_file))
    code = sweep_cli.main(sweep_args(content_dir, out)[1:], before_run=hook)
    killer.join()
    assert code == 0 and len(killed) == 1
    data = images.read_png_settings(out)
    assert data == json.loads(out.with_suffix(".json").read_text())
    cells = data["sweep"]["cells"]
    assert data["sweep"]["runs"] == {"done": 8, "resumed": 0, "failed": 0}
    assert [(Path(c["content"]).name, Path(c["styles"][0]).name, c["value"]) for c in cells] == [
        (c, s.name, v) for c in CONTENTS for s in STYLES for v in (1.0, 1e4)]
    # The killed worker's run ran again elsewhere; every run's worker was reused (the network
    # is cached per worker process), so at most the 2 workers and the one replacing the killed.
    workers = {c["worker"] for c in cells}
    assert killed[0] not in workers and len(workers) <= 3
    for cell in cells:
        png = Path(cell["file"])
        meta = json.loads(png.with_suffix(".json").read_text())
        assert images.read_png_settings(png) == meta
        assert meta["settings"]["style_weight"] == cell["value"]
        assert meta["losses"] == cell["losses"] and meta["losses"]["total"] > 0
        assert meta["score"] == cell["score"] and 0 < meta["score"]["ssim"] <= 1
        assert max(Image.open(png).size) == 32
    assert len(list((tmp_path / "grid_runs").iterdir())) == 16
    # A row per content and style, a column per value.
    grid = Image.open(out)
    assert grid.height == 4 * (32 + report.LABEL_HEIGHT) + 3 * report.GRID_GAP
    table = out.with_suffix(".md").read_text().splitlines()
    assert len(table) == 2 + 8 and all("| done |" in line for line in table[2:])
    # The same command again: every run is found complete, none runs, no result is rewritten.
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "grid_runs").iterdir()}
    assert cli_main(sweep_args(content_dir, out)) == 0
    again = images.read_png_settings(out)["sweep"]
    assert again["runs"] == {"done": 0, "resumed": 8, "failed": 0}
    assert [c["losses"] for c in again["cells"]] == [c["losses"] for c in cells]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_a_failing_run_is_reported_and_the_rest_finish(tmp_path, content_dir, capsys):
    (content_dir / "broken.png").write_bytes(b"not a png at all")
    out = tmp_path / "grid.png"
    code = cli_main(["sweep", "--content", str(content_dir), "--style", str(STYLES[0]),
                     "--vary", "steps", "--values", "1", "2", "--out", str(out),
                     "--ray", "local", *TINY])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: 2 of 6 runs failed; their messages are in {out.with_suffix('.md')}"
    cells = json.loads(out.with_suffix(".json").read_text())["sweep"]["cells"]
    failed = [c for c in cells if c["status"] == "failed"]
    assert [Path(c["content"]).name for c in failed] == ["broken.png"] * 2
    assert all("broken.png" in c["error"] and c["file"] is None for c in failed)
    assert sum(c["status"] == "done" for c in cells) == 4
    table = out.with_suffix(".md").read_text()
    assert table.count("| failed |") == 2 and failed[0]["error"] in table


def test_compare_grid_on_ray(tmp_path, content_path):
    out = tmp_path / "cmp"
    code = cli_main(["compare", "--content", str(content_path), "--styles", *map(str, STYLES),
                     "--methods", "adam:pixels", "lbfgs:pixels", "--out", str(out),
                     "--ray", "local", *TINY])
    assert code == 0
    overview = json.loads((out / "results.json").read_text())["pairs"]
    assert [Path(p["folder"]).name for p in overview] == ["astronaut__starry_night",
                                                           "astronaut__the_scream"]
    for pair in overview:
        folder = Path(pair["folder"])
        assert sorted(p.name for p in folder.iterdir()) == [
            "adam_pixels.json", "adam_pixels.png", "curves.png", "grid.png", "lbfgs_pixels.json",
            "lbfgs_pixels.png", "results.json", "table.md"]
        assert [r["method"] for r in pair["rows"]] == ["adam:pixels", "lbfgs:pixels"]
        meta = json.loads((folder / "adam_pixels.json").read_text())
        assert len(meta["history"]) == 4 and meta["settings"]["optimizer"] == "adam"
        assert set(meta["score"]) >= {"score", "ssim", "style_distance"}
    assert "Adam · pixels" in (out / "table.md").read_text()


def test_ctrl_c_cancels_the_remaining_runs(tmp_path):
    from nst_core.experiments import distributed
    from nst_core.cli.options import read_sources

    content = read_sources([str(EXAMPLES / "astronaut.png")], "content")
    styles = [read_sources([str(STYLES[0])], "style")]
    tasks = sweep_mod.sweep_tasks(content, styles, sweep_mod.Settings(size=32, steps=1),
                                  "seed", [str(i) for i in range(6)], str(tmp_path))
    seen = []

    def interrupt(run, outcome):
        seen.append(outcome)
        raise KeyboardInterrupt

    with pytest.raises(distributed.Interrupted, match=r"cancelled \d of 6 runs"):
        distributed.perform_on_ray(tasks, "local", interrupt)
    assert len(seen) == 1


def test_in_process_runs_do_not_import_ray(tmp_path, content_path, style_path):
    script = (
        "import sys\n"
        "from nst_core.cli.main import main\n"
                f"args = ['--content', {str(content_path)!r}, '--style', {str(style_path)!r}, "
        "'--size', '32', '--steps', '1', '--quiet']\n"
        f"assert main(['sweep', *args, '--vary', 'seed', '--values', '1', '--out', "
        f"{str(tmp_path / 'g.png')!r}]) == 0\n"
        f"assert main(['compare', *args, '--methods', 'adam:pixels', '--out', "
        f"{str(tmp_path / 'c')!r}]) == 0\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "g.png").exists() and (tmp_path / "c" / "adam_pixels.png").exists()
