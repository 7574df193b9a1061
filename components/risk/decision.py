"""What a risk check returns, and how a refusal becomes an ``order.rejected`` event.

A refused order is a decision with a reason, never an exception: :class:`RiskDecision`
says approve, resize (with the smaller intent) or deny, and names the rule that decided.
:func:`publish_rejection` turns a deny into one event on the bus, so the checks
themselves stay pure.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from components.events.bus import EventBus
from components.events.models import Event
from components.events.types import ORDER_REJECTED, OrderRejected
from components.trading.types import OrderIntent, PortfolioView


class RiskAction(StrEnum):
    APPROVE = "approve"
    RESIZE = "resize"
    DENY = "deny"


class RiskCheck(StrEnum):
    """The rule that decided; a deny's ``reason`` starts with this name."""

    REDUCE_ONLY = "reduce_only"
    POLICY_STOP = "policy_stop"
    EQUITY = "equity"
    MAX_POSITIONS = "max_positions"
    RISK_PER_TRADE = "risk_per_trade"
    GROSS_EXPOSURE = "gross_exposure"
    NET_EXPOSURE = "net_exposure"
    SYMBOL_EXPOSURE = "symbol_exposure"
    MIN_NOTIONAL = "min_notional"
    EMERGENCY_STOP = "emergency_stop"


class RiskDecision(BaseModel):
    """The verdict on one order intent.

    ``intent`` is the order to place: the original on approve (and on deny, for the
    record), a smaller copy on resize. ``check`` names the deciding rule (``None`` when
    an order passed every rule untouched).

    >>> decision = RiskGuard(RiskConfig()).check(intent, portfolio, policy)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: RiskAction
    intent: OrderIntent
    reason: str
    check: RiskCheck | None = None

    @property
    def approved(self) -> bool:
        """True when an order may be placed (approved as is, or resized)."""
        return self.action is not RiskAction.DENY

    @classmethod
    def approve(
        cls, intent: OrderIntent, reason: str, check: RiskCheck | None = None
    ) -> RiskDecision:
        return cls(action=RiskAction.APPROVE, intent=intent, reason=reason, check=check)

    @classmethod
    def resize(
        cls, intent: OrderIntent, quantity: float, reason: str, check: RiskCheck
    ) -> RiskDecision:
        smaller = intent.model_copy(update={"quantity": quantity})
        return cls(
            action=RiskAction.RESIZE, intent=smaller, reason=f"{check}: {reason}", check=check
        )

    @classmethod
    def deny(cls, intent: OrderIntent, reason: str, check: RiskCheck) -> RiskDecision:
        return cls(action=RiskAction.DENY, intent=intent, reason=f"{check}: {reason}", check=check)


def position_quantity(portfolio: PortfolioView, symbol: str) -> float:
    """The signed quantity held in ``symbol`` (0 when there is no position)."""
    position = portfolio.positions.get(symbol)
    return position.quantity if position is not None else 0.0


def closing_quantity(intent: OrderIntent, portfolio: PortfolioView) -> float:
    """How much of ``intent`` shrinks the position it trades, without crossing zero.

    A sell against a long of 2 closes up to 2; a buy against it closes nothing.

    >>> closing_quantity(sell_3_btc, portfolio_long_2_btc)
    2.0
    """
    held = position_quantity(portfolio, intent.symbol)
    if held * intent.side.sign >= 0:  # flat, or the same direction: nothing to close
        return 0.0
    return min(intent.quantity, abs(held))


def reduces_exposure(intent: OrderIntent, portfolio: PortfolioView) -> bool:
    """True when the whole order shrinks ``|position|`` and never flips its side.

    >>> reduces_exposure(sell_1_btc, portfolio_long_2_btc)
    True
    """
    return intent.quantity <= closing_quantity(intent, portfolio)


def publish_rejection(
    decision: RiskDecision,
    bus: EventBus,
    *,
    source: str = "risk_guard",
    correlation_id: str | None = None,
) -> Event | None:
    """Publish ``order.rejected`` for a deny; approvals and resizes publish nothing.

    Its correlation id is ``correlation_id``, else the intent's (the signal that caused
    it), else its client order id. Returns the event published, or ``None``.

    >>> publish_rejection(guard.check(intent, portfolio, policy), bus, source="engine")
    """
    if decision.action is not RiskAction.DENY:
        return None
    intent = decision.intent
    event = Event.create(
        ORDER_REJECTED,
        OrderRejected(
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            side=intent.side.value,
            quantity=intent.quantity,
            reason=decision.reason,
            check=decision.check.value if decision.check is not None else None,
            strategy=intent.strategy,
        ),
        source=source,
        correlation_id=correlation_id or intent.correlation_id or intent.client_order_id,
    )
    bus.publish(event)
    return event
