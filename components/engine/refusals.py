"""The refusals the engine has announced, so that each is announced once.

The engine derives the same order intent (the same client order id) on every cycle until
its signal's bar passes, and a rule that refuses it once usually refuses it again. A
refusal is announced (one ``order.rejected``) when it first happens, and again only when
its reason changes: another rule, or the same rule for another cause. Figures in the
reason (equity, exposure, a notional) move every cycle and are not a new cause.

Storage (under the namespace ``ns``)::

    ns:engine:refusals    hash: client order id -> reason key, the refusals standing
                          after the last cycle that placed orders

A relaunched engine reads it, so a relaunch announces nothing twice either. An intent
that is not refused in a cycle (approved, or no longer derived) leaves the hash, so it
holds only the refusals of one cycle.

>>> refusals = StandingRefusals(client, namespace="qt")
>>> [d.intent.client_order_id for d in refusals.news(denials)]
['trend:BTC/USDT:20260302T0005:open']
>>> refusals.stand(denials)  # once announced
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import redis

from components.redis import namespaced
from components.risk.decision import RiskDecision

_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")


def reason_key(decision: RiskDecision) -> str:
    """The cause of a refusal: its rule and its reason with every figure blanked.

    >>> reason_key(decision)  # "notional 12.50 is below the minimum 25.00"
    'min_notional:notional # is below the minimum #'
    """
    check = decision.check.value if decision.check is not None else ""
    return f"{check}:{_FIGURE.sub('#', decision.reason)}"


class StandingRefusals:
    """Which of a cycle's refusals are news; see the module docstring."""

    def __init__(self, client: redis.Redis, *, namespace: str) -> None:
        self._r: Any = client  # redis-py types responses as unions; this client decodes
        self.key = namespaced(namespace, "engine", "refusals")
        self._standing: dict[str, str] | None = None  # read once, then kept here

    def news(self, denials: Sequence[RiskDecision]) -> list[RiskDecision]:
        """The denials of this cycle to announce, in their order: those whose intent was
        not refused for the same reason by the previous cycle.

        Raises
        ------
        redis.RedisError
            Redis cannot be reached (the engine's cycle turns it into a TemporaryError).
        """
        if self._standing is None:
            self._standing = dict(self._r.hgetall(self.key))
        standing = self._standing
        return [d for d in denials if standing.get(d.intent.client_order_id) != reason_key(d)]

    def stand(self, denials: Sequence[RiskDecision]) -> None:
        """Record ``denials``, every denial of this cycle, as the refusals standing now.
        Called once they are announced: a crash in between announces them again rather
        than never."""
        standing = {d.intent.client_order_id: reason_key(d) for d in denials}
        if standing == self._standing:
            return
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(self.key)
        if standing:
            pipe.hset(self.key, mapping=standing)
        pipe.execute()
        self._standing = standing
