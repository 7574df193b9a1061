"""After an exit, no re-entry on the same signal.

A stop-loss, take-profit or trailing stop that closes a position ends the trade; the
strategy's signal usually still points the same way on the next bar. Opening again then
would undo the exit a bar later (a stop followed by a buy back). So, as the backtester
does (:mod:`components.backtest.simulation`: "after an exit the account stays flat until
the signal changes again"), the engine latches each (strategy, symbol) whose position an
exit closed, with the side it held, and refuses to open that side again until the
strategy's signal on that symbol leaves it.

Storage (under the namespace ``ns``)::

    ns:engine:exited    hash: JSON [strategy, symbol] -> the side (+1/-1) the exit closed

A relaunched engine reads it, so a restart does not re-enter either. A latch whose
strategy no longer runs is dropped.

>>> latches = ExitLatches(client, namespace="qt")
>>> latches.remember(fills)             # the broker's fills of this cycle
>>> latches.release(lambda strategy, symbol: signal_now(strategy, symbol))
>>> [s for s in signals if not latches.holds(s.strategy, s.symbol, s.direction)]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import redis

from components.execution.models import Fill, FillReason
from components.redis import namespaced


class ExitLatches:
    """The (strategy, symbol) pairs waiting for their signal to change; see the module
    docstring."""

    def __init__(self, client: redis.Redis, *, namespace: str) -> None:
        self._r: Any = client  # redis-py types responses as unions; this client decodes
        self.key = namespaced(namespace, "engine", "exited")
        self._latched: dict[tuple[str, str], int] | None = None  # read once, then kept here

    def _all(self) -> dict[tuple[str, str], int]:
        if self._latched is None:
            self._latched = {}
            for field, side in self._r.hgetall(self.key).items():
                strategy, symbol = json.loads(field)
                self._latched[(strategy, symbol)] = int(side)
        return self._latched

    def remember(self, fills: Iterable[Fill]) -> None:
        """Latch the position each exit fill (not an order's) closed."""
        closed = {
            (fill.strategy, fill.symbol): -fill.side.sign
            for fill in fills
            if fill.reason is not FillReason.ORDER and fill.strategy is not None
        }
        if closed:
            self._all().update(closed)
            self._r.hset(self.key, mapping={json.dumps(list(k)): v for k, v in closed.items()})

    def release(self, direction: Callable[[str, str], int | None]) -> None:
        """Drop the latches whose strategy's signal on the symbol is no longer the side it
        exited (``direction(strategy, symbol)``: the signal now, or None when that
        strategy no longer trades the symbol)."""
        latched = self._all()
        gone = [key for key, side in latched.items() if direction(*key) != side]
        if gone:
            for key in gone:
                del latched[key]
            self._r.hdel(self.key, *(json.dumps(list(key)) for key in gone))

    def holds(self, strategy: str, symbol: str, direction: int) -> bool:
        """Whether opening ``direction`` for ``strategy`` on ``symbol`` must wait."""
        return direction != 0 and self._all().get((strategy, symbol)) == direction
