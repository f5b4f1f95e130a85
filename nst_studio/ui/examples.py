"""The example images the page offers: pairs of a photo and a painting from ``examples/``.

The folder is the checkout's ``examples/`` (or ``NST_EXAMPLES``, for an installed app: the wheel
ships no images, and without a folder the page simply offers no examples)."""
from __future__ import annotations

import os
from pathlib import Path


def _examples_folder() -> Path:
    chosen = os.environ.get("NST_EXAMPLES")
    if chosen:
        return Path(chosen)
    checkout = Path(__file__).resolve().parents[2] / "examples"
    return checkout if checkout.is_dir() else Path.cwd() / "examples"


EXAMPLES = _examples_folder()
EXAMPLE_PAIRS = [("astronaut.png", "starry_night.jpg"), ("chelsea.png", "the_scream.jpg"),
                 ("coffee.png", "woman-with-hat-matisse.jpg"), ("rocket.jpg", "shipwreck.jpg")]


def example_pairs() -> list[tuple[Path, Path]]:
    """(content, style) of each example pair whose two files are there."""
    return [(EXAMPLES / c, EXAMPLES / s) for c, s in EXAMPLE_PAIRS
            if (EXAMPLES / c).is_file() and (EXAMPLES / s).is_file()]
