import sys

from .cli.main import main
from .experiments import sweep  # noqa: F401,E402  (registers 'sweep')
from .experiments import compare  # noqa: F401,E402  (registers 'compare')

sys.exit(main())
