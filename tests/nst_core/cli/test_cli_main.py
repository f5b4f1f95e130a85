"""The ``nst`` console script, as pyproject.toml declares it, answers every sub-command."""
from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from conftest import ROOT


def _console_script(name: str) -> tuple[str, str]:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts[name].split(":")
    return module, function


@pytest.mark.parametrize("command, option", [("compare", "--methods"), ("sweep", "--vary")])
def test_every_sub_command_answers_without_python_m(command, option):
    # Exactly what the installed `nst` script does: import the module, call the function (no
    # `python -m nst_core`, so nothing a __main__ module imports is there).
    module, function = _console_script("nst")
    script = (f"import sys; from {module} import {function} as main; "
              f"sys.exit(main([{command!r}, '--help']))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert option in done.stdout
    assert f"nst {command}" in done.stdout
