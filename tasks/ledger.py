"""Tasks that read the trading ledger."""

from __future__ import annotations

from components.execution.ledger import Ledger
from components.settings import Settings
from tasks.common import io_task
from tasks.runtime import runtime


@io_task("open_position_symbols")
def open_position_symbols(settings: Settings) -> list[str]:
    """Symbols with an open position (they always stay in the universe)."""
    ledger = Ledger(runtime(settings).client, namespace=settings.namespace)
    return sorted(ledger.positions())
