import sys

from .cli import main
from . import sweep  # noqa: F401,E402  (registers 'sweep')
from . import compare  # noqa: F401,E402  (registers 'compare')

sys.exit(main())
