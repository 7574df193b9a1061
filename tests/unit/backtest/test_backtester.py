"""The Backtester keeps the trading rules: next-open fills, the paper broker's costs, honest
books, and the same strategy code as the engine."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.backtest import (
    TRADE_COLUMNS,
    BacktestConfig,
    Backtester,
    BacktestResult,
)
from components.errors import ConfigurationError, DataError
from components.execution.costs import CostModel
from components.indicators import atr
from components.settings import load_settings
from components.sizing import PositionSizer, SizingConfig
from components.strategies import create_strategy
from tests.unit.backtest.builders import ReplaySignals, bars_from_prices, random_walk

FREE = CostModel(fee_bps=0, slippage_bps=0, spread_bps=0)
COSTLY = CostModel(fee_bps=10, slippage_bps=3, spread_bps=4)

directions = st.lists(st.sampled_from([-1, 0, 1]), min_size=5, max_size=120)
cost_models = st.builds(
    CostModel,
    fee_bps=st.floats(0, 50),
    slippage_bps=st.floats(0, 20),
    spread_bps=st.floats(0, 20),
)


def replay(direction: list[int] | np.ndarray, bars: pd.DataFrame, **options: Any) -> BacktestResult:
    """Backtest fixed signals on ``bars`` with ``Backtester(**options)``."""
    return Backtester(**options).run(ReplaySignals(direction), bars)


def one_long(n: int = 20, enter: int = 5, leave: int = 10) -> np.ndarray:
    """Long from bar ``enter`` (the signal bar) until bar ``leave`` says flat."""
    direction = np.zeros(n, dtype=np.int8)
    direction[enter:leave] = 1
    return direction


# --- fills: never before the next bar ------------------------------------------------------------


def test_a_signal_at_bar_t_fills_at_the_open_of_bar_t_plus_1() -> None:
    bars = random_walk(20)

    trades = replay(one_long(enter=5, leave=10), bars, cost_model=FREE).trades

    assert len(trades) == 1
    trade = trades.iloc[0]
    assert (trade["entry_bar"], trade["exit_bar"]) == (6, 11)
    assert trade["entry_price"] == bars["open"].iloc[6]
    assert trade["exit_price"] == bars["open"].iloc[11]
    assert trade["entry_time"] == bars.index[6]
    assert trade["exit_time"] == bars.index[11]


@settings(max_examples=60, deadline=None)
@given(direction=directions, data=st.data())
def test_changing_the_signal_at_bar_t_never_changes_the_equity_up_to_bar_t(
    direction: list[int], data: st.DataObject
) -> None:
    bars = random_walk(len(direction), seed=3)
    t = data.draw(st.integers(0, len(direction) - 1))
    changed = list(direction)
    changed[t] = data.draw(st.sampled_from([v for v in (-1, 0, 1) if v != direction[t]]))

    before = replay(direction, bars, cost_model=COSTLY).equity
    after = replay(changed, bars, cost_model=COSTLY).equity

    pd.testing.assert_series_equal(before.iloc[: t + 1], after.iloc[: t + 1])


@settings(max_examples=60, deadline=None)
@given(direction=directions)
def test_shifting_the_signal_by_one_bar_shifts_every_fill_by_one_bar(direction: list[int]) -> None:
    signals = [*direction, 0, 0]  # flat at the end: every trade exits on a signal
    bars = random_walk(len(signals) + 1, seed=5)
    shifted = [0, *signals]

    original = replay([*signals, 0], bars, cost_model=COSTLY).trades
    delayed = replay(shifted, bars, cost_model=COSTLY).trades

    assert list(delayed["entry_bar"]) == [b + 1 for b in original["entry_bar"]]
    assert list(delayed["exit_bar"]) == [b + 1 for b in original["exit_bar"]]
    opens = bars["open"].to_numpy()
    sides = original["direction"].to_numpy()
    expected = COSTLY.fill_price(sides, opens[original["entry_bar"].to_numpy() + 1])
    np.testing.assert_allclose(delayed["entry_price"], expected)


@settings(max_examples=60, deadline=None)
@given(direction=directions)
def test_every_entry_follows_a_change_of_signal_on_the_bar_before(direction: list[int]) -> None:
    bars = random_walk(len(direction), seed=7)
    signal = np.asarray(direction)

    trades = replay(direction, bars, cost_model=COSTLY).trades

    for entry, side in zip(trades["entry_bar"], trades["direction"], strict=True):
        assert entry >= 1
        assert signal[entry - 1] == side
        assert entry == 1 or signal[entry - 2] != side


def test_a_signal_on_the_last_bar_is_never_filled() -> None:
    direction = np.zeros(10, dtype=np.int8)
    direction[-1] = 1

    result = replay(direction, random_walk(10), cost_model=COSTLY)

    assert result.trades.empty
    assert (result.equity == 10_000).all()


# --- costs: the CostModel, the same as the paper broker's ----------------------------------------


def test_fills_pay_spread_and_slippage_and_fees_through_the_cost_model() -> None:
    bars = random_walk(20)
    opens = bars["open"].to_numpy()

    result = replay(one_long(enter=5, leave=10), bars, cost_model=COSTLY, cash=10_000)
    trade = result.trades.iloc[0]

    assert trade["entry_price"] == pytest.approx(COSTLY.fill_price(+1, opens[6]))
    assert trade["exit_price"] == pytest.approx(COSTLY.fill_price(-1, opens[11]))
    assert trade["entry_price"] > opens[6] and trade["exit_price"] < opens[11]
    fees = COSTLY.fee(trade["size"] * trade["entry_price"]) + COSTLY.fee(
        trade["size"] * trade["exit_price"]
    )
    assert trade["fees"] == pytest.approx(fees)
    gross = trade["size"] * (trade["exit_price"] - trade["entry_price"])
    assert trade["pnl"] == pytest.approx(gross - fees)
    assert result.metrics.final_equity == pytest.approx(10_000 + trade["pnl"])


def test_all_in_commits_the_whole_equity_fee_included() -> None:
    bars = random_walk(20)

    trade = replay(one_long(), bars, cost_model=COSTLY, cash=10_000).trades.iloc[0]

    spent = trade["size"] * trade["entry_price"] + COSTLY.fee(trade["size"] * trade["entry_price"])
    assert spent == pytest.approx(10_000)


def test_a_short_sells_below_the_open_and_buys_back_above_it() -> None:
    bars = random_walk(20)
    opens = bars["open"].to_numpy()

    trade = replay(-one_long(), bars, cost_model=COSTLY).trades.iloc[0]

    assert trade["direction"] == -1
    assert trade["entry_price"] == pytest.approx(COSTLY.fill_price(-1, opens[6]))
    assert trade["exit_price"] == pytest.approx(COSTLY.fill_price(+1, opens[11]))
    gross = -trade["size"] * (trade["exit_price"] - trade["entry_price"])
    assert trade["pnl"] == pytest.approx(gross - trade["fees"])


def test_an_observed_spread_column_is_used_when_the_cost_model_fixes_none() -> None:
    bars = random_walk(20).assign(spread_bps=50.0)
    observed = CostModel(fee_bps=0, slippage_bps=0)  # spread_bps=None: use the bars'
    opens = bars["open"].to_numpy()

    trade = replay(one_long(), bars, cost_model=observed).trades.iloc[0]

    assert trade["entry_price"] == pytest.approx(opens[6] * (1 + 25 / 10_000))


def test_a_reversal_closes_and_opens_at_the_same_open() -> None:
    direction = np.array([0, 0, 1, 1, 1, -1, -1, 0, 0, 0])
    bars = random_walk(10)

    trades = replay(direction, bars, cost_model=FREE).trades

    assert list(trades["direction"]) == [1, -1]
    assert trades["exit_bar"].iloc[0] == trades["entry_bar"].iloc[1] == 6
    assert trades["exit_price"].iloc[0] == trades["entry_price"].iloc[1] == bars["open"].iloc[6]


# --- the books -----------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(direction=directions, cost_model=cost_models, seed=st.integers(0, 50))
def test_equity_is_cash_plus_position_value_at_every_bar(
    direction: list[int], cost_model: CostModel, seed: int
) -> None:
    bars = random_walk(len(direction), seed=seed, volatility=0.05)

    result = replay(direction, bars, cost_model=cost_model)

    value = result.cash + result.position * bars["close"]
    np.testing.assert_allclose(result.equity, value, rtol=1e-12, atol=1e-9)
    assert result.equity.iloc[-1] == pytest.approx(result.metrics.final_equity)


@settings(max_examples=80, deadline=None)
@given(direction=directions, cost_model=cost_models, seed=st.integers(0, 50))
def test_drawdown_lies_in_0_1_and_the_pnl_adds_up(
    direction: list[int], cost_model: CostModel, seed: int
) -> None:
    bars = random_walk(len(direction), seed=seed, volatility=0.2)  # rallies that ruin shorts

    result = replay(direction, bars, cost_model=cost_model, cash=1_000)

    assert ((result.drawdown >= 0) & (result.drawdown <= 1)).all()
    assert (result.equity >= 0).all()
    assert 0 <= result.metrics.max_drawdown <= 1
    assert 1_000 + result.trades["pnl"].sum() == pytest.approx(result.equity.iloc[-1], abs=1e-6)


def test_a_trade_open_at_the_end_is_closed_at_the_last_close() -> None:
    direction = np.zeros(12, dtype=np.int8)
    direction[5:] = 1
    bars = random_walk(12)

    result = replay(direction, bars, cost_model=COSTLY)
    trade = result.trades.iloc[-1]

    assert trade["exit_reason"] == "end"
    assert trade["exit_bar"] == 11
    assert trade["exit_price"] == pytest.approx(COSTLY.fill_price(-1, bars["close"].iloc[-1]))
    assert result.position.iloc[-1] == 0
    assert result.equity.iloc[-1] == pytest.approx(10_000 + trade["pnl"])


def test_the_trades_frame_has_the_documented_columns() -> None:
    result = replay(one_long(), random_walk(20))

    assert tuple(result.trades.columns) == TRADE_COLUMNS
    assert list(result.trades["exit_reason"]) == ["signal"]
    trade = result.trades.iloc[0]
    assert trade["return"] == pytest.approx(trade["pnl"] / (trade["size"] * trade["entry_price"]))


def test_exposure_is_the_share_of_bars_with_a_position_open() -> None:
    result = replay(one_long(n=20, enter=5, leave=10), random_walk(20))

    assert result.metrics.exposure == pytest.approx(5 / 20)  # bars 6..10 are held
    assert result.metrics.n_trades == 1


def test_without_shorts_a_short_signal_means_flat() -> None:
    result = replay(-one_long(), random_walk(20), allow_short=False)

    assert result.trades.empty
    assert (result.equity == 10_000).all()


def test_a_short_through_a_rally_wipes_the_account_out_and_stops_trading() -> None:
    close = np.array([100, 100, 100, 150, 260, 300, 100, 100, 100, 100], dtype=float)
    bars = bars_from_prices(close, close)
    direction = np.array([0, -1, -1, -1, -1, -1, 0, 1, 1, 0])

    result = replay(direction, bars, cost_model=FREE)

    assert list(result.trades["exit_reason"]) == ["ruin"]
    assert result.trades["exit_bar"].iloc[0] == 4  # 10,000 - 100 * (260 - 100) < 0
    assert result.trades["pnl"].iloc[0] == pytest.approx(-10_000)
    assert (result.equity.iloc[4:] == 0).all()
    assert result.metrics.max_drawdown == 1.0


def test_an_exit_fill_that_loses_more_than_the_equity_leaves_zero_not_debt() -> None:
    close = np.array([100, 100, 100, 100, 300, 300, 300, 300], dtype=float)
    bars = bars_from_prices(close, close)  # bar 4 gaps up to 300 at its open
    direction = np.array([0, -1, -1, 0, 0, 1, 1, 0])

    result = replay(direction, bars, cost_model=FREE)

    assert list(result.trades["exit_reason"]) == ["signal"]  # it left on its signal...
    assert result.trades["pnl"].iloc[0] == pytest.approx(-10_000)  # ...losing everything
    assert (result.equity.iloc[4:] == 0).all()
    assert result.metrics.exposure == pytest.approx(2 / 8)


# --- sizing by the Trading Mathematician ---------------------------------------------------------


def test_risk_sizing_sizes_each_entry_as_the_position_sizer_would() -> None:
    bars = random_walk(400, seed=11)
    strategy = create_strategy("sma_crossover", {"long_only": False})
    sizer = SizingConfig(atr_stop_multiple=2.0, max_notional_fraction=2.0)

    result = Backtester(sizing="risk", sizer=sizer, max_risk_per_trade=0.02).run(strategy, bars)

    signals = strategy.signals(bars)
    atr14 = atr(bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy(), 14)
    equity_before = 10_000 + np.concatenate(([0.0], result.trades["pnl"].cumsum().to_numpy()[:-1]))
    assert len(result.trades) > 5
    for trade, equity in zip(result.trades.itertuples(), equity_before, strict=True):
        t = trade.entry_bar - 1
        decision = PositionSizer(sizer).size(
            equity=equity,
            price=bars["close"].iloc[t],
            atr=atr14[t],
            confidence=signals["confidence"].iloc[t],
            max_risk_per_trade=0.02,
            direction=trade.direction,
        )
        assert trade.size == pytest.approx(decision.quantity, rel=1e-9)


def test_risk_sizing_skips_an_entry_the_sizer_sizes_at_zero() -> None:
    direction = one_long(n=30, enter=3, leave=20)  # the 14-bar ATR is not ready at bar 3

    result = replay(direction, random_walk(30), sizing="risk")

    assert result.trades.empty


# --- one strategy code path ----------------------------------------------------------------------


def test_the_strategy_computes_its_signals_once_over_the_whole_history() -> None:
    strategy = ReplaySignals(one_long(n=50))

    Backtester().run(strategy, random_walk(50))

    assert strategy.calls == [50]


def test_sma_crossover_trades_exactly_on_its_own_signal_changes() -> None:
    bars = random_walk(600, seed=2)
    strategy = create_strategy("sma_crossover", {"long_only": False})

    trades = Backtester().run(strategy, bars).trades

    direction = strategy.signals(bars)["direction"].to_numpy()
    changes = np.flatnonzero(np.diff(direction)) + 1  # first bar of each new side
    entries = [c + 1 for c in changes if direction[c] != 0 and c + 1 < len(bars)]
    assert list(trades["entry_bar"]) == entries


# --- many symbols --------------------------------------------------------------------------------


def test_run_many_splits_the_cash_equally_and_sums_the_equity() -> None:
    bars = {"A/USDT": random_walk(300, seed=1), "B/USDT": random_walk(300, seed=2)}
    strategy = create_strategy("sma_crossover", {"long_only": False})
    backtester = Backtester(cash=10_000)

    portfolio = backtester.run_many(strategy, bars)

    alone = {s: Backtester(cash=5_000).run(strategy, b, symbol=s) for s, b in bars.items()}
    for symbol, result in alone.items():
        pd.testing.assert_series_equal(portfolio.results[symbol].equity, result.equity)
    total = alone["A/USDT"].equity + alone["B/USDT"].equity
    np.testing.assert_allclose(portfolio.equity, total)
    assert portfolio.metrics.initial_equity == 10_000
    assert portfolio.metrics.n_trades == sum(len(r.trades) for r in alone.values())
    assert list(portfolio.trades.columns) == ["symbol", *TRADE_COLUMNS]
    assert portfolio.trades["entry_time"].is_monotonic_increasing


def test_run_many_aligns_symbols_with_different_histories() -> None:
    long = random_walk(300, seed=1)
    short = random_walk(300, seed=2).iloc[100:]
    strategy = create_strategy("momentum")

    portfolio = Backtester(cash=10_000).run_many(strategy, {"A": long, "B": short})

    assert portfolio.equity.index.equals(long.index)
    b = portfolio.results["B"].equity
    expected = portfolio.results["A"].equity + b.reindex(long.index).ffill().fillna(5_000)
    np.testing.assert_allclose(portfolio.equity, expected)
    pd.testing.assert_series_equal(b, Backtester(cash=5_000).run(strategy, short).equity)


# --- configuration and bad input -----------------------------------------------------------------


def test_options_override_the_config_and_bad_ones_say_which() -> None:
    config = BacktestConfig(cash=5_000, allow_short=False)

    backtester = Backtester(config, sizing="risk")

    assert backtester.config.cash == 5_000
    assert backtester.config.sizing == "risk"
    assert backtester.config.allow_short is False
    with pytest.raises(ConfigurationError, match="cash"):
        Backtester(cash=-1)


def test_the_config_from_settings_trades_like_the_paper_broker() -> None:
    settings = load_settings(paper_fee_bps=5, paper_initial_cash=2_500, max_risk_per_trade=0.02)

    config = BacktestConfig.from_settings(settings, sizing="risk")

    assert config.cost_model == settings.paper.costs
    assert config.cost_model.fee_bps == 5
    assert (config.cash, config.max_risk_per_trade, config.sizing) == (2_500, 0.02, "risk")


def test_config_and_results_are_frozen() -> None:
    result = replay(one_long(), random_walk(20))

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.metrics = result.metrics  # type: ignore[misc]
    with pytest.raises(ValueError):
        result.config.cash = 1.0  # type: ignore[misc]


def test_bad_bars_are_rejected_naming_the_symbol_and_row() -> None:
    bars = random_walk(30)
    bars.iloc[12, bars.columns.get_loc("close")] = np.nan

    with pytest.raises(DataError, match=r"BTC/USDT.*row 12"):
        Backtester().run(create_strategy("momentum"), bars, symbol="BTC/USDT")


def test_unsorted_bars_are_rejected() -> None:
    bars = random_walk(30).iloc[::-1]

    with pytest.raises(DataError):
        Backtester().run(create_strategy("momentum"), bars)


def test_bars_with_no_known_spacing_ask_for_a_timeframe() -> None:
    bars = random_walk(30, freq="7min")

    with pytest.raises(DataError, match="timeframe"):
        Backtester().run(create_strategy("momentum"), bars)


def test_a_single_bar_is_a_backtest_without_trades() -> None:
    result = Backtester().run(create_strategy("momentum"), random_walk(1))

    assert result.trades.empty
    assert result.metrics.final_equity == 10_000
    assert result.metrics.periods_per_year == 8760


def test_empty_bars_are_rejected() -> None:
    with pytest.raises(DataError, match="no bars"):
        Backtester().run(create_strategy("momentum"), random_walk(5).iloc[:0])
