"""Shadow trading: strategies on trial trade on paper, with paper capital of their own.

A strategy in ``strategy_states`` as ``shadow`` never places a real order. The engine
hands its signals (as the orchestrator chose them) to the :class:`ShadowBook`, which
keeps one paper account per shadow strategy in its own namespace,
``<namespace>:shadow:<strategy>``: the same Ledger, PaperBroker, :class:`IntentPlanner`
(sizing) and next-bar fills
as the real account, so what a shadow strategy would have earned is measured exactly the
way its live trading would be. Analytics on that namespace gives its record for the
promotion review.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

import pandas as pd
import redis

from components.engine.intents import IntentPlanner
from components.execution import BarUpdate, BrokerConfig, CostModel, Ledger, PaperBroker
from components.policy.model import GlobalPolicy
from components.trading.types import Signal

log = logging.getLogger(__name__)


def shadow_namespace(namespace: str, strategy: str) -> str:
    """Where the paper account of shadow ``strategy`` lives: inside its owner's namespace
    (every key under ``<namespace>:``), so it goes wherever the namespace goes."""
    return f"{namespace}:shadow:{strategy}"


class ShadowBook:
    """Paper accounts of the shadow strategies (see the module docstring).

    >>> book = ShadowBook(client, namespace="qt", capital=10_000, planner=planner)
    >>> book.trade(shadow_signals, bars, atrs, entry_atrs, policy, now, ["sma_cross"])
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        capital: float,
        planner: IntentPlanner,
        cost_model: CostModel | None = None,
        broker_config: BrokerConfig | None = None,
        stream_maxlen: int = 100_000,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.capital = capital
        self.planner = planner
        self.cost_model = cost_model or CostModel()
        self.broker_config = broker_config or BrokerConfig(source="shadow")
        self.stream_maxlen = stream_maxlen
        self._brokers: dict[str, PaperBroker] = {}

    def broker(self, strategy: str) -> PaperBroker:
        if strategy not in self._brokers:
            ledger = Ledger(
                self.client,
                namespace=shadow_namespace(self.namespace, strategy),
                initial_cash=self.capital,
                stream_maxlen=self.stream_maxlen,
                source=f"shadow:{strategy}",
            )
            ledger.initialize()
            self._brokers[strategy] = PaperBroker(ledger, self.cost_model, self.broker_config)
        return self._brokers[strategy]

    def trade(
        self,
        signals: list[Signal],
        bars: Mapping[str, pd.DataFrame],
        atrs: Mapping[str, float | None],
        entry_atrs: Mapping[str, float | None],
        policy: GlobalPolicy,
        now: datetime,
        strategies: list[str],
    ) -> int:
        """Fill what the newest bars fill in each shadow account, then place the orders
        its signals ask for; returns the number of orders placed. ``atrs`` are the ATRs
        through the newest bars, ``entry_atrs`` those through the bars before (see
        :class:`~components.execution.broker.BarUpdate`)."""
        by_strategy: dict[str, list[Signal]] = {name: [] for name in strategies}
        for signal in signals:
            by_strategy.setdefault(signal.strategy, []).append(signal)
        placed = 0
        for strategy, chosen in by_strategy.items():
            broker = self.broker(strategy)
            ledger = broker.ledger
            active = set(ledger.positions()) | {o.symbol for o in ledger.open_orders()}
            broker.on_bars(
                [
                    BarUpdate(
                        symbol,
                        frame.iloc[-1],
                        frame.index[-1].to_pydatetime(),
                        atr=atrs.get(symbol),
                        entry_atr=entry_atrs.get(symbol),
                    )
                    for symbol in sorted(active | {s.symbol for s in chosen})
                    if (frame := bars.get(symbol)) is not None
                ]
            )
            # only the symbols this account holds: a bars mapping may make frames on demand
            held = {s: f for s in active if (f := bars.get(s)) is not None}
            marks = {s: float(f["close"].iloc[-1]) for s, f in held.items()}
            portfolio = ledger.snapshot(marks)
            for intent, _ in self.planner.plan(chosen, portfolio, policy, now):
                if broker.submit(intent).accepted:
                    placed += 1
        return placed
