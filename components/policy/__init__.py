"""The PolicyStore: the global risk policy in Redis, with guardrails and history."""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.policy.merge import deep_merge, diff
    from components.policy.model import (
        DEFAULT_STRATEGIES,
        Emergency,
        GlobalPolicy,
        Guardrails,
        PolicyChange,
        StrategyState,
    )
    from components.policy.store import PolicyStore


__all__ = [
    "DEFAULT_STRATEGIES",
    "Emergency",
    "GlobalPolicy",
    "Guardrails",
    "PolicyChange",
    "PolicyStore",
    "StrategyState",
    "deep_merge",
    "diff",
]

__getattr__ = lazy_exports(__name__, ("merge", "model", "store"))
