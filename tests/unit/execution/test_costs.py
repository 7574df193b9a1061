from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from components.execution import (
    CostModel,
    fee,
    fill_price,
    limit_fill_price,
    spread_bps_of,
    stop_exit_price,
    take_profit_exit_price,
)
from components.market.base import Ticker
from components.settings import Settings
from tests.unit.execution.builders import T0

prices = st.floats(min_value=1e-4, max_value=1e7, allow_nan=False, allow_infinity=False)
bps = st.floats(min_value=0, max_value=500, allow_nan=False)


def test_a_buy_pays_half_the_spread_plus_slippage_above_the_reference() -> None:
    assert fill_price(+1, 100.0, spread_bps=2, slippage_bps=2) == pytest.approx(100.03)


def test_a_sell_receives_half_the_spread_plus_slippage_below_the_reference() -> None:
    assert fill_price(-1, 100.0, spread_bps=2, slippage_bps=2) == pytest.approx(99.97)


def test_fees_are_basis_points_of_the_absolute_notional() -> None:
    assert fee(1_000.0, fee_bps=10) == pytest.approx(1.0)
    assert fee(-1_000.0, fee_bps=10) == pytest.approx(1.0)
    assert fee(1_000.0, fee_bps=0) == 0.0


def test_scalars_in_give_python_floats_out() -> None:
    assert type(fill_price(1, 100.0, spread_bps=1, slippage_bps=1)) is float
    assert type(fee(100.0, fee_bps=1)) is float


@given(
    st.lists(st.tuples(st.sampled_from([-1, 1]), prices), min_size=1, max_size=20),
    bps,
    bps,
    bps,
)
def test_arrays_give_the_same_prices_and_fees_as_scalars(
    orders: list[tuple[int, float]], spread: float, slippage: float, fee_bps: float
) -> None:
    signs = np.array([s for s, _ in orders], dtype=float)
    refs = np.array([p for _, p in orders])
    vector = fill_price(signs, refs, spread_bps=spread, slippage_bps=slippage)
    fees = fee(vector * 2.0, fee_bps=fee_bps)
    for i, (sign, ref) in enumerate(orders):
        one = fill_price(sign, ref, spread_bps=spread, slippage_bps=slippage)
        assert vector[i] == one
        assert fees[i] == fee(one * 2.0, fee_bps=fee_bps)


@given(prices, bps, bps)
def test_a_round_trip_never_earns_from_the_costs(
    ref: float, spread: float, slippage: float
) -> None:
    buy = fill_price(+1, ref, spread_bps=spread, slippage_bps=slippage)
    sell = fill_price(-1, ref, spread_bps=spread, slippage_bps=slippage)
    assert sell <= ref <= buy


def test_a_limit_buy_fills_at_the_limit_or_the_better_open_when_the_low_reaches_it() -> None:
    assert limit_fill_price(+1, 99.0, open_=100.0, high=101.0, low=98.0) == 99.0
    assert limit_fill_price(+1, 99.0, open_=97.0, high=98.0, low=96.0) == 97.0  # gapped down
    assert math.isnan(limit_fill_price(+1, 99.0, open_=100.0, high=101.0, low=99.5))


def test_a_limit_sell_fills_at_the_limit_or_the_better_open_when_the_high_reaches_it() -> None:
    assert limit_fill_price(-1, 101.0, open_=100.0, high=102.0, low=99.0) == 101.0
    assert limit_fill_price(-1, 101.0, open_=103.0, high=104.0, low=102.0) == 103.0
    assert math.isnan(limit_fill_price(-1, 101.0, open_=100.0, high=100.5, low=99.0))


def test_limit_fills_work_on_whole_columns() -> None:
    filled = limit_fill_price(
        np.array([1, 1, -1]),
        np.array([99.0, 99.0, 101.0]),
        open_=np.array([100.0, 100.0, 100.0]),
        high=np.array([101.0, 101.0, 102.0]),
        low=np.array([98.0, 99.5, 99.0]),
    )
    np.testing.assert_array_equal(filled, [99.0, np.nan, 101.0])


def test_a_stop_is_hit_at_its_price_or_at_the_open_after_a_gap() -> None:
    assert stop_exit_price(+1, 95.0, open_=100.0, high=101.0, low=94.0) == 95.0
    assert stop_exit_price(+1, 95.0, open_=93.0, high=94.0, low=92.0) == 93.0
    assert math.isnan(stop_exit_price(+1, 95.0, open_=100.0, high=101.0, low=95.5))
    assert stop_exit_price(-1, 105.0, open_=100.0, high=106.0, low=99.0) == 105.0
    assert stop_exit_price(-1, 105.0, open_=107.0, high=108.0, low=106.0) == 107.0


def test_a_take_profit_fills_at_its_target_or_the_better_open() -> None:
    assert take_profit_exit_price(+1, 110.0, open_=100.0, high=111.0, low=99.0) == 110.0
    assert take_profit_exit_price(+1, 110.0, open_=112.0, high=113.0, low=111.0) == 112.0
    assert math.isnan(take_profit_exit_price(+1, 110.0, open_=100.0, high=109.0, low=99.0))
    assert take_profit_exit_price(-1, 90.0, open_=100.0, high=101.0, low=89.0) == 90.0


def test_the_spread_is_the_fixed_one_else_the_observed_one_else_the_default() -> None:
    assert CostModel(spread_bps=3.0).spread_for(8.0) == 3.0
    assert CostModel(default_spread_bps=4.0).spread_for(8.0) == 8.0
    assert CostModel(default_spread_bps=4.0).spread_for(None) == 4.0
    assert CostModel(default_spread_bps=4.0).spread_for(float("nan")) == 4.0


def test_a_tickers_spread_is_read_in_basis_points() -> None:
    ticker = Ticker("BTC/USDT", T0, last=100.0, bid=99.99, ask=100.01, quote_volume_24h=1e9)
    assert spread_bps_of(ticker) == pytest.approx(2.0)


def test_the_cost_model_methods_use_its_own_rates() -> None:
    model = CostModel(fee_bps=10, slippage_bps=2, spread_bps=2)
    assert model.fill_price(+1, 100.0) == pytest.approx(100.03)
    assert model.fee(1_000.0) == pytest.approx(1.0)


def test_the_cost_model_is_frozen_and_bounded() -> None:
    model = CostModel()
    with pytest.raises(ValidationError):
        model.fee_bps = 1.0  # type: ignore[misc]
    with pytest.raises(ValidationError, match="fee_bps"):
        CostModel(fee_bps=-1)
    with pytest.raises(ValidationError, match="extra"):
        CostModel(commission=0.001)  # type: ignore[call-arg]


def test_from_settings_uses_the_documented_defaults_when_no_setting_exists() -> None:
    assert Settings().paper.costs == CostModel()
