"""The PolicyStore: the global risk policy in Redis, with guardrails and history."""

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
