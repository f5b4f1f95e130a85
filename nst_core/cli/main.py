"""The ``nst`` command (also ``python -m nst_core``): stylize one image, or a sub-command.

The sub-commands are listed here (:data:`COMMANDS`), each a module of this package with its own
``main(argv)``. This module maps every error to an exit status and one line on stderr, never a
traceback: 2 for bad input, 1 for a failed run, 130 when interrupted.
"""
from __future__ import annotations

import sys
from typing import Callable, Sequence

from ..engine.loop import NonFiniteLossError
from . import compare, stylize, sweep
from .options import CliError, RunsFailed

# Sub-commands: name -> main(argv) -> exit status. Without one, ``nst`` stylizes.
COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"compare": compare.main,
                                                       "sweep": sweep.main}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        if command is not None:
            return command(argv[1:])
        return stylize.main(argv, commands=tuple(COMMANDS))
    except (ValueError, FileNotFoundError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RunsFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (NonFiniteLossError, RuntimeError, OSError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr)
        return 130
