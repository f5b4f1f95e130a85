"""nst_core: optimization-based neural style transfer (Gatys et al.) on a real VGG19, with a
choice of what is optimized (pixels, Fourier coefficients, a Deep Image Prior generator).

Never prints and never imports a UI toolkit: callers get progress records and decide.
"""
from .engine.loop import NonFiniteLossError, evaluate
from .records import Progress
from .engine.prepare import prepare
from .engine.device import resolve_device
from .engine.schedule import run, stylize
from .imaging.images import ImageError, load_image, read_png_settings, save_png
from .losses.style import STYLE_LOSSES
from .optim.registry import OPTIMIZERS
from .params.registry import PARAMETERIZATIONS
from .settings import PRESETS, Settings, from_preset

__all__ = ["Settings", "PRESETS", "from_preset", "stylize", "run", "prepare", "evaluate",
           "Progress", "NonFiniteLossError", "resolve_device", "load_image", "save_png",
           "read_png_settings", "ImageError", "PARAMETERIZATIONS", "OPTIMIZERS", "STYLE_LOSSES"]
__version__ = "0.1.0"
