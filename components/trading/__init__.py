"""Types every trading part shares: a side, an order intent, a signal, and a portfolio
view. Strategies produce signals; the orchestrator, sizing, RiskGuard and the Emergency
Stop turn them into order intents; the broker fills intents; the ledger answers with a
portfolio view. Keeping these here (and small) lets each part be written and tested alone.
"""

from components.trading.types import (
    OrderIntent,
    OrderType,
    PortfolioView,
    PositionView,
    Side,
    Signal,
)

__all__ = ["OrderIntent", "OrderType", "PortfolioView", "PositionView", "Side", "Signal"]
