"""The app's folder per server process: removed when its process is gone, pruned by age and
by its byte budget (the served app's exit and restart: tests/nst_studio/test_hardening.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from nst_studio.web import disk


def test_folders_of_gone_processes_are_removed_and_prune_keeps_the_budget(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / f"nst_studio_{gone}" / "results").mkdir(parents=True)
    (tmp_path / f"nst_studio_{os.getpid()}").mkdir()
    (tmp_path / "nst_studio_other").mkdir()  # not a process folder: left alone
    assert disk.remove_dead(tmp_path) == [tmp_path / f"nst_studio_{gone}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"nst_studio_{os.getpid()}",
                                                          "nst_studio_other"]
    folder = tmp_path / "files"
    folder.mkdir()
    # Ages count from the later of modification and status change (now, for these files):
    # date the files ahead and prune as if two hours later.
    later = time.time() + 7200
    for i, age in enumerate([7200, 1200, 900, 60]):
        path = folder / f"{i}.bin"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (later - age, later - age))
    # Older than an hour: gone; over the 1500-byte budget: oldest first, but not the young one,
    # nor a file Gradio keeps for the page (an example).
    kept = str((folder / "0.bin").resolve())
    assert disk.prune(folder, max_bytes=1500, keep={kept}, now=later) == 1000
    assert sorted(p.name for p in folder.iterdir()) == ["0.bin", "3.bin"]
