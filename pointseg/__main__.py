"""``python -m pointseg`` (and ``torchrun -m pointseg``): the ``pointseg`` command line."""

import sys

from pointseg.cli import main

sys.exit(main())
