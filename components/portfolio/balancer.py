"""Portfolio Balancer: target weights from the rankings and the risk mode, and the orders
that move the portfolio toward them.

:meth:`PortfolioBalancer.targets` spreads the risk mode's gross exposure target
(AGGRESSIVE 1.0, NORMAL 0.7, DEFENSIVE 0.3 of equity by default) over the active
universe in proportion to the ``opp_rankings`` scores, capping each symbol at
``max_weight`` and handing what a capped symbol cannot take to the others. Only symbols
with a positive score and a price get a weight; when the caps cannot absorb the whole
target, the total is ``max_weight`` times the number of symbols.

:meth:`PortfolioBalancer.rebalance_orders` turns targets into order intents, only for
symbols whose weight drifted more than ``drift_tolerance`` from the target. A weight is
a magnitude: an open short keeps its side and is resized, a symbol with no position is
bought. A held symbol missing from non-empty targets has target 0 (it is closed); empty
targets mean "no opinion" and produce no orders. Orders that shrink a position are
flagged ``reduce_only`` and come first. The orders go through the same RiskGuard and
Emergency Stop as every other order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from components.errors import DataError
from components.policy.model import GlobalPolicy
from components.portfolio.config import BalancerConfig
from components.trading.types import OrderIntent, PortfolioView, Side

_TOLERANCE = 1e-12


class PortfolioBalancer:
    """Target weights and rebalance orders; see the module docstring.

    >>> balancer = PortfolioBalancer(BalancerConfig())
    >>> balancer.rebalance_orders(balancer.targets(policy, portfolio, prices), portfolio,
    ...                           prices, now=now)
    """

    def __init__(self, config: BalancerConfig | None = None) -> None:
        self.config = config or BalancerConfig()

    def targets(
        self, policy: GlobalPolicy, portfolio: PortfolioView, prices: Mapping[str, float]
    ) -> dict[str, float]:
        """Weight per symbol (fraction of equity, >= 0) summing to the mode's gross target.

        A symbol is priced from ``prices``, else from its position's mark; one with
        neither gets no weight (it cannot be traded).

        Raises
        ------
        DataError
            A price is not a positive finite number (names the symbol).

        >>> PortfolioBalancer().targets(policy, portfolio, {"BTC/USDT": 60_000.0})
        {'BTC/USDT': 0.25}
        """
        _check_prices(prices)
        scores = {
            symbol: score
            for symbol in sorted(set(policy.active_universe))
            if (score := policy.opp_rankings.get(symbol, 0.0)) > 0
            and math.isfinite(score)
            and _price(symbol, portfolio, prices) is not None
        }
        gross = self.config.gross_targets[policy.risk_mode]
        return _water_fill(scores, gross, self.config.max_weight)

    def rebalance_orders(
        self,
        targets: Mapping[str, float],
        portfolio: PortfolioView,
        prices: Mapping[str, float],
        *,
        now: datetime,
    ) -> list[OrderIntent]:
        """Orders moving each drifted symbol to its target weight; reductions first.

        Client order ids are ``rebal:<symbol>:<now %Y%m%dT%H%M>``, so re-deriving the
        orders of one minute cannot place them twice.

        Raises
        ------
        DataError
            A price or a target weight is not a finite number >= 0, or a symbol that
            needs an order has no price.

        >>> PortfolioBalancer().rebalance_orders({"BTC/USDT": 0.25}, portfolio, prices, now=now)
        """
        _check_prices(prices)
        bad = {s: w for s, w in targets.items() if not (math.isfinite(w) and w >= 0)}
        if bad:
            symbol, weight = next(iter(bad.items()))
            raise DataError(f"target weight of {symbol} is {weight!r}; it must be finite, >= 0")
        equity = portfolio.equity
        if not targets or not (math.isfinite(equity) and equity > 0):
            return []
        held = {s for s, p in portfolio.positions.items() if p.quantity != 0}
        reductions: list[OrderIntent] = []
        increases: list[OrderIntent] = []
        for symbol in sorted(set(targets) | held):
            position = portfolio.positions.get(symbol)
            quantity = position.quantity if position is not None else 0.0
            price = _price(symbol, portfolio, prices)
            if price is None:
                raise DataError(f"no price for {symbol}: a rebalance order needs one")
            current = abs(quantity) * price / equity
            target = targets.get(symbol, 0.0)
            if abs(target - current) <= self.config.drift_tolerance + _TOLERANCE:
                continue
            side_of_position = -1 if quantity < 0 else 1
            delta_value = side_of_position * (target - current) * equity
            order_quantity = abs(delta_value) / price
            if abs(delta_value) < self.config.min_order_notional or order_quantity <= 0:
                continue
            reducing = target < current
            intent = OrderIntent(
                client_order_id=f"rebal:{symbol}:{now:%Y%m%dT%H%M}",
                symbol=symbol,
                side=Side.BUY if delta_value > 0 else Side.SELL,
                quantity=min(order_quantity, abs(quantity)) if reducing else order_quantity,
                reference_price=price,
                strategy="balancer",
                reduce_only=reducing,
                created_at=now,
            )
            (reductions if reducing else increases).append(intent)
        return reductions + increases


def _check_prices(prices: Mapping[str, float]) -> None:
    for symbol, price in prices.items():
        if not (math.isfinite(price) and price > 0):
            raise DataError(f"price of {symbol} is {price!r}; it must be a positive number")


def _price(symbol: str, portfolio: PortfolioView, prices: Mapping[str, float]) -> float | None:
    if symbol in prices:
        return prices[symbol]
    position = portfolio.positions.get(symbol)
    return position.mark_price if position is not None else None


def _water_fill(scores: Mapping[str, float], total: float, cap: float) -> dict[str, float]:
    """Split ``total`` in proportion to ``scores`` with no share above ``cap``.

    Capped symbols take ``cap``; what they could not take is shared by the rest in
    proportion to their scores, until nothing is left over or every symbol is capped.
    """
    weights = dict.fromkeys(scores, 0.0)
    free = dict(scores)
    left = total
    while free and left > _TOLERANCE:
        score_sum = sum(free.values())
        shares = {s: left * score / score_sum for s, score in free.items()}
        over = {s for s, w in shares.items() if w >= cap}
        if not over:
            weights.update(shares)
            break
        for symbol in over:
            weights[symbol] = cap
            left -= cap
            del free[symbol]
    return {s: w for s, w in weights.items() if w > 0}
