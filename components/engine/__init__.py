"""The trading engine: one cycle from signals to orders.

:mod:`~components.engine.orchestrator` decides which strategy signals a cycle acts on.
"""

from components.engine.orchestrator import (
    DroppedSignal,
    OrchestratorConfig,
    OrchestratorResult,
    select_signals,
)

__all__ = ["DroppedSignal", "OrchestratorConfig", "OrchestratorResult", "select_signals"]
