"""Lookahead and recursion checks: does a strategy's signal at bar t depend only on the
bars up to t, and on how much history comes before them?

    check_no_lookahead(strategy, bars)      # raises LookaheadError if it peeks
    check_recursion(strategy, bars)         # raises UnstableSignalError if history-bound

:func:`check_no_lookahead` is exhaustive, as the best lookahead analysers are: it cuts
the history at *every* bar where the strategy's direction changes (each entry and exit,
and the bar before each, plus the first bar after the warm-up and the last but one) and
asks whether the signals up to the cut change when the bars after it change. For each
cut it computes a window around the cut three times (warm-up plus a margin before it,
``horizon`` bars after): with the real later bars, with them halved and with them
doubled (so any comparison with a later price or volume flips in one of the two). The
three share their start, so a causal strategy gives the same signals up to the cut in all
three, whatever its recursion; a strategy that reads a later bar (a negative shift, a
centred window, a statistic of the whole window) does not. A peek that creates, moves or
prolongs even one signal makes a change there, so it is cut and caught. Peeks further
ahead than the horizon are caught by a few cuts of the whole history (the same three
futures, to the end of the data). (A peek that changes no direction against its
neighbours, such as one filling a one-bar dip, leaves no change to cut at: like every
signal-change analyser, this one cannot see it.) All windows are stacked as rows of 2-D
blocks (cuts x time), one ``signal_arrays`` call per block of a few million cells: no
per-bar Python. The report carries the cost.

:func:`check_recursion` is the other way round (freqtrade's "recursive analysis"): the
engine computes its signal from the last few hundred bars only, so a strategy whose
recursive indicators (EMA, Wilder averages) or running state (waiting for a cross) have
not settled within that window trades differently live than in a backtest on the full
history. It recomputes the signal of sampled bars from a window of ``history`` bars
ending there and compares it with the full-history signal.

Both compare ``direction`` exactly and ``confidence`` within a tolerance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from components.errors import ConfigurationError, DataError
from components.indicators import FloatArray
from components.market.base import BAR_COLUMNS
from components.strategies.base import SignalArrays, Strategy

FUTURE_SCALES: tuple[float, ...] = (0.5, 2.0)
"""The other futures the lookahead check tries after each cut: the real later bars scaled
by each factor (a bar that moved less than 2x either way flips any comparison with it)."""

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
    seconds: float = Field(0.0, ge=0, description="What the check cost, wall-clock.")
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
        d = report.first_difference
        detail = (
            "signals differ"
            if d is None
            else f"bar {d.bar}{f' ({d.at})' if d.at is not None else ''}: direction "
            f"{d.full_direction}, confidence {d.full_confidence:.6g} with the real bars but "
            f"direction {d.other_direction}, confidence {d.other_confidence:.6g} when the "
            f"bars after bar {d.cut} change"
        )
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
    horizon: int = 64,
    long_cuts: int = 8,
    raise_error: bool = True,
    atol: float = 1e-9,
    max_cells: int = 2_000_000,
) -> LookaheadReport:
    """Whether ``strategy``'s signals up to each bar where its direction changes stay the
    same when the bars after that bar change (see the module docstring).

    Parameters
    ----------
    strategy
        Any strategy.
    bars
        Bars per :mod:`components.market.base`, longer than ``strategy.warmup``.
    horizon
        Bars after each cut whose change is tried (at least the warm-up).
    long_cuts
        Cuts, evenly spread, that also try a change of every later bar to the end.
    raise_error
        Raise on a difference (the default) rather than return a failed report.
    atol
        Largest confidence difference taken as equal (directions must match exactly).
    max_cells
        Most bars (rows x time) computed in one ``signal_arrays`` call; bounds the memory.

    Returns
    -------
    LookaheadReport
        The cuts, the number of bar signals compared, the cost in seconds and the
        earliest difference found (``None`` when it passed).

    Raises
    ------
    LookaheadError
        A signal differs (with ``raise_error``): the message names the strategy, its
        params, the first differing bar and both signals there.
    DataError
        The bars lack a column or are too short to cut after the warm-up.
    ConfigurationError
        ``horizon``, ``long_cuts`` or ``max_cells`` is out of range.

    Example: ``check_no_lookahead(create_strategy("momentum"), bars).seconds``.
    """
    for name, value, low in (("horizon", horizon, 1), ("long_cuts", long_cuts, 0)):
        if value < low:
            raise ConfigurationError(f"{name}={value} must be at least {low}")
    if max_cells < 1:
        raise ConfigurationError(f"max_cells={max_cells} must be at least 1")
    started = time.perf_counter()
    columns = _columns(bars, strategy)
    n = columns[0].size
    first = max(strategy.warmup - 1, 0)
    if n - 1 <= first:
        raise DataError(
            f"{strategy!r}: {n} bars are too few to check for lookahead; need more than "
            f"{first + 1} (the warm-up is {strategy.warmup})"
        )
    full = strategy.signal_arrays(*columns)
    cuts = signal_changes(full.direction, first)
    before = first + 32  # the warm-up and a margin: signals are formed by the cut
    length = min(n, before + max(horizon, strategy.warmup) + 1)
    starts = np.clip(cuts - before, 0, n - length)
    differences = [_window_difference(strategy, columns, cuts, starts, length, atol, max_cells)]
    spread = np.unique(cuts[np.linspace(0, cuts.size - 1, min(long_cuts, cuts.size), dtype=int)])
    if spread.size:
        differences.append(
            _window_difference(
                strategy, columns, spread, np.zeros_like(spread), n, atol, max_cells, full
            )
        )
    found = [d for d in differences if d is not None]
    earliest = min(found) if found else None
    report = LookaheadReport(
        strategy=strategy.name,
        params=strategy.params.model_dump(),
        bars=n,
        cuts=tuple(int(c) for c in cuts),
        compared=int((np.minimum(cuts - starts, length - 1) + 1).sum() + (spread + 1).sum())
        * len(FUTURE_SCALES),
        seconds=time.perf_counter() - started,
        first_difference=None if earliest is None else _described(bars, earliest),
    )
    if raise_error and not report.passed:
        raise LookaheadError(report)
    return report


def signal_changes(direction: np.ndarray, first: int) -> np.ndarray:
    """The bars to cut at: every bar after ``first`` whose direction differs from the bar
    before, and the bar before it (a peek that holds a signal one bar longer moves the
    change one bar on), plus ``first`` and the last but one bar, ascending.

    Example: ``signal_changes(np.array([0, 0, 0, 1, 1, 0, 0]), 1)`` -> ``[1, 2, 3, 4, 5]``.
    """
    n = direction.size
    changed = np.flatnonzero(direction[first + 1 : n - 1] != direction[first : n - 2]) + first + 1
    cuts = np.concatenate(([first], changed - 1, changed, [n - 2]))
    return np.unique(cuts[cuts >= first]).astype(np.int64)


@dataclass(frozen=True, slots=True, order=True)
class _Found:
    """A signal that changed with the future: ordered by bar, then cut."""

    bar: int
    cut: int
    real_direction: int
    other_direction: int
    real_confidence: float
    other_confidence: float


def _window_difference(
    strategy: Strategy[Any],
    columns: list[FloatArray],
    cuts: np.ndarray,
    starts: np.ndarray,
    length: int,
    atol: float,
    max_cells: int,
    reference: SignalArrays | None = None,
) -> _Found | None:
    """The earliest bar at or before its cut whose signal in a window ``[start, start +
    length)`` changes when the bars after the cut are scaled; ``reference`` is the real
    window's signals when it is the whole history (already computed)."""
    rows = max(1, max_cells // (length * (len(FUTURE_SCALES) + 1)))
    position = np.arange(length)[np.newaxis, :]
    earliest: _Found | None = None
    for i in range(0, cuts.size, rows):
        cut, start = cuts[i : i + rows], starts[i : i + rows]
        index = start[:, np.newaxis] + position
        real = [c[index] for c in columns]
        after = index > cut[:, np.newaxis]
        if reference is None:
            base = strategy.signal_arrays(*real)
        else:
            base = SignalArrays(
                np.broadcast_to(reference.direction, index.shape),
                np.broadcast_to(reference.confidence, index.shape),
            )
        for scale in FUTURE_SCALES:
            other = strategy.signal_arrays(*(np.where(after, r * scale, r) for r in real))
            differ = (other.direction != base.direction) | (
                np.abs(other.confidence - base.confidence) > atol
            )
            differ &= ~after
            hit = np.flatnonzero(differ.any(axis=1))
            if hit.size == 0:
                continue
            at = np.argmax(differ[hit], axis=1)
            best = int(np.argmin(index[hit, at]))
            row, col = int(hit[best]), int(at[best])
            found = _Found(
                bar=int(index[row, col]),
                cut=int(cut[row]),
                real_direction=int(base.direction[row, col]),
                other_direction=int(other.direction[row, col]),
                real_confidence=float(base.confidence[row, col]),
                other_confidence=float(other.confidence[row, col]),
            )
            earliest = found if earliest is None else min(earliest, found)
    return earliest


def _described(bars: pd.DataFrame, found: _Found) -> SignalDifference:
    at = bars.index[found.bar] if isinstance(bars.index, pd.DatetimeIndex) else None
    return SignalDifference(
        bar=found.bar,
        at=pd.Timestamp(at).to_pydatetime() if at is not None else None,
        cut=found.cut,
        full_direction=found.real_direction,
        other_direction=found.other_direction,
        full_confidence=found.real_confidence,
        other_confidence=found.other_confidence,
    )


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
