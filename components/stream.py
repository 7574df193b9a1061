"""Incremental evaluation: the same vectorised functions, over a series that grows.

A :class:`Stream` runs a function of (symbols x time) arrays (a strategy's
``signal_arrays``, an indicator) over a series one chunk of new bars at a time, and gives,
bit for bit, what one call over the whole series gives for those bars::

    stream = Stream(strategy.signal_arrays)
    first = stream.update(o, h, l, c, v)          # the first 300 bars: a full computation
    latest = stream.update(o2, h2, l2, c2, v2)    # one new bar: O(symbols) work

    # equal to strategy.signal_arrays(all 301 bars)[:, 300:]

No second implementation is involved. The indicators and strategy helpers are built from
a few *carrying* building blocks (:func:`components.indicators.lag`, running sums,
recursive averages, trailing windows, forward fills, and :func:`bar_index` for "from bar
k on"). Outside a stream each computes over the whole array as it always did; inside
:meth:`Stream.update` each takes the next slot of the stream's tape, where it finds what
it kept of the past (the last few values, a running total, an average's state) and
leaves what the next chunk will need. The backtester calls the functions once over all
bars; the engine calls them through a stream: one code path.

The rule for code that streams: look back in time only through those building blocks
(never ``x[:, :-1]``, ``np.cumsum`` or ``np.maximum.accumulate`` along time directly),
and call them in the same order on every call. A tape that finds a different building
block in a slot than on the first chunk raises, so a function that breaks the order
fails loudly rather than drifting. Strategies declare that they keep the rule with
``Strategy.streams = True``, and a property test checks every such strategy.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from components.errors import DataError

T = TypeVar("T")


@dataclass
class _Tape:
    slots: list[dict[str, Any]]
    offset: int  # the time index of the chunk's first column in the whole series
    position: int = 0


_TAPE: ContextVar[_Tape | None] = ContextVar("quantum_trader_stream_tape", default=None)


def carried(kind: str) -> dict[str, Any] | None:
    """The state the calling building block kept at this point of the function on the last
    chunk (an empty dict on the first one), to read and update; ``None`` outside a stream.

    Raises
    ------
    DataError
        The function called its building blocks in another order than before.
    """
    tape = _TAPE.get()
    if tape is None:
        return None
    if tape.position == len(tape.slots):
        tape.slots.append({"kind": kind})
    slot = tape.slots[tape.position]
    if slot["kind"] != kind:
        raise DataError(
            f"a streamed function called {kind} where it called {slot['kind']} before: "
            "building blocks must be called in the same order on every chunk"
        )
    tape.position += 1
    return slot


def streaming() -> bool:
    """Whether the caller runs inside :meth:`Stream.update` (a building block may take a
    quicker way when it has the whole series, if it gives the same numbers)."""
    return _TAPE.get() is not None


def bar_index(length: int) -> npt.NDArray[np.int64]:
    """The time index of each of the ``length`` columns being computed in the whole series:
    ``0 .. length - 1`` outside a stream, later ones for later chunks.

    Example: ``direction[:, bar_index(n) < warmup - 1] = 0``.
    """
    tape = _TAPE.get()
    offset = 0 if tape is None else tape.offset
    return np.arange(offset, offset + length, dtype=np.int64)


@dataclass
class Stream(Generic[T]):
    """``fn`` over a (rows x time) series given chunk by chunk (see the module docstring).

    Every array given to one :meth:`update` has the same shape, (rows, new bars); the
    rows stay the same from one update to the next.

    Example: ``Stream(lambda h, l, c: atr(h, l, c, 14)).update(high, low, close)``.
    """

    fn: Callable[..., T]
    bars: int = 0
    rows: int | None = None
    _slots: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def update(self, *arrays: npt.NDArray[Any]) -> T:
        """``fn`` of the new bars, as part of the whole series so far.

        Raises
        ------
        DataError
            The arrays are not 2-D of one shape, or their rows changed.
        """
        shapes = {np.shape(a) for a in arrays}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise DataError(f"a stream takes 2-D arrays of one shape, got {sorted(shapes)}")
        rows, length = next(iter(shapes))
        if self.rows is not None and rows != self.rows:
            raise DataError(f"a stream of {self.rows} rows was given {rows}")
        kept = [dict(slot) for slot in self._slots]  # blocks replace state, never mutate it
        token = _TAPE.set(_Tape(self._slots, self.bars))
        try:
            result = self.fn(*arrays)
        except BaseException:
            self._slots[:] = kept  # a failed update leaves the stream as it was
            raise
        finally:
            _TAPE.reset(token)
        self.rows = rows
        self.bars += length
        return result
