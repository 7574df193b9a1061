"""python -m deployments.cli: the same as the quantum-trader command."""

import sys

from deployments.cli import main

sys.exit(main())
