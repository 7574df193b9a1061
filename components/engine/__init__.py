"""The trading engine: one cycle from signals to orders.

:mod:`~components.engine.orchestrator` decides which strategy signals a cycle acts on;
:mod:`~components.engine.engine` runs the cycle; :mod:`~components.engine.factory` wires
it from the settings.
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
    from components.engine.factory import build_engine
    from components.engine.heartbeat import read_heartbeat
    from components.engine.intents import IntentPlanner
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
    "IntentPlanner",
    "OrchestratorConfig",
    "OrchestratorResult",
    "OrderOutcome",
    "TradingEngine",
    "build_engine",
    "marked_account",
    "read_heartbeat",
    "select_signals",
]

__getattr__ = lazy_exports(
    __name__, ("config", "heartbeat", "orchestrator", "account", "intents", "engine", "factory")
)
