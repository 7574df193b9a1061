"""Portfolio Balancer: target weights per risk mode and the orders that reach them."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.errors import DataError
from components.policy import GlobalPolicy
from components.portfolio import BalancerConfig, PortfolioBalancer
from components.settings import RiskMode, load_settings
from components.trading.types import OrderIntent, PortfolioView, Side
from tests.unit.risk.builders import portfolio, position

NOW = datetime(2026, 3, 2, 14, 35, 12, tzinfo=UTC)
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT", "BNB/USDT"]
PRICES = dict.fromkeys(SYMBOLS, 100.0)
RANKINGS = {"BTC/USDT": 0.9, "ETH/USDT": 0.8, "SOL/USDT": 0.7, "XRP/USDT": 0.6, "ADA/USDT": 0.5}
BALANCER = PortfolioBalancer(BalancerConfig())  # 1.0 / 0.7 / 0.3, max 0.25, drift 0.02
CASH = portfolio(10_000.0)


def policy(mode: RiskMode = RiskMode.NORMAL, **changes: Any) -> GlobalPolicy:
    values: dict[str, Any] = {
        "risk_mode": mode,
        "opp_rankings": RANKINGS,
        "active_universe": list(RANKINGS),
    }
    return GlobalPolicy(**{**values, **changes})


# --- targets ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "gross"),
    [(RiskMode.AGGRESSIVE, 1.0), (RiskMode.NORMAL, 0.7), (RiskMode.DEFENSIVE, 0.3)],
)
def test_weights_sum_to_the_gross_target_of_the_risk_mode(mode: RiskMode, gross: float) -> None:
    weights = BALANCER.targets(policy(mode), CASH, PRICES)
    assert math.fsum(weights.values()) == pytest.approx(gross)
    assert max(weights.values()) <= 0.25 + 1e-12


def test_defensive_holds_less_than_normal_and_normal_less_than_aggressive() -> None:
    gross = {
        mode: math.fsum(BALANCER.targets(policy(mode), CASH, PRICES).values()) for mode in RiskMode
    }
    assert gross[RiskMode.DEFENSIVE] < gross[RiskMode.NORMAL] < gross[RiskMode.AGGRESSIVE]


def test_weights_follow_the_scores_when_no_cap_binds() -> None:
    weights = BALANCER.targets(policy(RiskMode.DEFENSIVE), CASH, PRICES)
    total = sum(RANKINGS.values())
    for symbol, score in RANKINGS.items():
        assert weights[symbol] == pytest.approx(0.3 * score / total)


def test_a_capped_symbol_hands_its_excess_to_the_others() -> None:
    rankings = {"BTC/USDT": 1.0, "ETH/USDT": 0.1, "SOL/USDT": 0.1, "XRP/USDT": 0.1}
    weights = BALANCER.targets(
        policy(RiskMode.NORMAL, opp_rankings=rankings, active_universe=list(rankings)),
        CASH,
        PRICES,
    )
    assert weights["BTC/USDT"] == 0.25
    assert weights["ETH/USDT"] == pytest.approx(0.15)  # (0.7 - 0.25) / 3
    assert math.fsum(weights.values()) == pytest.approx(0.7)


def test_when_the_caps_cannot_hold_the_target_every_symbol_gets_the_cap() -> None:
    two = {"BTC/USDT": 0.9, "ETH/USDT": 0.1}
    weights = BALANCER.targets(
        policy(RiskMode.AGGRESSIVE, opp_rankings=two, active_universe=list(two)), CASH, PRICES
    )
    assert weights == {"BTC/USDT": 0.25, "ETH/USDT": 0.25}


def test_only_ranked_priced_symbols_of_the_universe_get_a_weight() -> None:
    rules = policy(
        opp_rankings={**RANKINGS, "DOGE/USDT": 0.99, "ADA/USDT": 0.0, "LTC/USDT": 0.9},
        active_universe=[*RANKINGS, "BNB/USDT", "LTC/USDT"],  # BNB unranked, LTC unpriced
    )
    weights = BALANCER.targets(rules, CASH, {**PRICES, "DOGE/USDT": 0.1})
    assert set(weights) == {"BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"}


def test_a_held_symbol_without_a_quote_is_priced_at_its_mark() -> None:
    book = portfolio(9_000.0, LTC=(10.0, 100.0))
    rules = policy(opp_rankings={"LTC/USDT": 1.0}, active_universe=["LTC/USDT"])
    assert BALANCER.targets(rules, book, {}) == {"LTC/USDT": 0.25}


@given(
    scores=st.dictionaries(
        st.sampled_from(SYMBOLS), st.floats(0.001, 1.0), min_size=1
    ),  # scores lie in [0, 1]
    mode=st.sampled_from(RiskMode),
    cap=st.floats(0.05, 1.0),
)
def test_no_weight_exceeds_the_cap_and_the_total_is_the_target_when_it_fits(
    scores: dict[str, float], mode: RiskMode, cap: float
) -> None:
    balancer = PortfolioBalancer(BalancerConfig(max_weight=cap))
    rules = policy(mode, opp_rankings=scores, active_universe=list(scores))
    weights = balancer.targets(rules, CASH, PRICES)
    gross = BalancerConfig().gross_targets[mode]
    assert all(0 < w <= cap + 1e-12 for w in weights.values())
    assert math.fsum(weights.values()) == pytest.approx(min(gross, cap * len(scores)))


# --- rebalance orders -------------------------------------------------------------------
def test_orders_move_drifted_symbols_to_target_and_skip_the_rest() -> None:
    book = portfolio(
        5_500.0,  # equity 10,000
        BTC=(20.0, 100.0),  # 0.20 -> 0.25: buy 5
        ETH=(15.0, 100.0),  # 0.15 -> 0.16: within the drift tolerance
        SOL=(10.0, 100.0),  # 0.10 -> 0.00 (not in the targets): close
    )
    targets = {"BTC/USDT": 0.25, "ETH/USDT": 0.16, "XRP/USDT": 0.05}
    orders = BALANCER.rebalance_orders(targets, book, PRICES, now=NOW)
    summary = [(o.symbol, o.side, round(o.quantity, 9), o.reduce_only) for o in orders]
    assert summary == [
        ("SOL/USDT", Side.SELL, 10.0, True),  # reductions first
        ("BTC/USDT", Side.BUY, 5.0, False),
        ("XRP/USDT", Side.BUY, 5.0, False),
    ]
    assert orders[0].client_order_id == "rebal:SOL/USDT:20260302T1435"
    assert all(o.created_at == NOW and o.strategy == "balancer" for o in orders)


def test_a_short_position_keeps_its_side_when_it_is_resized() -> None:
    book = PortfolioView(
        cash=13_000.0, positions={"ETH/USDT": position("ETH/USDT", -30.0, 100.0)}
    )  # equity 10,000, short 0.30
    (order,) = BALANCER.rebalance_orders({"ETH/USDT": 0.10}, book, PRICES, now=NOW)
    assert (order.side, order.reduce_only) == (Side.BUY, True)
    assert order.quantity == pytest.approx(20.0)
    (grow,) = BALANCER.rebalance_orders({"ETH/USDT": 0.40}, book, PRICES, now=NOW)
    assert (grow.side, grow.reduce_only) == (Side.SELL, False)


def test_no_targets_means_no_opinion_and_no_orders() -> None:
    book = portfolio(9_000.0, BTC=(10.0, 100.0))
    assert BALANCER.rebalance_orders({}, book, PRICES, now=NOW) == []


def test_orders_below_the_minimum_notional_are_skipped() -> None:
    balancer = PortfolioBalancer(BalancerConfig(drift_tolerance=0.0, min_order_notional=50))
    assert balancer.rebalance_orders({"BTC/USDT": 0.004}, CASH, PRICES, now=NOW) == []


@pytest.mark.parametrize("price", [0.0, -1.0, math.nan, math.inf])
def test_a_bad_price_is_refused_naming_the_symbol(price: float) -> None:
    with pytest.raises(DataError, match="BTC/USDT"):
        BALANCER.rebalance_orders({"BTC/USDT": 0.1}, CASH, {"BTC/USDT": price}, now=NOW)
    with pytest.raises(DataError, match="BTC/USDT"):
        BALANCER.targets(policy(), CASH, {"BTC/USDT": price})


def test_a_symbol_that_needs_an_order_but_has_no_price_is_refused() -> None:
    with pytest.raises(DataError, match="no price for DOGE/USDT"):
        BALANCER.rebalance_orders({"DOGE/USDT": 0.1}, CASH, PRICES, now=NOW)


def fill(book: PortfolioView, orders: list[OrderIntent]) -> PortfolioView:
    """The portfolio after every order fills at its reference price, without fees."""
    cash = book.cash
    positions = dict(book.positions)
    for order in orders:
        held = positions.get(order.symbol)
        quantity = (held.quantity if held else 0.0) + order.signed_quantity
        cash -= order.signed_quantity * order.reference_price
        positions[order.symbol] = position(order.symbol, quantity, order.reference_price)
    return PortfolioView(cash=cash, positions=positions)


@given(
    holdings=st.dictionaries(st.sampled_from(SYMBOLS), st.floats(-40, 40), max_size=5),
    targets=st.dictionaries(st.sampled_from(SYMBOLS), st.floats(0, 0.25), min_size=1),
    tolerance=st.floats(0, 0.1),
)
def test_after_the_orders_fill_every_weight_is_within_the_drift_tolerance(
    holdings: dict[str, float], targets: dict[str, float], tolerance: float
) -> None:
    book = PortfolioView(
        cash=10_000.0 - sum(holdings.values()) * 100.0,
        positions={s: position(s, q, 100.0) for s, q in holdings.items() if q != 0},
    )
    balancer = PortfolioBalancer(BalancerConfig(drift_tolerance=tolerance, min_order_notional=0))
    orders = balancer.rebalance_orders(targets, book, PRICES, now=NOW)
    after = fill(book, orders)
    equity = after.equity
    for symbol in set(targets) | set(book.positions):
        held = after.positions.get(symbol)
        weight = abs(held.market_value) / equity if held else 0.0
        assert abs(weight - targets.get(symbol, 0.0)) <= tolerance + 1e-9
    for order in orders:  # only symbols that drifted beyond the tolerance get an order
        held = book.positions.get(order.symbol)
        weight = abs(held.market_value) / book.equity if held else 0.0
        assert abs(weight - targets.get(order.symbol, 0.0)) > tolerance


def test_the_config_reads_settings_and_refuses_targets_in_the_wrong_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().balancer == BalancerConfig()
    monkeypatch.setenv("QT_BALANCER_NORMAL_GROSS", "0.6")
    assert load_settings().balancer.gross_targets[RiskMode.NORMAL] == 0.6
    with pytest.raises(ValueError, match="DEFENSIVE <= NORMAL <= AGGRESSIVE"):
        BalancerConfig(aggressive_gross=0.5, normal_gross=0.7, defensive_gross=0.3)
