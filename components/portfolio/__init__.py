"""Portfolio Balancer: target weights from the rankings and the risk mode, and the
rebalance orders that reach them (through the same RiskGuard as every order)."""

from components.portfolio.balancer import BalancerConfig, PortfolioBalancer

__all__ = ["BalancerConfig", "PortfolioBalancer"]
