"""``python -m deployments.api``: serve the HTTP API (see :mod:`deployments.api.server`)."""

from __future__ import annotations

import logging
import sys

from components.errors import QuantumTraderError
from components.settings import load_settings
from deployments.api.server import serve


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        serve(load_settings())
    except QuantumTraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
