"""The package as a user installs it: the wheel built from this checkout holds every module of
the library and the app, names both commands, and, installed into a fresh virtual environment,
answers ``nst``, ``nst compare`` and ``nst sweep`` and imports every module.

pip runs as this machine (and CI, on the same machine) configures it: ``/etc/xdg/pip`` caps torch
at the release on disk, and the find-links folder (``/opt/wheels``) and local indexes supply torch
and the build tools, so no test here downloads torch."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGES = ("nst_core", "nst_studio")
BUILD_FILES = ("pyproject.toml", "README.md", "LICENSE")


def _pip(python: str | Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def _tracked_modules() -> set[str]:
    """Every module of the packages in this checkout (relative paths)."""
    return {p.relative_to(ROOT).as_posix() for package in PACKAGES
            for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built (with build isolation, as ``pip install .`` does) from a copy of the
    checkout's package files, so no build folder is left in the checkout."""
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_FILES:
        shutil.copy2(ROOT / name, src / name)
    for package in PACKAGES:
        if (ROOT / package).is_dir():
            shutil.copytree(ROOT / package, src / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    built = _pip(sys.executable, "wheel", str(src), "--no-deps", "-w", str(out), "-q")
    assert built.returncode == 0, built.stderr[-3000:]
    (found,) = out.glob("nst_core-*.whl")
    return found


def test_the_wheel_holds_every_module(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    held = {n for n in names if n.endswith(".py")}
    assert held == _tracked_modules()
    assert "nst = nst_core.cli.main:main" in entry_points
    assert "nst-studio = nst_studio.app:main" in entry_points


@pytest.mark.slow
def test_the_installed_wheel_runs_every_command(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python, nst = venv / "bin" / "python", venv / "bin" / "nst"
    installed = _pip(python, "install", "-q", str(wheel))
    assert installed.returncode == 0, installed.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def answer(*args: str) -> str:
        done = subprocess.run([str(nst), *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        return done.stdout

    assert "--content" in answer("--help")
    assert "--methods" in answer("compare", "--help")
    assert "--vary" in answer("sweep", "--help")
    # Every module imports from the installed wheel (not this checkout: cwd is elsewhere), with
    # no web stack installed, and torch is the release this checkout runs on.
    script = ("import importlib, pkgutil, sys, torch, nst_core, nst_studio.web\n"
              "names = [m.name for p in (nst_core, nst_studio.web) for m in "
              "pkgutil.walk_packages(p.__path__, p.__name__ + '.') "
              "if not m.name.endswith('__main__')]\n"
              "for n in names:\n    importlib.import_module(n)\n"
              "assert 'gradio' not in sys.modules\n"
              "print(torch.__version__, nst_core.__file__, len(names))\n")
    done = subprocess.run([str(python), "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    version, where, count = done.stdout.split()
    import torch

    assert version == torch.__version__
    assert str(venv) in where and int(count) >= len(_tracked_modules()) // 2
