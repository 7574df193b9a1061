"""SyntheticMarket: seeded, deterministic, realistic, and honest about which bars are closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.errors import ConfigurationError, DataError
from components.market import (
    TIMEFRAMES,
    ManualClock,
    MarketData,
    Regime,
    SyntheticMarket,
    default_symbols,
    validate_bars,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
MAJORS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


def market_at(t: datetime, *, seed: int = 7, **kwargs: object) -> SyntheticMarket:
    return SyntheticMarket(seed=seed, clock=ManualClock(t), **kwargs)  # type: ignore[arg-type]


def test_a_synthetic_market_is_market_data() -> None:
    assert isinstance(SyntheticMarket(), MarketData)


def test_the_default_market_has_24_realistic_majors_and_stands_at_2026() -> None:
    market = SyntheticMarket()

    assert len(market.symbols()) == 24
    assert market.symbols()[:3] == MAJORS
    assert market.now() == START


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 3),
    timeframe=st.sampled_from([t for t, d in TIMEFRAMES.items() if d <= timedelta(days=1)]),
    first_end=st.integers(0, 2_000),
    second_end=st.integers(0, 2_000),
    limits=st.tuples(st.integers(1, 300), st.integers(1, 300)),
)
def test_same_seed_gives_identical_bars_whatever_the_request_order_or_window(
    seed: int,
    timeframe: str,
    first_end: int,
    second_end: int,
    limits: tuple[int, int],
) -> None:
    step = TIMEFRAMES[timeframe]
    ends = [START - first_end * step, START - second_end * step]
    one = market_at(START, seed=seed)
    other = market_at(START, seed=seed)

    a = [one.bars("ETH/USDT", timeframe, limit=n, end=e) for n, e in zip(limits, ends, strict=True)]
    b = [
        other.bars("ETH/USDT", timeframe, limit=n, end=e)
        for n, e in reversed(list(zip(limits, ends, strict=True)))
    ][::-1]
    wide = other.bars("ETH/USDT", timeframe, limit=2_400, end=START)

    for mine, theirs in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(mine, theirs)
        pd.testing.assert_frame_equal(mine, wide.loc[mine.index])


def test_different_seeds_give_different_bars() -> None:
    a = market_at(START, seed=1).bars("BTC/USDT", limit=100)
    b = market_at(START, seed=2).bars("BTC/USDT", limit=100)

    assert a.index.equals(b.index)
    assert not np.allclose(a["close"], b["close"])


def test_a_symbols_bars_do_not_depend_on_the_other_symbols_of_the_market() -> None:
    alone = market_at(START, symbols=["SOL/USDT"]).bars("SOL/USDT", limit=200)
    among_many = market_at(START, symbols=default_symbols(60)).bars("SOL/USDT", limit=200)

    pd.testing.assert_frame_equal(alone, among_many)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 1_000),
    timeframe=st.sampled_from([t for t, d in TIMEFRAMES.items() if d <= timedelta(days=1)]),
    hours_back=st.integers(0, 24 * 600),
    limit=st.integers(1, 400),
    symbol=st.sampled_from([*MAJORS, "PEPE/USDT", "NEWCOIN/USDT"]),
)
def test_bars_obey_ohlc_invariants_and_the_contract(
    seed: int, timeframe: str, hours_back: int, limit: int, symbol: str
) -> None:
    market = market_at(
        START,
        seed=seed % 4,
        symbols=[*MAJORS, "PEPE/USDT", "NEWCOIN/USDT"],
        history=timedelta(days=2_000),
    )
    end = START - timedelta(hours=hours_back, minutes=seed % 60)

    bars = market.bars(symbol, timeframe, limit=limit, end=end)

    assert validate_bars(bars, symbol=symbol, source="synthetic", timeframe=timeframe) is bars
    assert len(bars) == limit
    assert str(bars.index.dtype) == "datetime64[us, UTC]"
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["low"] > 0).all() and (bars["volume"] > 0).all()
    assert bars.index[-1] + TIMEFRAMES[timeframe] <= end
    assert bars.index[-1] + 2 * TIMEFRAMES[timeframe] > end  # the latest closed bar


def test_only_closed_bars_are_returned() -> None:
    market = market_at(datetime(2025, 6, 1, 10, 30, tzinfo=UTC))

    hourly = market.bars("BTC/USDT", "1h", limit=3)
    four_hourly = market.bars("BTC/USDT", "4h", limit=1)
    daily = market.bars("BTC/USDT", "1d", limit=1)

    assert hourly.index[-1] == pd.Timestamp("2025-06-01 09:00", tz="UTC")
    assert four_hourly.index[-1] == pd.Timestamp("2025-06-01 04:00", tz="UTC")
    assert daily.index[-1] == pd.Timestamp("2025-05-31 00:00", tz="UTC")


def test_a_bar_closing_exactly_now_is_closed() -> None:
    market = market_at(datetime(2025, 6, 1, 10, 0, tzinfo=UTC))

    assert market.bars("BTC/USDT", limit=1).index[-1] == pd.Timestamp("2025-06-01 09:00", tz="UTC")


def test_end_after_now_is_capped_at_now() -> None:
    market = market_at(START)

    later = market.bars("BTC/USDT", limit=5, end=START + timedelta(days=3))

    pd.testing.assert_frame_equal(later, market.bars("BTC/USDT", limit=5))


def test_advancing_the_clock_reveals_new_bars_without_changing_old_ones() -> None:
    clock = ManualClock(START)
    market = SyntheticMarket(clock=clock)
    before = market.bars("ETH/USDT", limit=48)

    clock.advance(timedelta(hours=5))
    after = market.bars("ETH/USDT", limit=53)

    assert after.index[-1] == before.index[-1] + timedelta(hours=5)
    pd.testing.assert_frame_equal(after.iloc[:48], before)


def test_history_limits_how_far_back_bars_go() -> None:
    market = market_at(START, history=timedelta(days=10))

    bars = market.bars("BTC/USDT", limit=1_000)

    assert bars.index[0] == pd.Timestamp("2025-12-22", tz="UTC")
    assert len(bars) == 240
    assert len(market.bars("BTC/USDT", limit=5, end=START - timedelta(days=30))) == 0


def test_finer_timeframes_add_up_exactly_to_coarser_ones() -> None:
    market = market_at(START)
    end = START - timedelta(days=3)
    hourly = market.bars("SOL/USDT", "1h", limit=48, end=end)

    for finer, per in (("1m", 60), ("5m", 12), ("15m", 4), ("30m", 2)):
        small = market.bars("SOL/USDT", finer, limit=48 * per, end=end)
        grouped = small.groupby(small.index.floor("1h"))
        rebuilt = pd.DataFrame(
            {
                "open": grouped["open"].first(),
                "high": grouped["high"].max(),
                "low": grouped["low"].min(),
                "close": grouped["close"].last(),
                "volume": grouped["volume"].sum(),
            }
        )
        rebuilt.index.name = "timestamp"
        pd.testing.assert_frame_equal(rebuilt.iloc[:, :4], hourly.iloc[:, :4], check_freq=False)
        np.testing.assert_allclose(rebuilt["volume"], hourly["volume"], rtol=1e-12)

    four = market.bars("SOL/USDT", "4h", limit=12, end=end)
    assert four["high"].iloc[0] == hourly["high"].iloc[:4].max()
    assert four["close"].iloc[-1] == hourly["close"].iloc[-1]
    daily = market.bars("SOL/USDT", "1d", limit=2, end=end)
    assert daily["open"].iloc[0] == hourly["open"].iloc[0]
    assert daily["volume"].iloc[-1] == pytest.approx(hourly["volume"].iloc[24:].sum())


def test_each_bar_opens_at_the_previous_close() -> None:
    bars = market_at(START).bars("BTC/USDT", "1h", limit=2_000)

    np.testing.assert_array_equal(bars["open"].to_numpy()[1:], bars["close"].to_numpy()[:-1])


@pytest.mark.parametrize("seed", range(6))
def test_every_regime_appears_within_a_week_of_hourly_bars(seed: int) -> None:
    market = market_at(START, seed=seed)
    hours = pd.date_range(START - timedelta(days=7), START, freq="1h", inclusive="left")

    seen = {market.regime_at("BTC/USDT", t.to_pydatetime()) for t in hours}

    assert seen == set(Regime)


def test_regimes_shape_the_returns_as_their_names_say() -> None:
    market = market_at(START)
    bars = market.bars("BTC/USDT", limit=8_000)
    returns = np.log(bars["close"] / bars["open"])
    regimes = pd.Series(
        [market.regime_at("BTC/USDT", t.to_pydatetime()) for t in bars.index], index=bars.index
    )
    mean = returns.groupby(regimes).mean()
    spread = returns.groupby(regimes).std()

    assert mean[Regime.STRONG_BULL] > mean[Regime.WEAK_BULL] > 0
    assert mean[Regime.STRONG_BEAR] < mean[Regime.WEAK_BEAR] < 0
    assert spread[Regime.VOLATILE] > 2 * spread[Regime.WIDE_SIDEWAYS]
    assert spread[Regime.WIDE_SIDEWAYS] > 2 * spread[Regime.TIGHT_SIDEWAYS]


def test_symbols_move_together_through_a_common_market_factor() -> None:
    market = market_at(START)
    bars = market.bars_many(market.symbols(), "1h", limit=2_000)
    returns = pd.DataFrame({s: np.log(b["close"]).diff() for s, b in bars.items()}).dropna()

    corr = returns.corr().to_numpy()
    pairs = corr[np.triu_indices_from(corr, k=1)]

    assert pairs.min() > 0.2
    assert 0.4 < pairs.mean() < 0.95


def test_price_levels_are_realistic() -> None:
    market = market_at(START)

    btc = market.bars("BTC/USDT", "1d", limit=700)["close"]
    doge = market.bars("DOGE/USDT", "1d", limit=700)["close"]

    assert 20_000 < btc.min() < btc.max() < 400_000
    assert 0.02 < doge.min() < doge.max() < 1.0


def test_quote_volumes_span_1e8_to_5e10_so_a_1e9_filter_keeps_some_and_drops_some() -> None:
    tickers = SyntheticMarket().tickers()
    volumes = np.array([t.quote_volume_24h for t in tickers.values()])

    assert 5e7 < volumes.min() < 3e8
    assert 1e10 < volumes.max() < 1e11
    assert 3 <= (volumes >= 1e9).sum() <= len(volumes) - 10


def test_spreads_lie_between_1_and_30_bps_and_widen_for_thin_markets() -> None:
    tickers = SyntheticMarket().tickers()
    spreads = {s: t.spread * 1e4 for s, t in tickers.items()}

    assert all(0.99 <= bps <= 30.01 for bps in spreads.values())
    assert spreads["BTC/USDT"] < spreads["FIL/USDT"]


def test_ticker_quotes_the_last_finished_minute_and_the_last_24_hours() -> None:
    at = datetime(2025, 9, 9, 13, 37, 20, tzinfo=UTC)
    market = market_at(at)

    ticker = market.ticker("ETH/USDT")
    minutes = market.bars("ETH/USDT", "1m", limit=1)
    hours = market.bars("ETH/USDT", "1h", limit=24)

    assert ticker.at == at
    assert ticker.last == minutes["close"].iloc[-1]
    assert ticker.bid < ticker.last < ticker.ask
    assert ticker.quote_volume_24h == pytest.approx((hours["volume"] * hours["close"]).sum())


def test_ticker_before_the_first_bar_is_a_data_error() -> None:
    market = market_at(START, history=timedelta(days=1))

    with pytest.raises(DataError, match="no bars before"):
        market.ticker("BTC/USDT", at=START - timedelta(days=5))


def test_bars_many_gives_the_same_bars_as_bars() -> None:
    market = market_at(START)

    many = market.bars_many(MAJORS, "4h", limit=50)

    for symbol in MAJORS:
        pd.testing.assert_frame_equal(many[symbol], market.bars(symbol, "4h", limit=50))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: m.bars("NOPE/USDT"), "unknown symbol 'NOPE/USDT'"),
        (lambda m: m.bars("BTC/USDT", "7h"), "unknown timeframe '7h'"),
        (lambda m: m.bars("BTC/USDT", "1M"), "no 1M bars"),
        (lambda m: m.bars("BTC/USDT", limit=0), "limit must be an integer >= 1"),
        (lambda m: m.bars("BTC/USDT", end=datetime(2025, 1, 1)), "no time zone"),
        (lambda m: m.regime_at("BTC/USDT", datetime(2019, 1, 1, tzinfo=UTC)), "on or after"),
    ],
)
def test_wrong_arguments_are_configuration_errors(call: object, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        call(SyntheticMarket())  # type: ignore[operator]


@pytest.mark.parametrize(
    "kwargs",
    [{"seed": -1}, {"symbols": []}, {"symbols": ["A/USDT", "A/USDT"]}, {"seed": 1.5}],
)
def test_bad_construction_arguments_are_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        SyntheticMarket(**kwargs)  # type: ignore[arg-type]


def test_500_symbols_of_1000_hourly_bars_come_at_once() -> None:
    # (the speed is a figure of benchmarks/bench_components.py)
    market = SyntheticMarket(seed=4242, symbols=default_symbols(500))

    bars = market.bars_many(market.symbols(), "1h", limit=1_000)

    assert len(bars) == 500 and all(len(b) == 1_000 for b in bars.values())


def test_months_of_minute_bars_come_without_making_the_rest() -> None:
    # (the speed is a figure of benchmarks/bench_components.py)
    market = market_at(START)

    minutes = market.bars("BTC/USDT", "1m", limit=60 * 24 * 60)  # 60 days

    assert len(minutes) == 86_400


def test_the_open_of_the_forming_bar_is_known_once_it_opens_and_is_that_bars_open() -> None:
    clock = ManualClock(datetime(2025, 6, 1, 10, 2, tzinfo=UTC))
    market = SyntheticMarket(clock=clock, symbols=MAJORS)
    forming = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)

    opens = market.bar_opens(MAJORS, "5m", forming)
    assert market.bar_opens(MAJORS, "5m", forming + timedelta(minutes=5)) == {}  # not yet
    assert market.bar_opens(MAJORS, "5m", forming + timedelta(minutes=1)) == {}  # no such bar

    reader = SyntheticMarket(clock=clock, symbols=MAJORS)
    reader.bars_block(MAJORS, "5m", limit=50)  # a window holding the bar before, kept
    assert reader.bar_opens(MAJORS[1:], "5m", forming) == {s: opens[s] for s in MAJORS[1:]}

    clock.advance(timedelta(minutes=3))  # the bar has closed
    closed = market.bars_many(MAJORS, "5m", limit=1)
    assert opens == {s: closed[s]["open"].iloc[-1] for s in MAJORS}
