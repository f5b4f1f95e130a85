import sys

from .cli import main
from . import compare  # noqa: F401,E402  (registers 'compare')

sys.exit(main())
