from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from components.errors import DataError
from components.execution import (
    Position,
    PositionAction,
    PositionClass,
    PositionConfig,
    assess_position,
    assess_positions,
    may_scale_in,
)
from tests.unit.execution.builders import SYMBOL, T0

NOW = T0 + timedelta(hours=4)


def position(quantity: float = 2.0, average_price: float = 100.0, **kwargs: Any) -> Position:
    values: dict[str, Any] = {"id": "p1", "symbol": SYMBOL, "opened_at": T0, "updated_at": T0}
    values.update(kwargs)
    return Position(quantity=quantity, average_price=average_price, **values)


def test_a_long_up_more_than_one_atr_is_a_winner_whose_stop_trails() -> None:
    assessment = assess_position(position(stop_loss=96.0), mark=104.0, atr=2.0, now=NOW)
    assert assessment.classification is PositionClass.WINNER
    assert assessment.action is PositionAction.TRAIL_STOP
    assert assessment.new_stop == pytest.approx(100.0)  # two ATRs below the mark
    assert assessment.pnl_atr == pytest.approx(2.0)


def test_a_winner_whose_stop_is_already_tighter_holds() -> None:
    assessment = assess_position(position(stop_loss=101.0), mark=104.0, atr=2.0, now=NOW)
    assert (assessment.classification, assessment.action) == (
        PositionClass.WINNER,
        PositionAction.HOLD,
    )
    assert assessment.new_stop is None


def test_a_short_winner_trails_its_stop_down() -> None:
    assessment = assess_position(position(-1.0, stop_loss=104.0), mark=96.0, atr=2.0, now=NOW)
    assert assessment.classification is PositionClass.WINNER
    assert assessment.new_stop == pytest.approx(100.0)


def test_a_loser_is_reduced_and_a_deep_loser_closed() -> None:
    loser = assess_position(position(), mark=97.5, atr=2.0, now=NOW)
    assert (loser.classification, loser.action) == (PositionClass.LOSER, PositionAction.REDUCE)
    assert loser.reduce_quantity == pytest.approx(1.0)
    deep = assess_position(position(), mark=96.0, atr=2.0, now=NOW)
    assert (deep.classification, deep.action) == (PositionClass.LOSER, PositionAction.CLOSE)
    assert deep.reduce_quantity == pytest.approx(2.0)


def test_a_position_near_a_losing_stop_is_at_risk() -> None:
    assessment = assess_position(position(stop_loss=98.0), mark=98.5, atr=2.0, now=NOW)
    assert assessment.classification is PositionClass.AT_RISK
    assert assessment.action is PositionAction.REDUCE


def test_a_stop_that_locks_in_profit_does_not_make_a_position_at_risk() -> None:
    assessment = assess_position(position(stop_loss=103.0), mark=103.5, atr=2.0, now=NOW)
    assert assessment.classification is PositionClass.WINNER


def test_an_old_position_that_barely_moved_is_stale_and_closed() -> None:
    old = NOW + timedelta(days=2)
    assessment = assess_position(position(), mark=100.4, atr=2.0, now=old)
    assert (assessment.classification, assessment.action) == (
        PositionClass.STALE,
        PositionAction.CLOSE,
    )
    young = assess_position(position(), mark=100.4, atr=2.0, now=NOW)
    assert (young.classification, young.action) == (PositionClass.NEUTRAL, PositionAction.HOLD)


def test_only_winners_may_be_scaled_into() -> None:
    assert may_scale_in(position(), mark=104.0, atr=2.0, now=NOW)
    assert not may_scale_in(position(), mark=101.0, atr=2.0, now=NOW)
    assert not may_scale_in(position(), mark=96.0, atr=2.0, now=NOW)
    assert not may_scale_in(position(stop_loss=98.0), mark=98.5, atr=2.0, now=NOW)


def test_positions_without_a_mark_or_an_atr_are_left_out() -> None:
    held = {SYMBOL: position(), "ETH/USDT": position(symbol="ETH/USDT")}
    assessed = assess_positions(held, marks={SYMBOL: 101.0}, atrs={SYMBOL: 2.0}, now=NOW)
    assert list(assessed) == [SYMBOL]


@pytest.mark.parametrize(("mark", "atr"), [(0.0, 1.0), (100.0, 0.0), (100.0, float("nan"))])
def test_a_bad_mark_or_atr_raises_naming_the_position(mark: float, atr: float) -> None:
    with pytest.raises(DataError, match="position p1 in BTC/USDT"):
        assess_position(position(), mark=mark, atr=atr, now=NOW)


def test_the_config_refuses_thresholds_that_overlap() -> None:
    with pytest.raises(ValidationError, match="close_loser_atr"):
        PositionConfig(loser_atr=2.0, close_loser_atr=1.0)
    with pytest.raises(ValidationError, match="stale_band_atr"):
        PositionConfig(stale_band_atr=2.0)
    with pytest.raises(ValidationError, match="reduce_fraction"):
        PositionConfig(reduce_fraction=1.5)


@given(
    quantity=st.floats(0.01, 100) | st.floats(-100, -0.01),
    mark=st.floats(50, 150),
    atr=st.floats(0.1, 10),
    stop_offset=st.none() | st.floats(-40, 40),
    age_hours=st.floats(0, 500),
)
def test_assessments_keep_their_promises(
    quantity: float, mark: float, atr: float, stop_offset: float | None, age_hours: float
) -> None:
    stop = None if stop_offset is None else 100.0 + stop_offset
    held = position(quantity, stop_loss=stop if stop is None or stop > 0 else None)
    result = assess_position(held, mark=mark, atr=atr, now=T0 + timedelta(hours=age_hours))
    assert result.may_scale_in == (result.classification is PositionClass.WINNER)
    if result.action is PositionAction.TRAIL_STOP:
        assert result.new_stop is not None
        assert (mark - result.new_stop) * held.sign > 0  # on the right side of the mark
        if held.stop_loss is not None:
            assert (result.new_stop - held.stop_loss) * held.sign > 0  # never loosens
    if result.reduce_quantity is not None:
        assert 0 < result.reduce_quantity <= abs(quantity)
