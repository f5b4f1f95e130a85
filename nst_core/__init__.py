"""nst_core: optimization-based neural style transfer (Gatys et al.) on a real VGG19, with a
choice of what is optimized (pixels, Fourier coefficients, a Deep Image Prior generator).

Never prints and never imports a UI toolkit: callers get progress records and decide. The
layers, bottom up: ``imaging`` and ``optim``; ``params``, ``losses`` and ``records``;
``settings`` and ``methods``; ``job``; ``engine``; ``results`` and ``estimate``;
``experiments``; and the command line, ``cli``, which nothing else imports.
"""
from .engine.device import resolve_device
from .engine.loop import NonFiniteLossError, evaluate
from .engine.prepare import prepare
from .engine.schedule import run, stylize, stylize_final, stylize_job
from .imaging.images import ImageError, load_image, read_png_settings, save_png
from .job import Job
from .losses.style import STYLE_LOSSES
from .optim.registry import OPTIMIZERS
from .params.registry import PARAMETERIZATIONS
from .records import Progress
from .settings import PRESETS, Settings, from_preset

__all__ = ["Settings", "PRESETS", "from_preset", "stylize", "run", "stylize_final", "Job",
           "stylize_job", "prepare", "evaluate", "Progress", "NonFiniteLossError",
           "resolve_device", "load_image", "save_png", "read_png_settings", "ImageError",
           "PARAMETERIZATIONS", "OPTIMIZERS", "STYLE_LOSSES"]
__version__ = "0.1.0"
