"""PositionSizer: volatility-targeted sizes that never risk more than the policy allows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from components.errors import ConfigurationError
from components.sizing import PositionSizer, SizeOutcome, SizingConfig

SIZER = PositionSizer()
BASE: dict[str, Any] = {
    "equity": 10_000.0,
    "price": 100.0,
    "atr": 2.0,
    "confidence": 1.0,
    "max_risk_per_trade": 0.01,
}

equities = st.floats(1e-2, 1e9)
prices = st.floats(1e-6, 1e7)
atrs = st.floats(1e-9, 1e6)
confidences = st.floats(0, 1)
risks = st.floats(1e-6, 1)
win_rates = st.floats(0, 1)
ratios = st.floats(1e-3, 100)
configs = st.builds(
    SizingConfig,
    kelly_fraction=st.floats(0.01, 1),
    kelly_cap=st.floats(0.01, 1),
    atr_stop_multiple=st.floats(0.1, 20),
    max_notional_fraction=st.floats(0.1, 10),
    scale_by_confidence=st.booleans(),
)


# --- the rule ------------------------------------------------------------------------------------


def test_quantity_is_the_risk_budget_over_the_atr_stop_distance() -> None:
    decision = SIZER.size(**BASE)

    # budget 1% of 10,000 = 100; stop 2 x ATR 2 = 4 -> 25 units, notional 2,500
    assert decision.outcome is SizeOutcome.SIZED
    assert decision.stop_distance == 4.0
    assert decision.quantity == pytest.approx(25.0)
    assert decision.notional == pytest.approx(2_500.0)
    assert decision.stop_price == 96.0
    assert decision.risk_amount == pytest.approx(100.0)
    assert decision.risk_fraction == pytest.approx(0.01)
    assert "1.000% of equity" in decision.reason


def test_a_short_has_its_stop_above_the_price() -> None:
    assert SIZER.size(**BASE, direction=-1).stop_price == 104.0


def test_confidence_scales_the_risk_budget() -> None:
    assert SIZER.size(**{**BASE, "confidence": 0.5}).quantity == pytest.approx(12.5)
    unscaled = PositionSizer(SizingConfig(scale_by_confidence=False))
    assert unscaled.size(**{**BASE, "confidence": 0.5}).quantity == pytest.approx(25.0)


def test_kelly_scales_the_risk_budget_as_a_share_of_its_cap() -> None:
    # half Kelly of f* = 0.55 - 0.45 / 1.5 = 0.25 is 0.125: half the 0.25 cap
    decision = SIZER.size(**BASE, win_rate=0.55, win_loss_ratio=1.5)

    assert decision.kelly == pytest.approx(0.125)
    assert decision.quantity == pytest.approx(12.5)
    assert SIZER.size(**BASE, win_rate=0.9, win_loss_ratio=3).quantity == pytest.approx(25.0)


def test_higher_volatility_gives_a_smaller_position() -> None:
    calm = SIZER.size(**BASE)
    wild = SIZER.size(**{**BASE, "atr": 8.0})

    assert wild.quantity == pytest.approx(calm.quantity / 4)
    assert wild.risk_amount == pytest.approx(calm.risk_amount)


def test_the_notional_is_capped_at_its_share_of_equity() -> None:
    decision = SIZER.size(**{**BASE, "atr": 0.01})

    assert decision.outcome is SizeOutcome.CAPPED
    assert decision.notional == pytest.approx(10_000.0)
    assert decision.risk_amount < 0.01 * 10_000
    assert "capped" in decision.reason


def test_a_position_below_the_minimum_notional_is_not_taken() -> None:
    sizer = PositionSizer(SizingConfig(min_notional_fraction=0.5))

    decision = sizer.size(**BASE)

    assert decision.outcome is SizeOutcome.BELOW_MIN_NOTIONAL
    assert decision.quantity == 0.0
    assert "min_notional_fraction=0.5" in decision.reason


# --- zero when there is nothing to size -----------------------------------------------------------


def test_no_edge_gives_zero_with_the_reason() -> None:
    decision = SIZER.size(**BASE, win_rate=0.4, win_loss_ratio=1.0)

    assert decision.is_zero
    assert decision.outcome is SizeOutcome.NO_EDGE
    assert decision.stop_price is None
    assert "no edge" in decision.reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("equity", 0.0),
        ("equity", -5.0),
        ("price", 0.0),
        ("price", math.nan),
        ("atr", 0.0),
        ("atr", -1.0),
        ("atr", math.nan),
        ("atr", math.inf),
        ("confidence", math.nan),
        ("confidence", 1.5),
        ("max_risk_per_trade", 0.0),
        ("max_risk_per_trade", 2.0),
    ],
)
def test_a_degenerate_input_gives_zero_naming_it(field: str, value: float) -> None:
    decision = SIZER.size(**{**BASE, field: value})

    assert decision.quantity == 0.0
    assert decision.notional == 0.0
    assert decision.risk_amount == 0.0
    assert decision.outcome is SizeOutcome.BAD_INPUT
    assert decision.reason.startswith(f"{field}={value!r}")


def test_degenerate_stats_give_zero_naming_them() -> None:
    decision = SIZER.size(**BASE, win_rate=math.nan, win_loss_ratio=1.5)

    assert decision.is_zero
    assert decision.reason.startswith("win_rate=nan")


def test_zero_confidence_or_direction_gives_zero() -> None:
    assert SIZER.size(**{**BASE, "confidence": 0.0}).outcome is SizeOutcome.NO_CONFIDENCE
    assert SIZER.size(**BASE, direction=0).outcome is SizeOutcome.FLAT


def test_a_long_whose_stop_would_reach_zero_is_not_taken() -> None:
    decision = SIZER.size(**{**BASE, "atr": 60.0})

    assert decision.outcome is SizeOutcome.STOP_BEYOND_PRICE
    assert decision.is_zero


def test_only_one_of_win_rate_and_win_loss_ratio_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="both win_rate and win_loss_ratio"):
        SIZER.size(**BASE, win_rate=0.6)


def test_the_config_is_frozen_bounded_and_consistent() -> None:
    config = SizingConfig()
    with pytest.raises(ValidationError):
        config.kelly_cap = 0.5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="atr_stop_multiple"):
        SizingConfig(atr_stop_multiple=0)
    with pytest.raises(ValidationError, match="min_notional_fraction"):
        SizingConfig(min_notional_fraction=0.5, max_notional_fraction=0.2)
    with pytest.raises(ValidationError, match="extra"):
        SizingConfig(leverage=3)  # type: ignore[call-arg]


# --- properties --------------------------------------------------------------------------------


@given(
    config=configs,
    equity=equities,
    price=prices,
    atr=atrs,
    confidence=confidences,
    risk=risks,
    direction=st.sampled_from([-1, 1]),
)
def test_the_risked_amount_never_exceeds_max_risk_per_trade_of_equity(
    config: SizingConfig,
    equity: float,
    price: float,
    atr: float,
    confidence: float,
    risk: float,
    direction: int,
) -> None:
    decision = PositionSizer(config).size(
        equity=equity,
        price=price,
        atr=atr,
        confidence=confidence,
        max_risk_per_trade=risk,
        direction=direction,
    )

    assert decision.quantity >= 0
    assert decision.quantity * decision.stop_distance <= equity * risk
    assert decision.notional <= config.max_notional_fraction * equity * (1 + 1e-12)


@given(
    config=configs,
    equity=equities,
    price=prices,
    atr=atrs,
    confidence=confidences,
    risk=risks,
    win_rate=win_rates,
    ratio=ratios,
)
def test_with_a_track_record_the_risk_stays_capped_and_no_edge_means_zero(
    config: SizingConfig,
    equity: float,
    price: float,
    atr: float,
    confidence: float,
    risk: float,
    win_rate: float,
    ratio: float,
) -> None:
    decision = PositionSizer(config).size(
        equity=equity,
        price=price,
        atr=atr,
        confidence=confidence,
        max_risk_per_trade=risk,
        win_rate=win_rate,
        win_loss_ratio=ratio,
    )

    assert decision.quantity * decision.stop_distance <= equity * risk
    if win_rate * ratio - (1 - win_rate) <= 0:
        assert decision.quantity == 0.0


@given(
    equity=equities,
    price=prices,
    atr=st.one_of(atrs, st.sampled_from([0.0, -1.0, math.nan, math.inf])),
    confidence=confidences,
    risk=risks,
    bad=st.sampled_from(["equity", "price", "atr"]),
    value=st.sampled_from([0.0, -1.0, math.nan, -math.inf]),
)
def test_a_degenerate_equity_price_or_atr_always_gives_zero(
    equity: float, price: float, atr: float, confidence: float, risk: float, bad: str, value: float
) -> None:
    inputs: dict[str, Any] = {
        "equity": equity,
        "price": price,
        "atr": atr,
        "confidence": confidence,
        "max_risk_per_trade": risk,
        bad: value,
    }

    assert SIZER.size(**inputs).quantity == 0.0


def test_size_arrays_match_size_one_by_one() -> None:
    rng = np.random.default_rng(0)
    n = 200
    inputs: dict[str, Any] = {
        "equity": rng.uniform(100, 1e6, n),
        "price": rng.uniform(1, 1e4, n),
        "atr": rng.uniform(-1, 50, n),
        "confidence": rng.uniform(0, 1, n),
        "max_risk_per_trade": 0.02,
        "win_rate": rng.uniform(0.3, 0.7, n),
        "win_loss_ratio": rng.uniform(0.5, 3, n),
        "direction": rng.choice([-1, 0, 1], n),
    }

    sizes = SIZER.size_arrays(**inputs)

    for i in range(n):
        row: dict[str, Any] = {k: v if np.isscalar(v) else v[i].item() for k, v in inputs.items()}
        one = SIZER.size(**row)
        assert sizes.quantity[i] == one.quantity
        assert sizes.notional[i] == one.notional
        assert sizes.outcome_at(i) is one.outcome
