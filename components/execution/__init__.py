"""Execution: the cost model, the Redis ledger, the paper broker and position intelligence.

ledger = Ledger.connect(settings)
broker = PaperBroker(ledger, settings.paper.costs)
broker.submit(intent)                                  # OrderAck
broker.on_bar("BTC/USDT", bars.iloc[-1], bars.index[-1])   # [Fill, ...]
ledger.snapshot(marks)                                 # PortfolioView
apply_fill(position, Execution(...))                   # the one accounting model
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.execution.accounting import Applied, Execution, apply_fill, realised_pnl
    from components.execution.broker import (
        Bar,
        BarLike,
        BarOpen,
        BarUpdate,
        Broker,
        BrokerConfig,
        PaperBroker,
    )
    from components.execution.costs import (
        CostModel,
        fee,
        fill_price,
        limit_fill_price,
        spread_bps_of,
        stop_exit_price,
        take_profit_exit_price,
    )
    from components.execution.ledger import DEFAULT_INITIAL_CASH, KEEP, Ledger
    from components.execution.models import (
        ClosedPosition,
        Fill,
        FillReason,
        FillResult,
        LedgerState,
        Order,
        OrderAck,
        Position,
    )
    from components.execution.positions import (
        PositionAction,
        PositionAssessment,
        PositionClass,
        PositionConfig,
        assess_position,
        assess_positions,
        may_scale_in,
    )


__all__ = [
    "DEFAULT_INITIAL_CASH",
    "KEEP",
    "Applied",
    "Bar",
    "BarLike",
    "BarOpen",
    "BarUpdate",
    "Broker",
    "BrokerConfig",
    "ClosedPosition",
    "CostModel",
    "Execution",
    "Fill",
    "FillReason",
    "FillResult",
    "Ledger",
    "LedgerState",
    "Order",
    "OrderAck",
    "PaperBroker",
    "Position",
    "PositionAction",
    "PositionAssessment",
    "PositionClass",
    "PositionConfig",
    "apply_fill",
    "assess_position",
    "assess_positions",
    "fee",
    "fill_price",
    "limit_fill_price",
    "may_scale_in",
    "realised_pnl",
    "spread_bps_of",
    "stop_exit_price",
    "take_profit_exit_price",
]

# lightest first: the ledger needs no pandas
__getattr__ = lazy_exports(
    __name__, ("models", "accounting", "ledger", "costs", "broker", "positions")
)
