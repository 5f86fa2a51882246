"""``python -m nb201_flat`` runs the command line."""

import sys

from nb201_flat.cli import main

sys.exit(main())
