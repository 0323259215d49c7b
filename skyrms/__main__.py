"""``python -m skyrms``: the ``skyrms`` command, where the environment's scripts are not on PATH."""

import sys

from skyrms.cli import main

sys.exit(main())
