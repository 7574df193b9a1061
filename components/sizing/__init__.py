"""The Trading Mathematician: fractional Kelly and volatility-targeted position sizes.

    kelly_fraction(0.55, 1.5)                                   # 0.125 (half Kelly)
    sizer = PositionSizer(SizingConfig())
    decision = sizer.size(equity=10_000, price=100.0, atr=2.0, confidence=0.8,
                          max_risk_per_trade=0.01, win_rate=0.55, win_loss_ratio=1.5)
    decision.quantity, decision.stop_price, decision.reason

Every size keeps ``quantity * stop_distance <= equity * max_risk_per_trade`` and is zero
with no edge or degenerate inputs.
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.sizing.kelly import kelly_fraction, kelly_fractions, kelly_inputs_valid
    from components.sizing.sizer import (
        PositionSizer,
        SizeArrays,
        SizeDecision,
        SizeOutcome,
        SizingConfig,
    )


__all__ = [
    "PositionSizer",
    "SizeArrays",
    "SizeDecision",
    "SizeOutcome",
    "SizingConfig",
    "kelly_fraction",
    "kelly_fractions",
    "kelly_inputs_valid",
]

__getattr__ = lazy_exports(__name__, ("kelly", "sizer"))
