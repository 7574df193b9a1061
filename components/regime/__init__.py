"""Market regimes and the Meta Strategy Controller.

:mod:`~components.regime.classifier` tells which state each symbol and the market are in;
:mod:`~components.regime.controller` turns that, system health and recent performance
into a risk mode, its limits and the strategies allowed (its rules);
:mod:`~components.regime.assessment` holds what it reads and decides, and renders it;
:mod:`~components.regime.config` its knobs.
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.regime.classifier import (
        MARKET,
        ClassifierConfig,
        MarketClassification,
        RegimeClassifier,
        StateAssessment,
    )
    from components.regime.config import DEFAULT_ALLOWED_STRATEGIES, MarketState, MSCConfig
    from components.regime.controller import (
        EmergencyStatus,
        HealthSnapshot,
        HealthStatus,
        MetaStrategyController,
        ModeLimits,
        MSCInputs,
        MSCMemory,
        PerformanceSnapshot,
        RegimeAssessment,
    )


__all__ = [
    "DEFAULT_ALLOWED_STRATEGIES",
    "MARKET",
    "ClassifierConfig",
    "EmergencyStatus",
    "HealthSnapshot",
    "HealthStatus",
    "MSCConfig",
    "MSCInputs",
    "MSCMemory",
    "MarketClassification",
    "MarketState",
    "MetaStrategyController",
    "ModeLimits",
    "PerformanceSnapshot",
    "RegimeAssessment",
    "RegimeClassifier",
    "StateAssessment",
]

__getattr__ = lazy_exports(__name__, ("config", "classifier", "assessment", "controller"))
