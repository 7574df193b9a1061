"""RiskGuard: each rule case by case, then the invariants as properties."""

from __future__ import annotations

import math

import pytest
import redis
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from components.errors import ConfigurationError
from components.events import InMemoryEventBus, RedisEventBus
from components.policy import Emergency, GlobalPolicy
from components.risk import (
    RiskAction,
    RiskCheck,
    RiskConfig,
    RiskGuard,
    publish_rejection,
    reduces_exposure,
)
from components.settings import load_settings
from components.trading.types import OrderIntent, PortfolioView
from tests.unit.risk.builders import (
    intent,
    intents,
    policy,
    portfolio,
    portfolios,
    signed_after,
)

GUARD = RiskGuard(RiskConfig())  # gross 1.0, net 1.0, symbol 0.25 x equity; min 10 USDT
EMPTY = portfolio(10_000.0)  # equity 10,000, nothing held


# --- approve --------------------------------------------------------------------------
def test_an_order_within_every_limit_is_approved_untouched() -> None:
    order = intent(quantity=0.01)  # 500 USDT of BTC
    decision = GUARD.check(order, EMPTY, policy())
    assert decision.action is RiskAction.APPROVE
    assert decision.intent == order
    assert decision.check is None and decision.approved


# --- min_notional ---------------------------------------------------------------------
def test_an_order_below_the_minimum_notional_is_denied() -> None:
    decision = GUARD.check(intent(quantity=0.0001), EMPTY, policy())  # 5 USDT
    assert decision.action is RiskAction.DENY
    assert decision.check is RiskCheck.MIN_NOTIONAL
    assert decision.reason.startswith("min_notional:")


# --- symbol_exposure --------------------------------------------------------------------
def test_an_order_past_the_per_symbol_cap_is_resized_to_the_cap() -> None:
    decision = GUARD.check(intent(quantity=0.1), EMPTY, policy())  # 5,000 > 2,500
    assert decision.action is RiskAction.RESIZE
    assert decision.check is RiskCheck.SYMBOL_EXPOSURE
    assert decision.intent.quantity == pytest.approx(0.05)
    assert decision.intent.client_order_id == intent(quantity=0.1).client_order_id


def test_adding_to_a_position_at_the_per_symbol_cap_is_denied() -> None:
    book = portfolio(7_500.0, BTC=(0.05, 50_000.0))  # 2,500 of 10,000 already
    decision = GUARD.check(intent(quantity=0.01), book, policy())
    assert decision.action is RiskAction.DENY
    assert decision.reason.startswith("symbol_exposure:")


# --- gross_exposure -------------------------------------------------------------------
def test_an_order_past_the_gross_cap_is_resized_to_the_room_left() -> None:
    book = portfolio(19_000.0, ETH=(-3.0, 3_000.0))  # equity 10,000; gross 9,000
    decision = GUARD.check(intent(quantity=0.04), book, policy())  # +2,000
    assert decision.action is RiskAction.RESIZE
    assert decision.check is RiskCheck.GROSS_EXPOSURE
    assert decision.intent.quantity == pytest.approx(0.02)  # the 1,000 left


def test_an_order_is_denied_when_the_gross_room_left_is_below_the_minimum_notional() -> None:
    book = portfolio(19_995.0, ETH=(-3.3315, 3_000.0))  # gross 9,994.5 of 10,000
    decision = GUARD.check(intent(quantity=0.01), book, policy())
    assert decision.action is RiskAction.DENY
    assert decision.check is RiskCheck.GROSS_EXPOSURE
    assert "below the minimum notional" in decision.reason


# --- net_exposure ---------------------------------------------------------------------
def test_an_order_past_the_net_cap_is_resized_but_one_that_lowers_net_passes() -> None:
    guard = RiskGuard(
        RiskConfig(max_gross_exposure=3.0, max_net_exposure=0.5, max_symbol_exposure=1.0)
    )
    book = portfolio(6_000.0, ETH=(4 / 3, 3_000.0))  # net +4,000 of equity 10,000
    buy = guard.check(intent(quantity=0.04), book, policy())  # +2,000 net
    assert buy.action is RiskAction.RESIZE and buy.check is RiskCheck.NET_EXPOSURE
    assert buy.intent.quantity == pytest.approx(0.02)
    sell = guard.check(intent(side="sell", quantity=0.04), book, policy())
    assert sell.action is RiskAction.APPROVE


# --- max_positions --------------------------------------------------------------------
def test_a_new_position_beyond_max_positions_is_denied() -> None:
    book = portfolio(9_000.0, ETH=(0.1, 3_000.0), SOL=(5.0, 140.0))
    decision = GUARD.check(intent(), book, policy(max_positions=2))
    assert decision.action is RiskAction.DENY
    assert decision.check is RiskCheck.MAX_POSITIONS
    assert decision.reason == "max_positions: 2 positions are open and the policy allows 2"


def test_adding_to_or_reducing_an_existing_position_is_not_a_new_position() -> None:
    book = portfolio(9_000.0, ETH=(0.1, 3_000.0), SOL=(5.0, 140.0))
    add = GUARD.check(
        intent("ETH/USDT", quantity=0.1, price=3_000.0), book, policy(max_positions=2)
    )
    cut = GUARD.check(
        intent("SOL/USDT", "sell", quantity=1.0, price=140.0), book, policy(max_positions=2)
    )
    assert add.action is RiskAction.APPROVE
    assert cut.action is RiskAction.APPROVE


# --- risk_per_trade -------------------------------------------------------------------
def test_an_order_risking_more_than_max_risk_per_trade_is_resized_to_fit() -> None:
    # 1% of 10,000 = 100 at risk; a 5,000 stop distance allows 0.02 BTC
    decision = GUARD.check(intent(quantity=0.04), EMPTY, policy(), stop_distance=5_000.0)
    assert decision.action is RiskAction.RESIZE
    assert decision.check is RiskCheck.RISK_PER_TRADE
    assert decision.intent.quantity == pytest.approx(0.02)
    assert decision.intent.quantity * 5_000.0 <= 0.01 * EMPTY.equity + 1e-9


def test_the_stop_distance_defaults_to_the_distance_to_the_intents_stop_loss() -> None:
    order = intent(quantity=0.04, stop_loss=45_000.0)
    decision = GUARD.check(order, EMPTY, policy())
    assert decision.check is RiskCheck.RISK_PER_TRADE
    assert decision.intent.quantity == pytest.approx(0.02)
    assert decision.intent.stop_loss == 45_000.0


@pytest.mark.parametrize("distance", [0.0, -1.0, math.nan, math.inf])
def test_a_stop_distance_that_is_not_a_positive_number_is_refused(distance: float) -> None:
    with pytest.raises(ConfigurationError, match="stop_distance"):
        GUARD.check(intent(), EMPTY, policy(), stop_distance=distance)


# --- reduce_only ----------------------------------------------------------------------
OVEREXTENDED = portfolio(-40_000.0, BTC=(1.0, 50_000.0))  # equity 10,000, gross 5 x


def test_an_order_that_only_reduces_exposure_is_approved_whatever_else_holds() -> None:
    stopped = policy(
        stop_all_trading=True, max_positions=0, emergency=Emergency(active=True, reason="x")
    )
    tiny = intent(side="sell", quantity=0.00001)  # 0.50 USDT: below the minimum too
    for order in (intent(side="sell", quantity=0.5), intent(side="sell", quantity=1.0), tiny):
        decision = GUARD.check(order, OVEREXTENDED, stopped, stop_distance=1.0)
        assert decision.action is RiskAction.APPROVE
        assert decision.check is RiskCheck.REDUCE_ONLY
        assert decision.intent == order


def test_a_reduce_only_intent_that_would_grow_a_position_is_denied() -> None:
    decision = GUARD.check(intent(reduce_only=True), EMPTY, policy())
    assert decision.action is RiskAction.DENY
    assert decision.check is RiskCheck.REDUCE_ONLY


def test_a_reduce_only_intent_larger_than_the_position_is_cut_to_close_it() -> None:
    order = intent(side="sell", quantity=2.0, reduce_only=True)
    decision = GUARD.check(order, OVEREXTENDED, policy())
    assert decision.action is RiskAction.RESIZE
    assert decision.intent.quantity == 1.0


def test_an_order_that_flips_a_position_keeps_the_closing_part_within_the_caps() -> None:
    book = portfolio(9_000.0, BTC=(0.02, 50_000.0))  # long 1,000 of equity 10,000
    decision = GUARD.check(intent(side="sell", quantity=0.1), book, policy())
    assert decision.action is RiskAction.RESIZE
    assert decision.check is RiskCheck.SYMBOL_EXPOSURE
    assert decision.intent.quantity == pytest.approx(0.07)  # close 0.02, short 0.05 = cap


# --- policy_stop and equity -----------------------------------------------------------
@pytest.mark.parametrize(
    "changes",
    [{"stop_all_trading": True}, {"emergency": Emergency(active=True, reason="CRITICAL")}],
)
def test_nothing_opens_when_the_policy_stops_trading(changes: dict[str, object]) -> None:
    decision = GUARD.check(intent(), EMPTY, policy(**changes))
    assert decision.action is RiskAction.DENY
    assert decision.check is RiskCheck.POLICY_STOP


def test_nothing_opens_without_equity() -> None:
    broke = portfolio(-60_000.0, ETH=(10.0, 5_000.0))  # equity -10,000
    decision = GUARD.check(intent(), broke, policy())
    assert decision.action is RiskAction.DENY and decision.check is RiskCheck.EQUITY


# --- order.rejected -------------------------------------------------------------------
def test_review_publishes_order_rejected_for_a_deny_and_nothing_otherwise() -> None:
    bus = InMemoryEventBus()
    guard = RiskGuard(RiskConfig(), bus=bus)
    guard.review(intent(quantity=0.01), EMPTY, policy())  # approved
    guard.review(intent(quantity=0.1), EMPTY, policy())  # resized
    denied = guard.review(intent(quantity=0.0001, strategy="momentum"), EMPTY, policy())
    events = bus.tail("order.rejected")
    assert len(events) == 1
    payload = events[0].payload
    assert payload.reason == denied.reason  # type: ignore[attr-defined]
    assert payload.check == "min_notional"  # type: ignore[attr-defined]
    assert payload.strategy == "momentum"  # type: ignore[attr-defined]
    assert events[0].source == "risk_guard"


def test_a_rejection_lands_on_the_redis_stream(client: redis.Redis, namespace: str) -> None:
    bus = RedisEventBus(client, namespace=namespace)
    decision = GUARD.check(intent(), EMPTY, policy(stop_all_trading=True))
    assert publish_rejection(decision, bus, source="engine") is not None
    assert publish_rejection(GUARD.check(intent(), EMPTY, policy()), bus) is None
    (event,) = bus.tail("order.rejected")
    assert event.payload.check == "policy_stop"  # type: ignore[attr-defined]


def test_the_config_reads_settings_and_forbids_unknown_or_out_of_range_fields() -> None:
    assert load_settings().risk == RiskConfig()
    with pytest.raises(ValueError, match="max_gross_exposure"):
        RiskConfig(max_gross_exposure=0)
    with pytest.raises(ValueError, match="extra"):
        RiskConfig(max_leverage=3)  # type: ignore[call-arg]


# --- properties -----------------------------------------------------------------------
def exposures(order: OrderIntent, book: PortfolioView) -> tuple[float, float, float]:
    """(gross, net, |symbol|) after ``order`` fills, valued as the guard values them."""
    others = [p for s, p in book.positions.items() if s != order.symbol]
    _, after = signed_after(order, book)
    value = after * order.reference_price
    gross = sum(abs(p.market_value) for p in others) + abs(value)
    net = sum(p.market_value for p in others) + value
    return gross, net, abs(value)


configs = st.builds(
    RiskConfig,
    max_gross_exposure=st.floats(0.1, 3),
    max_net_exposure=st.floats(0.1, 3),
    max_symbol_exposure=st.floats(0.05, 1),
    min_notional=st.floats(0, 20),
)
policies = st.builds(
    policy, max_positions=st.integers(0, 6), max_risk_per_trade=st.floats(0.001, 0.05)
)


@hsettings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    book=portfolios(),
    config=configs,
    rules=policies,
    stop=st.none() | st.floats(0.1, 500),
)
def test_an_approved_or_resized_order_never_exceeds_any_cap(
    data: st.DataObject,
    book: PortfolioView,
    config: RiskConfig,
    rules: GlobalPolicy,
    stop: float | None,
) -> None:
    order = data.draw(intents(book))
    decision = RiskGuard(config).check(order, book, rules, stop_distance=stop)
    assert decision.reason.startswith(str(decision.check)) or decision.check is None
    if not decision.approved:
        return
    placed = decision.intent
    assert 0 < placed.quantity <= order.quantity
    assert placed.side is order.side and placed.symbol == order.symbol
    if reduces_exposure(placed, book):
        return  # de-risking orders are exempt from the caps
    equity = book.equity
    slack = 1e-9 * max(1.0, abs(equity))
    gross, net, symbol_value = exposures(placed, book)
    assert gross <= config.max_gross_exposure * equity + slack
    # net may not pass the cap in the order's direction (moving toward zero is allowed)
    assert placed.side.sign * net <= config.max_net_exposure * equity + slack
    assert symbol_value <= config.max_symbol_exposure * equity + slack
    assert placed.notional >= config.min_notional - slack
    before, _ = signed_after(placed, book)
    if stop is not None:
        closing = min(abs(before), placed.quantity) if before * placed.side.sign < 0 else 0.0
        risk = (placed.quantity - closing) * stop
        assert risk <= rules.max_risk_per_trade * equity + slack
    if before == 0:
        held = sum(1 for p in book.positions.values() if p.quantity != 0)
        assert held < rules.max_positions


@hsettings(max_examples=200, deadline=None)
@given(data=st.data(), book=portfolios(), config=configs, rules=policies)
def test_an_order_that_only_reduces_exposure_is_always_approved(
    data: st.DataObject, book: PortfolioView, config: RiskConfig, rules: GlobalPolicy
) -> None:
    held = data.draw(st.sampled_from(sorted(book.positions))) if book.positions else None
    if held is None:
        return
    position = book.positions[held]
    fraction = data.draw(st.floats(1e-6, 1.0))
    order = intent(
        held,
        "sell" if position.quantity > 0 else "buy",
        quantity=abs(position.quantity) * fraction,
        price=position.mark_price,
        reduce_only=data.draw(st.booleans()),
    )
    decision = RiskGuard(config).check(order, book, rules, stop_distance=1.0)
    assert decision.action is RiskAction.APPROVE
    assert decision.intent == order


@hsettings(max_examples=200, deadline=None)
@given(data=st.data(), book=portfolios(), config=configs, rules=policies)
def test_every_deny_names_its_rule(
    data: st.DataObject, book: PortfolioView, config: RiskConfig, rules: GlobalPolicy
) -> None:
    decision = RiskGuard(config).check(data.draw(intents(book)), book, rules)
    if decision.action is RiskAction.DENY:
        assert decision.check is not None
        assert decision.reason.startswith(f"{decision.check.value}: ")
