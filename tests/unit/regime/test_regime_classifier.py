"""The market-state classifier puts constructed series in the right state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from components.errors import ConfigurationError, DataError
from components.regime import (
    MARKET,
    ClassifierConfig,
    MarketState,
    RegimeClassifier,
)
from components.settings import load_settings

BARS = 120  # hourly bars per constructed series
T = np.arange(BARS)


def prices(log_path: np.ndarray) -> np.ndarray:
    return 100.0 * np.exp(log_path)


def alternating(amplitude: float) -> np.ndarray:
    """+a, -a, +a, ...: noise around a level with no net move."""
    return amplitude * np.where(T % 2 == 0, 1.0, -1.0)


def steady_rise(drift: float = 0.003, noise: float = 0.0005) -> np.ndarray:
    return prices(drift * T + alternating(noise))


def zigzag(leg: int = 8, amplitude: float = 0.04) -> np.ndarray:
    """Legs of ``leg`` bars up then down between two levels."""
    return prices(amplitude * np.abs((T / leg) % 2 - 1))


def random_walk(sigma: float, *, seed: int) -> np.ndarray:
    return prices(np.cumsum(np.random.default_rng(seed).normal(0, sigma, BARS)))


SERIES = {
    "steady rise with small noise": (steady_rise(), MarketState.BULL_STRONG),
    "steady fall with small noise": (steady_rise(-0.003), MarketState.BEAR_STRONG),
    # Drift 0.2%/bar under a +-0.2% wobble: efficiency ratio 0.5.
    "noisy rise": (steady_rise(0.002, 0.002), MarketState.BULL_WEAK),
    "noisy fall": (steady_rise(-0.002, 0.002), MarketState.BEAR_WEAK),
    "flat quiet range": (prices(alternating(0.0005)), MarketState.SIDEWAYS_TIGHT),
    "wide flat range": (prices(alternating(0.003)), MarketState.SIDEWAYS_WIDE),
    "high-volatility random walk": (random_walk(0.03, seed=1), MarketState.VOLATILE),
    "zig-zag with no net move": (zigzag(), MarketState.CHOPPY),
}


@pytest.fixture
def classifier() -> RegimeClassifier:
    return RegimeClassifier(ClassifierConfig.from_msc(load_settings().msc, timeframe="1h"))


def as_bars(close: np.ndarray, volume: float = 10.0) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(close), freq="h", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": volume,
        },
        index=index,
    )


@pytest.mark.parametrize("name", list(SERIES))
def test_each_constructed_series_is_classified_in_its_state(
    classifier: RegimeClassifier, name: str
) -> None:
    close, expected = SERIES[name]
    result = classifier.classify({name: as_bars(close)})
    assessment = result.symbols[name]
    assert assessment.state is expected, assessment


def test_many_symbols_are_classified_in_one_call_from_arrays(
    classifier: RegimeClassifier,
) -> None:
    names = list(SERIES)
    closes = np.stack([SERIES[n][0] for n in names])
    result = classifier.classify_arrays(names, closes)
    assert {n: a.state for n, a in result.symbols.items()} == {n: SERIES[n][1] for n in names}


def test_an_assessment_reports_daily_volatility_trend_strength_and_direction(
    classifier: RegimeClassifier,
) -> None:
    fall = classifier.classify({"X": as_bars(steady_rise(-0.003))}).symbols["X"]
    assert fall.direction == -1
    assert fall.trend_strength > 0.9
    assert fall.window_return == pytest.approx(-0.003 * 48, rel=0.05)
    assert fall.bars == 49
    wide = classifier.classify({"X": as_bars(prices(alternating(0.003)))}).symbols["X"]
    # Returns alternate +-0.6%: per-bar std ~0.6%, times sqrt(24) bars a day.
    assert wide.volatility == pytest.approx(0.006 * np.sqrt(24), rel=0.05)


def test_volatility_thresholds_are_daily_and_scale_with_the_timeframe() -> None:
    settings = load_settings()
    hourly = ClassifierConfig.from_msc(settings.msc, timeframe="1h")
    daily = ClassifierConfig.from_msc(settings.msc, timeframe="1d")
    assert hourly.bars_per_day == 24 and daily.bars_per_day == 1
    assert hourly.high_volatility == daily.high_volatility == settings.msc.high_volatility
    # 2% a bar: 9.8% a day on hourly bars (VOLATILE), 2% a day on daily bars (not).
    close = prices(alternating(0.01))
    on_hourly = RegimeClassifier(hourly).classify({"X": as_bars(close)}).symbols["X"]
    on_daily = RegimeClassifier(daily).classify({"X": as_bars(close)}).symbols["X"]
    assert on_hourly.state is MarketState.VOLATILE
    assert on_daily.state is MarketState.SIDEWAYS_WIDE


def test_an_unknown_timeframe_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="1h"):
        ClassifierConfig.from_msc(load_settings().msc, timeframe="7h")


def test_thresholds_out_of_order_are_refused() -> None:
    with pytest.raises(ValidationError, match="low_volatility"):
        ClassifierConfig(low_volatility=0.06, high_volatility=0.05)
    with pytest.raises(ValidationError, match="weak_trend"):
        ClassifierConfig(weak_trend=0.8, strong_trend=0.7)
    with pytest.raises(ValidationError, match="extra"):
        ClassifierConfig(unknown=1)  # type: ignore[call-arg]


def test_the_market_takes_the_median_symbol(classifier: RegimeClassifier) -> None:
    bars = {
        "A": as_bars(steady_rise()),
        "B": as_bars(steady_rise(0.0025)),
        "C": as_bars(steady_rise(0.0035)),
        "D": as_bars(prices(alternating(0.003))),
    }
    market = classifier.classify(bars).market
    assert market.symbol == MARKET
    assert market.state is MarketState.BULL_STRONG


def test_half_the_market_rising_and_half_falling_is_no_market_trend(
    classifier: RegimeClassifier,
) -> None:
    classifier = RegimeClassifier(classifier.config.model_copy(update={"weighting": "equal"}))
    bars = {
        "UP1": as_bars(steady_rise()),
        "UP2": as_bars(steady_rise(0.002)),
        "DOWN1": as_bars(steady_rise(-0.003)),
        "DOWN2": as_bars(steady_rise(-0.002)),
    }
    result = classifier.classify(bars)
    assert {a.state for a in result.symbols.values()} == {
        MarketState.BULL_STRONG,
        MarketState.BEAR_STRONG,
    }
    assert result.market.state not in {MarketState.BULL_STRONG, MarketState.BEAR_STRONG}


def test_the_market_weighs_symbols_by_quote_volume(classifier: RegimeClassifier) -> None:
    bars = {
        "BIG": as_bars(random_walk(0.03, seed=2), volume=1e6),
        "S1": as_bars(prices(alternating(0.0005))),
        "S2": as_bars(prices(alternating(0.0004))),
    }
    assert classifier.classify(bars).market.state is MarketState.VOLATILE
    equal = RegimeClassifier(classifier.config.model_copy(update={"weighting": "equal"}))
    assert equal.classify(bars).market.state is MarketState.SIDEWAYS_TIGHT


def test_symbols_without_enough_or_clean_bars_are_skipped_with_a_reason(
    classifier: RegimeClassifier,
) -> None:
    broken = steady_rise()
    broken[-3] = np.nan
    bars = {
        "OK": as_bars(steady_rise()),
        "SHORT": as_bars(steady_rise()[:20]),
        "BROKEN": as_bars(broken),
    }
    result = classifier.classify(bars)
    assert set(result.symbols) == {"OK"}
    assert result.skipped == {
        "SHORT": "20 bars, 49 needed",
        "BROKEN": "non-finite or non-positive close in the window",
    }


def test_no_classifiable_symbol_is_a_data_error(classifier: RegimeClassifier) -> None:
    with pytest.raises(DataError, match="SHORT: 20 bars, 49 needed"):
        classifier.classify({"SHORT": as_bars(steady_rise()[:20])})


def test_the_result_does_not_depend_on_the_order_of_symbols(
    classifier: RegimeClassifier,
) -> None:
    names = list(SERIES)
    forward = classifier.classify({n: as_bars(SERIES[n][0]) for n in names})
    backward = classifier.classify({n: as_bars(SERIES[n][0]) for n in reversed(names)})
    assert forward == backward
