"""The contract every strategy keeps, in backtests and live alike.

A strategy is a name, a frozen params model with bounded fields, a ``warmup`` and one
vectorised computation over bar arrays. :meth:`Strategy.signal_arrays` is that
computation (numpy in, numpy out; 1-D for one series or 2-D for symbols x time); the
DataFrame method :meth:`Strategy.signals` is a thin wrapper over it, so the engine and
the backtester run the same code::

    strategy = MomentumStrategy({"lookback": 20})
    frame = strategy.signals(bars)            # columns direction, confidence; bars' index
    direction, confidence = strategy.signal_arrays(o, h, l, c, v)

Per bar, ``direction`` is the position the strategy wants from that bar on (+1 long,
-1 short, 0 flat; int8) and ``confidence`` how strongly, in [0, 1] (0 whenever the
direction is 0). A value at bar ``t`` uses bars ``<= t`` only: no negative shifts, no
centred windows, no full-sample statistics.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, NamedTuple, Self, TypeVar, cast

import annotated_types
import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from components.errors import ConfigurationError, DataError
from components.indicators import FloatArray
from components.market.base import BAR_COLUMNS
from components.stream import bar_index

Int8Array = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]
ParamKind = Literal["int", "float", "bool"]


class StrategyParams(BaseModel):
    """Base of every strategy's params: frozen, no unknown fields, every number bounded
    by ``Field(ge=..., le=...)`` so the genetic search knows where to look."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class FastSlowParams(StrategyParams):
    """Params of a strategy with a fast and a slow average: ``fast`` (an int field the
    subclass declares) must be below ``slow``."""

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        fast, slow = getattr(self, "fast"), getattr(self, "slow")  # noqa: B009
        if fast >= slow:
            raise ValueError(f"fast={fast} must be below slow={slow}")
        return self


@dataclass(frozen=True, slots=True)
class ParamBound:
    """The inclusive range of one param, for searches: ``ParamBound(2, 500, "int")``.

    ``low`` and ``high`` are ints for an ``int`` param; a ``bool`` param spans ``0``
    (False) to ``1`` (True).
    """

    low: float
    high: float
    kind: ParamKind

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in ``[low, high]``."""
        return self.low <= value <= self.high


class SignalArrays(NamedTuple):
    """What :meth:`Strategy.signal_arrays` returns; unpacks as ``direction, confidence``.

    Both have the shape of the input arrays: ``direction`` int8 in {-1, 0, 1},
    ``confidence`` float64 in [0, 1], 0 where ``direction`` is 0.
    """

    direction: Int8Array
    confidence: FloatArray


P = TypeVar("P", bound=StrategyParams)


class Strategy(ABC, Generic[P]):
    """A trading strategy: ``name``, ``params`` and a vectorised signal computation.

    Subclasses set the class attributes ``name`` and ``params_type`` and implement
    :attr:`warmup` and :meth:`_signals`; everything else (argument checks, the warm-up,
    the output contract, the DataFrame wrapper) lives here, once.

    Parameters
    ----------
    params
        A ``params_type`` instance, a mapping of its fields, or ``None`` for the
        defaults.

    Raises
    ------
    ConfigurationError
        A param is unknown or outside its range; the message names it and the range.

    Example: ``SmaCrossoverStrategy({"fast": 10, "slow": 20}).signals(bars)``.
    """

    name: ClassVar[str]
    params_type: ClassVar[type[StrategyParams]]
    streams: ClassVar[bool] = False
    """Whether :meth:`signal_arrays` keeps the rule of :mod:`components.stream` (it looks
    back in time only through the carrying building blocks), so the engine can update
    its signals bar by bar with a :class:`~components.stream.Stream`; otherwise the
    engine recomputes them over its whole window every cycle."""

    def __init__(self, params: P | Mapping[str, Any] | None = None) -> None:
        self.params: P = self._build_params(params)

    # --- what subclasses provide ---------------------------------------------------------

    @property
    @abstractmethod
    def warmup(self) -> int:
        """Bars needed for a signal: with fewer, there is none. ``direction`` is 0 at every
        index below ``warmup - 1``, and the last of ``warmup`` bars can carry a signal."""

    @abstractmethod
    def _signals(
        self,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> tuple[npt.NDArray[Any], FloatArray]:
        """Raw direction and confidence from 2-D (symbols x time) float64 arrays.

        :meth:`signal_arrays` then applies the warm-up and the output contract.
        """

    # --- the one signal path ---------------------------------------------------------------

    def signal_arrays(
        self,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> SignalArrays:
        """Direction and confidence per bar from OHLCV arrays: the fast path.

        Parameters
        ----------
        open, high, low, close, volume
            Finite prices and volumes, all of one shape: 1-D (time) or 2-D
            (symbols x time, each row an independent series).

        Returns
        -------
        SignalArrays
            ``direction`` (int8 in {-1, 0, 1}) and ``confidence`` (float64 in [0, 1]),
            each the shape of the input.

        Raises
        ------
        DataError
            The arrays differ in shape or are not 1-D or 2-D.

        Example: ``direction, confidence = strategy.signal_arrays(o, h, l, c, v)``.
        """
        arrays = [np.asarray(a, dtype=np.float64) for a in (open, high, low, close, volume)]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            detail = ", ".join(f"{n}{a.shape}" for n, a in zip(BAR_COLUMNS, arrays, strict=True))
            raise DataError(f"{self.name}: OHLCV arrays must have one shape, got {detail}")
        ndim = arrays[0].ndim
        if ndim not in (1, 2):
            raise DataError(
                f"{self.name}: OHLCV arrays must be 1-D (time) or 2-D (symbols x time), "
                f"got shape {arrays[0].shape}"
            )
        if arrays[0].shape[-1] == 0:  # no bars, no signals (and no indicator calls)
            shape = arrays[0].shape
            return SignalArrays(np.zeros(shape, dtype=np.int8), np.zeros(shape))
        o, h, lo, c, v = (a[np.newaxis, :] if ndim == 1 else a for a in arrays)
        raw_direction, raw_confidence = self._signals(o, h, lo, c, v)
        direction, confidence = enforce_contract(raw_direction, raw_confidence, self.warmup)
        if ndim == 1:
            return SignalArrays(direction[0], confidence[0])
        return SignalArrays(direction, confidence)

    @classmethod
    def signal_grid(
        cls,
        strategies: Sequence[Strategy[Any]],
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
        *,
        with_confidence: bool = True,
    ) -> SignalArrays:
        """The signals of many parameter sets of this strategy over one series: each row
        (sets x time) equals ``strategies[i].signal_arrays(...)`` on the 1-D arrays.

        This default makes one call per set; a strategy whose sets share indicators
        overrides it to compute each distinct indicator once for all sets. Without
        ``with_confidence`` the caller sizes without it and must not read it: a strategy
        may then return a read-only placeholder (``np.broadcast_to(1.0, shape)``) instead
        of computing it.

        Example: ``SmaCrossoverStrategy.signal_grid([s1, s2], o, h, l, c, v).direction``.
        """
        rows = [s.signal_arrays(open, high, low, close, volume) for s in strategies]
        return SignalArrays(
            np.vstack([r.direction for r in rows]), np.vstack([r.confidence for r in rows])
        )

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Per-bar ``direction`` (int8) and ``confidence`` (float64), indexed like ``bars``.

        ``bars`` follows the contract in :mod:`components.market.base` (columns ``open,
        high, low, close, volume``). A thin wrapper over :meth:`signal_arrays`.

        Example: ``strategy.signals(bars).iloc[-1]`` is the signal of the last bar.
        """
        missing = [c for c in BAR_COLUMNS if c not in bars.columns]
        if missing:
            raise DataError(
                f"{self.name}: bars have no {', '.join(map(repr, missing))} column "
                f"(needed: {', '.join(BAR_COLUMNS)})"
            )
        columns = [bars[c].to_numpy(dtype=np.float64) for c in BAR_COLUMNS]
        direction, confidence = self.signal_arrays(*columns)
        return pd.DataFrame({"direction": direction, "confidence": confidence}, index=bars.index)

    # --- params ---------------------------------------------------------------------------------

    def with_params(self, **changes: Any) -> Self:
        """A new strategy of this kind with some params changed; this one is unchanged.

        Example: ``momentum.with_params(lookback=40)``.
        """
        return type(self)({**self.params.model_dump(), **changes})

    @classmethod
    def param_bounds(cls) -> dict[str, ParamBound]:
        """Each param's inclusive range and kind, in declaration order.

        Example: ``MomentumStrategy.param_bounds()["lookback"]`` -> ``ParamBound(2, 500, "int")``.
        """
        bounds: dict[str, ParamBound] = {}
        for field_name, field in cls.params_type.model_fields.items():
            kind: ParamKind
            if field.annotation is bool:
                bounds[field_name] = ParamBound(0, 1, "bool")
                continue
            if field.annotation is int:
                kind = "int"
            elif field.annotation is float:
                kind = "float"
            else:
                raise TypeError(
                    f"{cls.__name__}: param {field_name!r} must be int, float or bool, "
                    f"not {field.annotation!r}"
                )
            low = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
            high = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
            if low is None or high is None:
                raise TypeError(
                    f"{cls.__name__}: param {field_name!r} needs Field(ge=..., le=...) bounds"
                )
            lo, hi = float(cast(float, low)), float(cast(float, high))
            if kind == "int":
                bounds[field_name] = ParamBound(int(lo), int(hi), kind)
            else:
                bounds[field_name] = ParamBound(lo, hi, kind)
        return bounds

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "params_type" in cls.__dict__:
            cls.param_bounds()  # fail at import, not in the middle of a search

    def _build_params(self, params: P | Mapping[str, Any] | None) -> P:
        model = self.params_type
        if params is None:
            params = {}
        if isinstance(params, model):
            return params
        if not isinstance(params, Mapping):
            raise ConfigurationError(
                f"{self.name}: params must be a {model.__name__} or a mapping, "
                f"not {type(params).__name__}"
            )
        try:
            return cast(P, model.model_validate(dict(params)))
        except ValidationError as exc:
            raise ConfigurationError(describe_params_error(type(self), exc)) from None

    # --- identity ---------------------------------------------------------------------------------

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{self.name}({values})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and cast(Strategy[Any], other).params == self.params

    def __hash__(self) -> int:
        return hash((type(self), self.params))


def describe_params_error(strategy: type[Strategy[Any]], exc: ValidationError) -> str:
    """One line per bad param, naming the strategy, the param, the value and the range.

    Example: ``"momentum: lookback=1 is invalid: Input should be greater than or equal
    to 2 (allowed 2..500)"``.
    """
    bounds = strategy.param_bounds()
    known = ", ".join(bounds)
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            lines.append(f"unknown param {field!r} (params of {strategy.name}: {known})")
        elif not field:
            lines.append(message)
        else:
            line = f"{field}={error.get('input')!r} is invalid: {message}"
            bound = bounds.get(field)
            if bound is not None and bound.kind != "bool":
                line += f" (allowed {_number(bound.low)}..{_number(bound.high)})"
            lines.append(line)
    return f"{strategy.name}: " + "; ".join(lines)


def _number(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and value == int(value) else f"{value:g}"


def enforce_contract(
    raw_direction: npt.NDArray[Any],
    raw_confidence: FloatArray | None,
    warmup: int | npt.NDArray[np.int64],
) -> tuple[Int8Array, FloatArray]:
    """int8 direction in {-1, 0, 1}, 0 before ``warmup - 1``; confidence in [0, 1], 0
    where the direction is 0, never NaN (``None``: 1 wherever the direction is not 0).
    ``warmup`` may be one per row (a grid's sets)."""
    raw = np.asarray(raw_direction)
    if raw.dtype.kind == "f":
        raw = np.nan_to_num(raw, nan=0.0)
    direction = np.sign(raw).astype(np.int8)
    if isinstance(warmup, int | np.integer):
        direction[..., bar_index(direction.shape[-1]) < warmup - 1] = 0
    else:  # one warm-up per row (a grid's parameter sets)
        early = bar_index(direction.shape[-1]) < (np.asarray(warmup) - 1)[:, np.newaxis]
        direction[early] = 0
    if raw_confidence is None:
        return direction, np.abs(direction).astype(np.float64)
    confidence = np.nan_to_num(raw_confidence.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(confidence, 0.0, 1.0, out=confidence)
    confidence[direction == 0] = 0.0
    return direction, confidence
