"""A job: a run's inputs and settings, validated. Every interface (the Python API, the command
line, the app) turns what it was given into a :class:`Job` at its edge; the engine's schedule
and the experiments take jobs, so nothing below the edge checks again and no "already
checked" flag travels with the settings.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

from .imaging import images
from .settings import Settings, validate


def as_styles(style: Any) -> tuple:
    """The style argument the Python API takes (one image source, a sequence of them, or None
    for no style) as a tuple."""
    if style is None:
        return ()
    return tuple(style) if isinstance(style, (list, tuple)) else (style,)


def check_style(s: Settings, n_styles: int) -> None:
    """A style weight above 0 needs a style image (the one rule, with one message, for the
    Python API, the command line, the page and the HTTP API)."""
    if s.style_weight > 0 and not n_styles:
        raise ValueError("no style image: upload one, or set the style weight to 0 (a style "
                         "weight above 0 needs a style image)")


def check_inputs(s: Settings, n_styles: int) -> None:
    """What the settings alone cannot say: they must fit the images given."""
    check_style(s, n_styles)
    if s.size > images.MAX_SIDE:
        raise ValueError(f"size {s.size} is larger than the {images.MAX_SIDE}-pixel limit")
    if s.init == "style" and not n_styles:
        raise ValueError("init 'style' needs a style image")


@dataclass(frozen=True, eq=False)
class Job:
    """A run's inputs, checked when made: the settings' own rules (:func:`settings.validate`)
    for this many styles, and :func:`check_inputs`. There is no unchecked way to make one."""

    settings: Settings
    content: images.ImageSource
    styles: tuple = ()  # image sources, blended by style_blend_weights or placed by masks
    masks: tuple | None = None  # one image source per style (white: that style applies)
    init_image: images.ImageSource | None = None  # overrides settings.init

    def __post_init__(self) -> None:
        object.__setattr__(self, "styles", as_styles(self.styles))
        if self.masks is not None:
            object.__setattr__(self, "masks", tuple(self.masks))
        validate(self.settings, n_styles=len(self.styles))
        check_inputs(self.settings, len(self.styles))

    @classmethod
    def of(cls, content: images.ImageSource, style: Any = None, settings: Settings | None = None,
           *, masks: Sequence[Any] | None = None, init_image: images.ImageSource | None = None,
           **overrides: Any) -> "Job":
        """The Python API's arguments as a job: ``style`` one source, a sequence or None;
        keyword ``overrides`` replace fields of ``settings`` (default: ``Settings()``)."""
        s = dataclasses.replace(settings or Settings(), **overrides)
        return cls(s, content, as_styles(style), masks, init_image)

    def with_settings(self, settings: Settings) -> "Job":
        """The same inputs with other settings, checked again."""
        return dataclasses.replace(self, settings=settings)
