"""The trading engine: one cycle from signals to orders.

:mod:`~components.engine.orchestrator` decides which strategy signals a cycle acts on;
:mod:`~components.engine.engine` runs the cycle.
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.engine.account import marked_account
    from components.engine.engine import (
        CycleReport,
        EngineConfig,
        OrderOutcome,
        TradingEngine,
    )
    from components.engine.heartbeat import read_heartbeat
    from components.engine.orchestrator import (
        DroppedSignal,
        OrchestratorConfig,
        OrchestratorResult,
        select_signals,
    )


__all__ = [
    "CycleReport",
    "DroppedSignal",
    "EngineConfig",
    "OrchestratorConfig",
    "OrchestratorResult",
    "OrderOutcome",
    "TradingEngine",
    "marked_account",
    "read_heartbeat",
    "select_signals",
]

__getattr__ = lazy_exports(__name__, ("config", "heartbeat", "orchestrator", "account", "engine"))
