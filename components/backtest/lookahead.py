"""Lookahead and recursion checks: does a strategy's signal at bar t depend only on the
bars up to t, and on how much history comes before them?

    check_no_lookahead(strategy, bars)      # raises LookaheadError if it peeks
    check_recursion(strategy, bars)         # raises UnstableSignalError if history-bound

:func:`check_no_lookahead` recomputes the signals on the history cut at sampled bars
``t`` and compares them with the full-history signals over the overlap (bars ``<= t``):
a strategy that reads a later bar (a negative shift, a centred window, a full-sample
statistic) gives different signals once the later bars are gone. About 20 cuts cost 20
signal computations on prefixes, cheap enough for every candidate of a genetic search.

:func:`check_recursion` is the other way round (freqtrade's "recursive analysis"): the
engine computes its signal from the last few hundred bars only, so a strategy whose
recursive indicators (EMA, Wilder averages) or running state (waiting for a cross) have
not settled within that window trades differently live than in a backtest on the full
history. It recomputes the signal of sampled bars from a window of ``history`` bars
ending there and compares it with the full-history signal.

Both compare ``direction`` exactly and ``confidence`` within a tolerance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from components.errors import ConfigurationError, DataError
from components.indicators import FloatArray
from components.market.base import BAR_COLUMNS
from components.strategies.base import SignalArrays, Strategy

DEFAULT_HISTORY = 500
"""Bars the engine reads per cycle (``MarketData.bars``' default ``limit``)."""

__all__ = [
    "DEFAULT_HISTORY",
    "LookaheadError",
    "LookaheadReport",
    "RecursionReport",
    "SignalDifference",
    "UnstableSignalError",
    "check_no_lookahead",
    "check_recursion",
]


class SignalDifference(BaseModel):
    """One bar whose signal changed when the history around it changed.

    ``cut`` is the last bar of the shorter history the signal was recomputed on (for the
    recursion check, the window ends there too, so ``cut == bar``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bar: int = Field(ge=0, description="Position of the bar in the bars.")
    at: datetime | None = Field(description="Its open time, when the bars have one.")
    cut: int = Field(ge=0, description="Last bar of the shorter history.")
    full_direction: int
    other_direction: int = Field(description="The direction from the shorter history.")
    full_confidence: float
    other_confidence: float

    def describe(self) -> str:
        """``"bar 812 (2024-02-03 20:00:00+00:00): direction 1, confidence 0.62 ..."``."""
        when = f" ({self.at})" if self.at is not None else ""
        return (
            f"bar {self.bar}{when}: direction {self.full_direction}, confidence "
            f"{self.full_confidence:.6g} with the full history but direction "
            f"{self.other_direction}, confidence {self.other_confidence:.6g} with the history "
            f"ending at bar {self.cut}"
        )


class LookaheadReport(BaseModel):
    """What :func:`check_no_lookahead` compared, and the earliest difference if any.

    Example: ``report.passed``, ``report.first_difference.bar``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    params: dict[str, Any]
    bars: int = Field(ge=0)
    cuts: tuple[int, ...] = Field(description="Last bar of each truncated history, ascending.")
    compared: int = Field(ge=0, description="Bar signals compared, over every cut.")
    first_difference: SignalDifference | None = None

    @property
    def passed(self) -> bool:
        """True when no truncated history changed a signal."""
        return self.first_difference is None


class RecursionReport(BaseModel):
    """What :func:`check_recursion` compared: the last signal of each sampled window.

    Example: ``report.mismatch_rate``, ``report.passed``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    params: dict[str, Any]
    bars: int = Field(ge=0)
    history: int = Field(ge=1, description="Bars in each window.")
    warmup: int = Field(ge=0, description="The strategy's warm-up, for comparison.")
    windows: tuple[int, ...] = Field(description="Last bar of each window, ascending.")
    mismatches: int = Field(ge=0)
    max_mismatch_rate: float = Field(ge=0, le=1)
    first_difference: SignalDifference | None = None

    @property
    def mismatch_rate(self) -> float:
        """Share of windows whose last signal differs from the full-history one."""
        return self.mismatches / len(self.windows) if self.windows else 0.0

    @property
    def passed(self) -> bool:
        """True when the mismatch rate is within ``max_mismatch_rate``."""
        return self.mismatch_rate <= self.max_mismatch_rate


class LookaheadError(DataError):
    """A strategy's signals use bars after the signal bar; ``report`` says where."""

    def __init__(self, report: LookaheadReport) -> None:
        difference = report.first_difference
        detail = difference.describe() if difference is not None else "signals differ"
        super().__init__(
            f"{_title(report.strategy, report.params)} looks ahead: {detail}. A signal at "
            "bar t may use bars <= t only (no negative shifts, centred windows or "
            "full-sample statistics)"
        )
        self.report = report


class UnstableSignalError(DataError):
    """A strategy's signal depends on how much history precedes it; ``report`` says where."""

    def __init__(self, report: RecursionReport) -> None:
        difference = report.first_difference
        detail = difference.describe() if difference is not None else "signals differ"
        short = (
            f" (shorter than its warm-up of {report.warmup} bars)"
            if report.history < report.warmup
            else ""
        )
        super().__init__(
            f"{_title(report.strategy, report.params)} is unstable over {report.history} bars "
            f"of history{short}: "
            f"{report.mismatches} of {len(report.windows)} sampled signals "
            f"differ from the full-history ones (allowed rate {report.max_mismatch_rate:g}); "
            f"first at {detail}. Give it more history or shorter recursive indicators"
        )
        self.report = report


def check_no_lookahead(
    strategy: Strategy[Any],
    bars: pd.DataFrame,
    *,
    samples: int = 20,
    seed: int = 0,
    raise_error: bool = True,
    atol: float = 1e-9,
) -> LookaheadReport:
    """Whether ``strategy``'s signals up to each sampled bar ``t`` are the same when the
    bars after ``t`` do not exist.

    Parameters
    ----------
    strategy
        Any strategy.
    bars
        Bars per :mod:`components.market.base`, longer than ``strategy.warmup``.
    samples
        How many cut points to try, drawn without replacement from the bars at or after
        the warm-up (all of them when there are fewer).
    seed
        Seed of the draw: the same seed checks the same cuts.
    raise_error
        Raise on a difference (the default) rather than return a failed report.
    atol
        Largest confidence difference taken as equal (directions must match exactly).

    Returns
    -------
    LookaheadReport
        The cuts, the number of bar signals compared and the earliest difference found
        (``None`` when it passed).

    Raises
    ------
    LookaheadError
        A signal differs (with ``raise_error``): the message names the strategy, its
        params, the first differing bar and both signals there.
    DataError
        The bars lack a column or are too short to cut after the warm-up.
    ConfigurationError
        ``samples`` is below 1.

    Example: ``check_no_lookahead(create_strategy("momentum"), bars, samples=20, seed=1)``.
    """
    columns = _columns(bars, strategy)
    n = columns[0].size
    first = max(strategy.warmup - 1, 0)
    if n - 1 <= first:
        raise DataError(
            f"{strategy!r}: {n} bars are too few to check for lookahead; need more than "
            f"{first + 1} (the warm-up is {strategy.warmup})"
        )
    full = strategy.signal_arrays(*columns)
    cuts = _sample(np.arange(first, n - 1), samples, seed)
    earliest: SignalDifference | None = None
    compared = 0
    for cut in cuts:
        part = strategy.signal_arrays(*(c[: cut + 1] for c in columns))
        compared += cut + 1
        bar = _first_mismatch(full, part, slice(0, cut + 1), atol)
        if bar is not None and (earliest is None or bar < earliest.bar):
            earliest = _difference(bars, bar, cut, full, part, bar)
    report = LookaheadReport(
        strategy=strategy.name,
        params=strategy.params.model_dump(),
        bars=n,
        cuts=tuple(int(c) for c in cuts),
        compared=compared,
        first_difference=earliest,
    )
    if raise_error and not report.passed:
        raise LookaheadError(report)
    return report


def check_recursion(
    strategy: Strategy[Any],
    bars: pd.DataFrame,
    *,
    history: int = DEFAULT_HISTORY,
    samples: int = 20,
    seed: int = 0,
    max_mismatch_rate: float = 0.0,
    raise_error: bool = True,
    atol: float = 1e-6,
) -> RecursionReport:
    """Whether ``strategy``'s signal at sampled bars is the same computed from only the
    ``history`` bars ending there as from the full history (see the module docstring).

    Parameters
    ----------
    strategy
        Any strategy.
    bars
        Bars per :mod:`components.market.base`, more than ``history`` of them.
    history
        Bars in each window: what the engine reads per cycle (500 by default).
    samples, seed
        How many windows to try (their last bars drawn without replacement), and the seed.
    max_mismatch_rate
        Share of windows allowed to differ; 0 by default.
    raise_error
        Raise when the rate is exceeded (the default) rather than return a failed report.
    atol
        Largest confidence difference taken as equal.

    Raises
    ------
    UnstableSignalError
        Too many windows differ, or ``history`` is shorter than the warm-up (with
        ``raise_error``); the message names the strategy, its params and the first bar.
    DataError
        The bars lack a column or are not longer than ``history``.
    ConfigurationError
        ``history`` or ``samples`` is below 1.

    Example: ``check_recursion(create_strategy("trend_following"), bars, history=500)``.
    """
    if history < 1:
        raise ConfigurationError(f"history={history} must be at least 1 bar")
    columns = _columns(bars, strategy)
    n = columns[0].size
    if n <= history:
        raise DataError(
            f"{strategy!r}: {n} bars are too few to check windows of {history}; need more"
        )
    full = strategy.signal_arrays(*columns)
    ends = _sample(np.arange(history - 1, n), samples, seed)
    mismatches = 0
    earliest: SignalDifference | None = None
    for end in ends:
        part = strategy.signal_arrays(*(c[end + 1 - history : end + 1] for c in columns))
        last = history - 1
        same_direction = part.direction[last] == full.direction[end]
        same_confidence = abs(part.confidence[last] - full.confidence[end]) <= atol
        if same_direction and same_confidence:
            continue
        mismatches += 1
        if earliest is None:
            earliest = _difference(bars, end, end, full, part, last)
    report = RecursionReport(
        strategy=strategy.name,
        params=strategy.params.model_dump(),
        bars=n,
        history=history,
        warmup=strategy.warmup,
        windows=tuple(int(e) for e in ends),
        mismatches=mismatches,
        max_mismatch_rate=max_mismatch_rate,
        first_difference=earliest,
    )
    if raise_error and not report.passed:
        raise UnstableSignalError(report)
    return report


# --- helpers ------------------------------------------------------------------------------------


def _columns(bars: pd.DataFrame, strategy: Strategy[Any]) -> list[FloatArray]:
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise DataError(
            f"{strategy.name}: bars have no {', '.join(map(repr, missing))} column "
            f"(needed: {', '.join(BAR_COLUMNS)})"
        )
    return [bars[c].to_numpy(dtype=np.float64) for c in BAR_COLUMNS]


def _sample(candidates: np.ndarray, samples: int, seed: int) -> np.ndarray:
    if samples < 1:
        raise ConfigurationError(f"samples={samples} must be at least 1")
    if candidates.size <= samples:
        return candidates
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(candidates, size=samples, replace=False))


def _first_mismatch(full: SignalArrays, part: SignalArrays, span: slice, atol: float) -> int | None:
    """The first bar in ``span`` where ``part`` (aligned with ``full``) differs."""
    differ = (full.direction[span] != part.direction) | (
        np.abs(full.confidence[span] - part.confidence) > atol
    )
    if not differ.any():
        return None
    return int(np.argmax(differ)) + (span.start or 0)


def _difference(
    bars: pd.DataFrame,
    bar: int,
    cut: int,
    full: SignalArrays,
    part: SignalArrays,
    part_bar: int,
) -> SignalDifference:
    at = bars.index[bar] if isinstance(bars.index, pd.DatetimeIndex) else None
    return SignalDifference(
        bar=bar,
        at=pd.Timestamp(at).to_pydatetime() if at is not None else None,
        cut=cut,
        full_direction=int(full.direction[bar]),
        other_direction=int(part.direction[part_bar]),
        full_confidence=float(full.confidence[bar]),
        other_confidence=float(part.confidence[part_bar]),
    )


def _title(name: str, params: dict[str, Any]) -> str:
    values = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"strategy {name}({values})"
