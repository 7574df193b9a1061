"""RiskGuard: the pre-trade checks every order intent passes before the broker sees it.

Rules, in the order they are applied to an order that opens or grows exposure:

``reduce_only``
    An order that only shrinks a position (without flipping it) is always approved: a
    risk guard must never block a de-risking order. An intent flagged ``reduce_only``
    that would grow a position is cut to the part that closes it, or denied.
``policy_stop``
    ``stop_all_trading`` or an active emergency in the policy: nothing new opens.
``equity``
    No equity (zero, negative or not a number): nothing new opens.
``min_notional``
    An order worth less than ``min_notional`` is denied.
``max_positions``
    A new position beyond the policy's ``max_positions`` is denied (adding to, reducing
    or flipping an existing position is not a new position).
``risk_per_trade``
    ``quantity * stop_distance <= max_risk_per_trade * equity`` for the part of the
    order that opens exposure; the stop distance is the argument, else the distance to
    the intent's ``stop_loss``; with neither the rule cannot apply and is skipped.
``gross_exposure``, ``symbol_exposure``
    After the fill, ``sum |value|`` and ``|value of the symbol|`` stay within their
    multiple of equity.
``net_exposure``
    After the fill, ``sum value`` stays within the cap on the side the order pushes it
    to: a buy may not lift it above ``+cap``, a sell may not push it below ``-cap``. An
    order that moves net exposure toward zero passes this rule even while the portfolio
    is still beyond the cap.

The caps resize the order down to the largest quantity every rule allows; when the room
left for new exposure is below ``min_notional`` the order is denied instead (or, for an
order that flips a position, cut to the part that closes it). The traded symbol is
valued at the intent's ``reference_price``, every other position at its mark.

:meth:`RiskGuard.check` is pure. :meth:`RiskGuard.review` also publishes
``order.rejected`` on a deny when the guard was given a bus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from components.errors import ConfigurationError
from components.events.bus import EventBus
from components.policy.model import GlobalPolicy
from components.risk.config import RiskConfig
from components.risk.decision import (
    RiskCheck,
    RiskDecision,
    closing_quantity,
    position_quantity,
    publish_rejection,
)
from components.trading.types import OrderIntent, PortfolioView


@dataclass(frozen=True, slots=True)
class _Limit:
    """The largest order quantity one rule allows, and why."""

    check: RiskCheck
    quantity: float
    detail: str


@dataclass(frozen=True, slots=True)
class _Totals:
    """Sums over one portfolio's positions that every check against it needs: the engine
    checks all of a cycle's intents against one view, so they are summed once per view
    (in the positions' order, the same numbers as summing each time)."""

    portfolio: PortfolioView
    equity: float
    held: int  # positions with a quantity
    gross: float  # sum of |market value|
    net: float  # sum of market values

    @classmethod
    def of(cls, portfolio: PortfolioView) -> _Totals:
        values = [p.market_value for p in portfolio.positions.values()]
        return cls(
            portfolio,
            portfolio.equity,
            sum(1 for p in portfolio.positions.values() if p.quantity != 0),
            sum(abs(value) for value in values),
            sum(values),
        )


class RiskGuard:
    """Pre-trade checks; see the module docstring for the rules.

    >>> RiskGuard(RiskConfig()).check(intent, portfolio, policy, stop_distance=150.0).action
    <RiskAction.APPROVE: 'approve'>
    """

    def __init__(self, config: RiskConfig | None = None, *, bus: EventBus | None = None) -> None:
        self.config = config or RiskConfig()
        self.bus = bus
        self._totals: _Totals | None = None  # of the last portfolio checked (views are frozen)

    def review(
        self,
        intent: OrderIntent,
        portfolio: PortfolioView,
        policy: GlobalPolicy,
        *,
        stop_distance: float | None = None,
        source: str = "risk_guard",
    ) -> RiskDecision:
        """:meth:`check`, then publish ``order.rejected`` on a deny when a bus was given.

        >>> RiskGuard(RiskConfig(), bus=bus).review(intent, portfolio, policy)
        """
        decision = self.check(intent, portfolio, policy, stop_distance=stop_distance)
        if self.bus is not None:
            publish_rejection(decision, self.bus, source=source)
        return decision

    def check(
        self,
        intent: OrderIntent,
        portfolio: PortfolioView,
        policy: GlobalPolicy,
        *,
        stop_distance: float | None = None,
    ) -> RiskDecision:
        """Approve, resize or deny ``intent`` against the portfolio and the policy.

        Parameters
        ----------
        stop_distance:
            Price distance to the stop, for the risk-per-trade rule; defaults to
            ``|reference_price - stop_loss|`` when the intent has a stop loss.

        Raises
        ------
        ConfigurationError
            ``stop_distance`` is not a positive finite number.

        >>> RiskGuard().check(intent, portfolio, policy).approved
        True
        """
        if stop_distance is not None and not (math.isfinite(stop_distance) and stop_distance > 0):
            raise ConfigurationError(
                f"stop_distance={stop_distance!r} must be a positive, finite price distance"
            )
        closing = closing_quantity(intent, portfolio)
        if intent.quantity <= closing:
            return RiskDecision.approve(
                intent,
                f"{RiskCheck.REDUCE_ONLY}: the order only shrinks the {intent.symbol} position",
                RiskCheck.REDUCE_ONLY,
            )
        if intent.reduce_only:
            return self._refuse(
                intent,
                closing,
                RiskCheck.REDUCE_ONLY,
                "a reduce_only order may not open or grow a position",
            )
        if not policy.trading_allowed():
            why = (
                "stop_all_trading is set"
                if policy.stop_all_trading
                else f"the policy emergency is active ({policy.emergency.reason or 'no reason'})"
            )
            return self._refuse(intent, closing, RiskCheck.POLICY_STOP, f"{why}; nothing opens")
        totals = self._totals_of(portfolio)
        equity = totals.equity
        if not (math.isfinite(equity) and equity > 0):
            return self._refuse(
                intent, closing, RiskCheck.EQUITY, f"equity is {equity:g}; nothing opens"
            )
        if intent.notional < self.config.min_notional:
            return self._refuse(
                intent,
                closing,
                RiskCheck.MIN_NOTIONAL,
                f"notional {intent.notional:,.2f} is below the minimum "
                f"{self.config.min_notional:,.2f}",
            )
        if position_quantity(portfolio, intent.symbol) == 0:
            held = totals.held
            if held >= policy.max_positions:
                return RiskDecision.deny(
                    intent,
                    f"{held} positions are open and the policy allows {policy.max_positions}",
                    RiskCheck.MAX_POSITIONS,
                )
        limits = self._limits(intent, totals, policy, closing, stop_distance)
        binding = min(limits, key=lambda limit: limit.quantity)
        allowed = max(closing, binding.quantity)
        if intent.quantity <= allowed:
            return RiskDecision.approve(intent, "within every limit")
        room = (allowed - closing) * intent.reference_price
        if room <= 0 or room < self.config.min_notional:
            left = (
                "no room is left"
                if room <= 0
                else f"the room left ({room:,.2f}) is below the minimum notional "
                f"{self.config.min_notional:,.2f}"
            )
            return self._refuse(intent, closing, binding.check, f"{binding.detail}; {left}")
        return RiskDecision.resize(
            intent,
            allowed,
            f"{binding.detail}; quantity {intent.quantity:g} cut to {allowed:g}",
            binding.check,
        )

    # --- internals ----------------------------------------------------------------------
    @staticmethod
    def _refuse(intent: OrderIntent, closing: float, check: RiskCheck, reason: str) -> RiskDecision:
        """Deny, or keep only the part of the order that closes the position."""
        if closing > 0:
            return RiskDecision.resize(
                intent, closing, f"{reason}; cut to the part that closes the position", check
            )
        return RiskDecision.deny(intent, reason, check)

    def _totals_of(self, portfolio: PortfolioView) -> _Totals:
        totals = self._totals
        if totals is None or totals.portfolio is not portfolio:
            totals = self._totals = _Totals.of(portfolio)
        return totals

    def _limits(
        self,
        intent: OrderIntent,
        totals: _Totals,
        policy: GlobalPolicy,
        closing: float,
        stop_distance: float | None,
    ) -> list[_Limit]:
        config = self.config
        portfolio, equity = totals.portfolio, totals.equity
        price = intent.reference_price
        sign = intent.side.sign
        held = position_quantity(portfolio, intent.symbol)
        if intent.symbol in portfolio.positions:
            others = [p for s, p in portfolio.positions.items() if s != intent.symbol]
            gross_others = sum(abs(p.market_value) for p in others)
            net_others = sum(p.market_value for p in others)
        else:  # the others are every position
            gross_others, net_others = totals.gross, totals.net
        limits: list[_Limit] = []

        if stop_distance is None and intent.stop_loss is not None:
            stop_distance = abs(price - intent.stop_loss) or None
        if stop_distance is not None:
            budget = policy.max_risk_per_trade * equity
            limits.append(
                _Limit(
                    RiskCheck.RISK_PER_TRADE,
                    closing + budget / stop_distance,
                    f"risk {intent.quantity - closing:g} x {stop_distance:g} exceeds "
                    f"max_risk_per_trade {policy.max_risk_per_trade:g} x equity "
                    f"{equity:,.2f} = {budget:,.2f}",
                )
            )

        def along(max_abs_position: float) -> float:
            """The order quantity that brings |position| to ``max_abs_position``."""
            if held * sign >= 0:  # growing the position
                return max_abs_position - abs(held)
            return abs(held) + max_abs_position  # through zero, then the other side

        gross_cap = config.max_gross_exposure * equity
        limits.append(
            _Limit(
                RiskCheck.GROSS_EXPOSURE,
                along((gross_cap - gross_others) / price),
                f"gross exposure would exceed {config.max_gross_exposure:g} x equity "
                f"= {gross_cap:,.2f}",
            )
        )
        net_cap = config.max_net_exposure * equity
        # the position may range over [low, high] and keep |net| within the cap
        low, high = (-net_cap - net_others) / price, (net_cap - net_others) / price
        limits.append(
            _Limit(
                RiskCheck.NET_EXPOSURE,
                high - held if sign > 0 else held - low,
                f"net exposure would exceed {config.max_net_exposure:g} x equity = {net_cap:,.2f}",
            )
        )
        symbol_cap = config.max_symbol_exposure * equity
        limits.append(
            _Limit(
                RiskCheck.SYMBOL_EXPOSURE,
                along(symbol_cap / price),
                f"{intent.symbol} exposure would exceed {config.max_symbol_exposure:g} x "
                f"equity = {symbol_cap:,.2f}",
            )
        )
        return limits
