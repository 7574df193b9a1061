"""Portfolio Balancer: target weights from the rankings and the risk mode, and the
rebalance orders that reach them (through the same RiskGuard as every order)."""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.portfolio.balancer import BalancerConfig, PortfolioBalancer


__all__ = ["BalancerConfig", "PortfolioBalancer"]

__getattr__ = lazy_exports(__name__, ("balancer",))
