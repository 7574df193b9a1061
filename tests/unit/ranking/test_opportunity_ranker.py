"""Opportunity Ranker: sub-scores, filters, ordering and invariants."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from random import Random

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from components.market.base import Ticker
from components.market.block import BarBlock, BlockRead
from components.ranking import OpportunityRanker, RankerConfig, Ranking
from components.settings import load_settings

AT = datetime(2024, 6, 1, tzinfo=UTC)
BARS = 150

# --- builders --------------------------------------------------------------------------------


def bars_from_close(close: np.ndarray, *, wick: float = 0.004) -> pd.DataFrame:
    """Hourly OHLCV whose candles open at the previous close, with wicks of ``wick``."""
    open_ = np.concatenate([close[:1], close[:-1]])
    index = pd.date_range(end=AT, periods=len(close), freq="h", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick),
            "low": np.minimum(open_, close) * (1 - wick),
            "close": close,
            "volume": 1_000.0,
        },
        index=index,
    )


def random_walk(
    *, seed: int, drift: float = 0.0, sigma: float = 0.004, n: int = BARS
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(drift + rng.normal(0, sigma, n)))


def ticker(
    symbol: str, *, last: float = 100.0, volume: float = 5e9, spread_bps: float = 2.0
) -> Ticker:
    half = last * spread_bps / 2e4
    return Ticker(
        symbol=symbol, at=AT, last=last, bid=last - half, ask=last + half, quote_volume_24h=volume
    )


def market(
    closes: dict[str, np.ndarray], **ticker_args: float
) -> tuple[dict[str, pd.DataFrame], dict[str, Ticker]]:
    bars = {s: bars_from_close(c) for s, c in closes.items()}
    tickers = {s: ticker(s, last=float(c[-1]), **ticker_args) for s, c in closes.items()}
    return bars, tickers


@pytest.fixture
def ranker() -> OpportunityRanker:
    return OpportunityRanker(load_settings().ranker)


# --- configuration -----------------------------------------------------------------------------


def test_weights_not_summing_to_1_are_rejected_naming_the_fields() -> None:
    with pytest.raises(ValidationError) as error:
        RankerConfig(weight_trend=0.5)
    message = str(error.value)
    for name in ("weight_trend", "weight_volatility", "weight_liquidity", "weight_performance"):
        assert name in message
    assert "= 1.15" in message and "must sum to 1" in message


def test_config_reads_weights_and_minimum_volume_from_settings() -> None:
    settings = load_settings(
        rank_weight_trend=0.4,
        rank_weight_volatility=0.2,
        rank_weight_liquidity=0.2,
        rank_weight_performance=0.2,
        rank_min_volume=5e8,
    )
    config = settings.ranker.for_timeframe("4h")
    assert (config.weight_trend, config.weight_volatility) == (0.4, 0.2)
    assert config.min_quote_volume == 5e8
    assert config.bars_per_day == 6


def test_a_window_too_short_for_the_indicators_is_rejected() -> None:
    with pytest.raises(ValidationError, match="window=20 is too short"):
        RankerConfig(window=20)


def test_unknown_config_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        RankerConfig(min_volume=1.0)  # type: ignore[call-arg]


# --- sub-scores ----------------------------------------------------------------------------------


def test_strong_trends_score_high_on_trend_in_either_direction(ranker: OpportunityRanker) -> None:
    bars, tickers = market(
        {
            "UP": random_walk(seed=1, drift=0.004, sigma=0.001),
            "DOWN": random_walk(seed=2, drift=-0.004, sigma=0.001),
            "NOISE": random_walk(seed=3),
        }
    )
    ranking = ranker.score(bars, tickers)
    up, down, noise = (ranking.get(s) for s in ("UP", "DOWN", "NOISE"))
    assert up is not None and down is not None and noise is not None
    assert up.trend > 0.8 and down.trend > 0.8
    assert noise.trend < 0.5
    assert up.performance > 0.8 > 0.2 > down.performance
    assert 0.2 < noise.performance < 0.8


def test_volatility_in_the_ideal_band_scores_1_and_falls_off_either_side(
    ranker: OpportunityRanker,
) -> None:
    # Daily ATR% of about: 0.1% (too quiet), 2% (ideal), 20% (too wild).
    bars, tickers = market(
        {
            "QUIET": random_walk(seed=4, sigma=0.0001),
            "IDEAL": random_walk(seed=5, sigma=0.0025),
            "WILD": random_walk(seed=6, sigma=0.03),
        }
    )
    for frame, wick in zip(bars.values(), (0.0001, 0.001, 0.01), strict=True):
        frame["high"] = frame[["open", "close"]].max(axis=1) * (1 + wick)
        frame["low"] = frame[["open", "close"]].min(axis=1) * (1 - wick)
    ranking = ranker.score(bars, tickers)
    scores = {s.symbol: s.volatility for s in ranking.kept}
    assert scores["IDEAL"] == pytest.approx(1.0)
    assert scores["QUIET"] < 0.2
    assert scores["WILD"] < 0.2


def test_liquidity_grows_with_volume_and_shrinks_with_the_spread(
    ranker: OpportunityRanker,
) -> None:
    close = random_walk(seed=7)
    bars = {s: bars_from_close(close) for s in ("THIN", "DEEP", "WIDE")}
    tickers = {
        "THIN": ticker("THIN", volume=1.1e9),
        "DEEP": ticker("DEEP", volume=1e10, spread_bps=0),
        "WIDE": ticker("WIDE", volume=1e10, spread_bps=40),
    }
    scores = {s.symbol: s.liquidity for s in ranker.score(bars, tickers).kept}
    assert scores["DEEP"] == pytest.approx(1.0)
    assert scores["THIN"] < scores["DEEP"]
    assert scores["WIDE"] == pytest.approx(1.0 - 0.5 * 40 / 50)


def test_the_total_is_the_weighted_sum_of_the_sub_scores(ranker: OpportunityRanker) -> None:
    bars, tickers = market({"A": random_walk(seed=8, drift=0.001)})
    (score,) = ranker.score(bars, tickers).kept
    cfg = ranker.config
    expected = (
        cfg.weight_trend * score.trend
        + cfg.weight_volatility * score.volatility
        + cfg.weight_liquidity * score.liquidity
        + cfg.weight_performance * score.performance
    )
    assert score.total == pytest.approx(expected)


# --- filters ---------------------------------------------------------------------------------


def test_each_filtered_symbol_keeps_its_reason(ranker: OpportunityRanker) -> None:
    close = random_walk(seed=9)
    bars = {
        "OK": bars_from_close(close),
        "SHORT": bars_from_close(close[:50]),
        "ILLIQUID": bars_from_close(close),
        "WIDE": bars_from_close(close),
        "NO_TICKER": bars_from_close(close),
    }
    tickers = {
        "OK": ticker("OK"),
        "SHORT": ticker("SHORT"),
        "ILLIQUID": ticker("ILLIQUID", volume=2e8),
        "WIDE": ticker("WIDE", spread_bps=80),
        "NO_BARS": ticker("NO_BARS"),
    }
    ranking = ranker.score(bars, tickers)
    reasons = {s.symbol: s.filtered_reason for s in ranking.filtered}
    assert reasons == {
        "SHORT": "50 bars, 100 needed",
        "ILLIQUID": "24h quote volume 200,000,000 < minimum 1,000,000,000",
        "WIDE": "spread 80.0 bps > maximum 50 bps",
        "NO_TICKER": "no ticker",
        "NO_BARS": "no bars",
    }
    assert [s.symbol for s in ranking.kept] == ["OK"]
    assert all(s.rank is None and s.total == 0.0 for s in ranking.filtered)


@pytest.mark.parametrize(
    ("bad_value", "reason"),
    [
        (np.nan, "non-finite price in the last 100 bars"),
        (np.inf, "non-finite price in the last 100 bars"),
        (-1.0, "non-positive price in the last 100 bars"),
    ],
)
def test_bad_prices_are_filtered_never_scored_as_nan(
    ranker: OpportunityRanker, bad_value: float, reason: str
) -> None:
    bars, tickers = market({"BAD": random_walk(seed=10), "GOOD": random_walk(seed=11)})
    bars["BAD"].loc[bars["BAD"].index[-5], "close"] = bad_value
    ranking = ranker.score(bars, tickers)
    bad = ranking.get("BAD")
    assert bad is not None and bad.filtered_reason == reason
    assert all(math.isfinite(s.total) for s in ranking.scores)
    assert [s.symbol for s in ranking.kept] == ["GOOD"]


def test_a_bad_bar_before_the_scored_window_does_not_matter(ranker: OpportunityRanker) -> None:
    bars, tickers = market({"A": random_walk(seed=12)})
    bars["A"].loc[bars["A"].index[0], "close"] = np.nan
    assert [s.symbol for s in ranker.score(bars, tickers).kept] == ["A"]


def test_high_below_low_is_filtered(ranker: OpportunityRanker) -> None:
    bars, tickers = market({"A": random_walk(seed=13)})
    bars["A"].loc[bars["A"].index[-1], "high"] = 1.0
    (score,) = ranker.score(bars, tickers).filtered
    assert score.filtered_reason == "high below low in the last 100 bars"


def test_a_non_finite_ticker_is_filtered(ranker: OpportunityRanker) -> None:
    bars, tickers = market({"A": random_walk(seed=14)})
    tickers["A"] = ticker("A", volume=math.nan)
    (score,) = ranker.score(bars, tickers).filtered
    assert score.filtered_reason == "ticker has non-finite volume, bid or ask"


# --- ordering and output --------------------------------------------------------------------------


def test_symbols_of_different_lengths_are_aligned_on_their_last_bars(
    ranker: OpportunityRanker,
) -> None:
    long = random_walk(seed=15, n=1000)
    frame = bars_from_close(long)
    bars = {"LONG": frame, "TAIL": frame.iloc[-100:]}
    tickers = {s: ticker(s, last=float(long[-1])) for s in bars}
    ranking = ranker.score(bars, tickers)
    a, b = ranking.get("LONG"), ranking.get("TAIL")
    assert a is not None and b is not None
    assert (a.total, a.trend, a.volatility) == (b.total, b.trend, b.volatility)


def test_ties_are_broken_by_symbol_name(ranker: OpportunityRanker) -> None:
    close = random_walk(seed=16)
    bars, tickers = market({"B": close, "C": close, "A": close})
    ranking = ranker.score(bars, tickers)
    assert [(s.symbol, s.rank) for s in ranking.kept] == [("A", 1), ("B", 2), ("C", 3)]


def test_nothing_to_score_is_an_empty_ranking(ranker: OpportunityRanker) -> None:
    ranking = ranker.score({}, {})
    assert ranking.scores == () and ranking.as_policy_map() == {}


def test_top_policy_map_and_table(ranker: OpportunityRanker) -> None:
    closes = {f"S{i}": random_walk(seed=20 + i, drift=0.001 * i) for i in range(5)}
    bars, tickers = market(closes)
    tickers["S0"] = ticker("S0", volume=1.0)
    ranking = ranker.score(bars, tickers)
    assert len(ranking.top(2)) == 2
    assert ranking.top(2) == ranking.kept[:2]
    assert ranking.top() == ranking.kept  # top_n 20 > 4 kept
    policy = ranking.as_policy_map()
    assert set(policy) == {"S1", "S2", "S3", "S4"}
    assert all(v == round(v, 6) for v in policy.values())
    rows = ranking.render_table()
    assert [r["symbol"] for r in rows] == [s.symbol for s in ranking.scores]
    assert rows[-1]["filtered"].startswith("24h quote volume")
    assert rows[0]["rank"] == 1 and rows[-1]["rank"] is None


# --- properties ------------------------------------------------------------------------------


@st.composite
def random_markets(draw: st.DrawFn) -> tuple[dict[str, pd.DataFrame], dict[str, Ticker]]:
    """Valid but varied markets: random walks of random drift, volatility and length,
    some flat, with random volumes and spreads."""
    count = draw(st.integers(min_value=1, max_value=8))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    bars: dict[str, pd.DataFrame] = {}
    tickers: dict[str, Ticker] = {}
    for i in range(count):
        length = int(rng.integers(100, 260))
        sigma = draw(st.sampled_from([0.0, 1e-5, 0.002, 0.01, 0.08]))
        drift = float(rng.normal(0, 0.003))
        start = float(10 ** rng.uniform(-4, 5))
        close = start * np.exp(np.cumsum(drift * (sigma > 0) + rng.normal(0, sigma, length)))
        symbol = f"S{i}"
        bars[symbol] = bars_from_close(close, wick=float(rng.uniform(0, 0.02)))
        tickers[symbol] = ticker(
            symbol,
            last=float(close[-1]),
            volume=float(10 ** rng.uniform(5, 12)),
            spread_bps=float(rng.uniform(0, 100)),
        )
    return bars, tickers


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_markets())
def test_every_score_stays_in_0_1(
    market_data: tuple[dict[str, pd.DataFrame], dict[str, Ticker]],
) -> None:
    ranking = OpportunityRanker(RankerConfig(min_quote_volume=0)).score(*market_data)
    for s in ranking.scores:
        for value in (s.total, s.trend, s.volatility, s.liquidity, s.performance):
            assert 0.0 <= value <= 1.0, s
    assert [s.rank for s in ranking.kept] == list(range(1, len(ranking.kept) + 1))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_markets(), st.randoms(use_true_random=False))
def test_the_ranking_does_not_depend_on_input_order(
    market_data: tuple[dict[str, pd.DataFrame], dict[str, Ticker]], rnd: Random
) -> None:
    bars, tickers = market_data
    ranker = OpportunityRanker(RankerConfig(min_quote_volume=1e7))
    names = list(bars)
    rnd.shuffle(names)
    shuffled_bars = {s: bars[s] for s in names}
    rnd.shuffle(names)
    shuffled_tickers = {s: tickers[s] for s in names}
    first: Ranking = ranker.score(bars, tickers)
    assert ranker.score(shuffled_bars, shuffled_tickers) == first


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_markets())
def test_bars_as_blocks_rank_exactly_as_one_frame_per_symbol(
    market_data: tuple[dict[str, pd.DataFrame], dict[str, Ticker]],
) -> None:
    bars, tickers = market_data
    with_missing = {**tickers, "ONLY_TICKER": ticker("ONLY_TICKER")}
    ranker = OpportunityRanker(RankerConfig(min_quote_volume=1e6))

    as_blocks = ranker.score(BlockRead(BarBlock.from_frames(bars, "1h"), {}), with_missing)

    assert as_blocks == ranker.score(bars, with_missing)


def test_a_symbol_scores_the_same_among_hundreds_as_alone() -> None:
    # More symbols than one pass of the indicators takes: the passes must not mix rows.
    closes = {f"S{i:03d}/USDT": random_walk(seed=i, drift=(i % 7 - 3) * 4e-4) for i in range(300)}
    bars, tickers = market(closes)
    ranker = OpportunityRanker(RankerConfig(min_quote_volume=1e6, window=BARS))

    together = ranker.score(BlockRead(BarBlock.from_frames(bars, "1h"), {}), tickers)

    for symbol in ("S000/USDT", "S130/USDT", "S299/USDT"):
        (alone,) = ranker.score({symbol: bars[symbol]}, {symbol: tickers[symbol]}).scores
        score = together.get(symbol)
        assert score is not None and replace(score, rank=1) == alone
