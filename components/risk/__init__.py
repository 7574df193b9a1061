"""Risk: the pre-trade RiskGuard and the Emergency Stop System.

Every order intent passes :class:`RiskGuard` (limits) and :meth:`EmergencyStop.gate`
(the ESS state) before the broker sees it; each returns a :class:`RiskDecision`, and a
deny becomes an ``order.rejected`` event (:func:`publish_rejection`), never an exception.
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.risk.decision import (
        RiskAction,
        RiskCheck,
        RiskDecision,
        closing_quantity,
        position_quantity,
        publish_rejection,
        reduces_exposure,
    )
    from components.risk.emergency import (
        SOFT_TRIPS,
        EmergencyStop,
        EssConfig,
        EssState,
        EssStatus,
        HaltActions,
        Trip,
    )
    from components.risk.guard import RiskConfig, RiskGuard


__all__ = [
    "SOFT_TRIPS",
    "EmergencyStop",
    "EssConfig",
    "EssState",
    "EssStatus",
    "HaltActions",
    "RiskAction",
    "RiskCheck",
    "RiskConfig",
    "RiskDecision",
    "RiskGuard",
    "Trip",
    "closing_quantity",
    "position_quantity",
    "publish_rejection",
    "reduces_exposure",
]

__getattr__ = lazy_exports(__name__, ("decision", "emergency", "guard"))
