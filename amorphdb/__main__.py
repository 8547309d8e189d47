"""``python -m amorphdb`` is the ``amorphdb`` command."""

import sys

from .cli import main

sys.exit(main())
