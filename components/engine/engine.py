"""The trading engine: one cycle from market data to orders, and nothing else.

Each :meth:`TradingEngine.run_cycle` at market time ``now``:

1. reads the policy (only when its version moved); if it cannot be read the cycle places
   no new order and says so (fail closed);
2. reads the closed bars of every symbol in the active universe or holding a position; a
   symbol with bad bars is skipped with the reason, the others go on;
3. lets the broker fill what the newest bar fills (stops, and orders its open did not);
4. values the ledger at the last closes and lets the Emergency Stop evaluate it; while
   HALTED the engine only cancels (and flattens, if configured);
5. asks every allowed and every shadow strategy for its signal on the last closed bar,
   lets the orchestrator policy choose among them, turns the chosen ones into order
   intents (sized by the Trading Mathematician) and adds the position-management actions
   (close, reduce, trail the stop). A position an exit closed (stop-loss, take-profit,
   trailing stop) is not opened again until its strategy's signal changes, as in the
   backtester (:mod:`components.engine.reentry`);
6. puts each intent through the RiskGuard, then the Emergency Stop, and only then the
   broker; a refusal publishes ``order.rejected`` once, not again each cycle the same
   intent is refused for the same reason (:mod:`components.engine.refusals`), with the
   signal's id as its correlation id;
7. fills the orders just placed at the open of the bar forming now, when the market can
   tell it (:meth:`~components.market.base.MarketData.bar_opens`): the price the
   backtester fills at, seen now rather than when that bar closes;
8. writes a heartbeat.

Client order ids are derived from the decision (strategy, symbol, signal bar, action), so
a restarted engine that re-derives the same decision finds the id already taken and
places nothing twice. Everything the engine knows lives in Redis (ledger, ESS, policy),
so a new engine object continues where the last one stopped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
import redis
from pydantic import BaseModel, ConfigDict, Field, computed_field

from components.clock import Clock
from components.engine.config import EngineConfig, OrchestratorConfig
from components.engine.heartbeat import HeartbeatWriter, read_heartbeat
from components.engine.intents import NO_SHORTS, IntentPlanner
from components.engine.orchestrator import may_enter, select_signals, settle_entries
from components.engine.reentry import ExitLatches
from components.engine.refusals import StandingRefusals
from components.engine.shadow import ShadowBook
from components.engine.signals import BookUpdate, SignalBook
from components.errors import QuantumTraderError, TemporaryError
from components.events.bus import EventBus
from components.execution import (
    Bar,
    BarOpen,
    BarUpdate,
    Broker,
    Fill,
    Ledger,
    PositionAction,
    assess_positions,
)
from components.health.status import HealthStore
from components.market.base import MarketData
from components.market.block import BarBlock, BlockRead, read_blocks
from components.market.validation import timeframe_delta
from components.monitoring import Telemetry
from components.pal import PalConfig
from components.pal.book import PalBook
from components.pal.orders import PalManager
from components.policy.model import GlobalPolicy, StrategyState
from components.policy.store import PolicyStore
from components.portfolio import PortfolioBalancer
from components.risk.decision import RiskCheck, RiskDecision, publish_rejection
from components.risk.emergency import EmergencyStop, EssState, EssStatus
from components.risk.guard import RiskGuard
from components.settings import ModuleMode
from components.strategies import Strategy, create_strategy
from components.trading.types import OrderIntent, PortfolioView, PositionView, Side, Signal

log = logging.getLogger(__name__)

StrategyResolver = Callable[[str], Strategy[Any] | None]


class OrderOutcome(BaseModel):
    """What became of one intent this cycle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    strategy: str | None
    outcome: Literal["submitted", "duplicate", "denied", "rejected_by_broker"]
    check: str | None = None
    reason: str = ""


RULES_IN_WORDS = {
    "min_confidence": "below the policy's minimum confidence",
    "universe": "outside the active universe",
    "conflict": "strategies disagree on the symbol",
    "superseded": "another strategy's signal won on the symbol",
    "not_allowed": "strategy not allowed in this regime",
    "blocked": "strategy blocked",
    "retired": "strategy retired",
    "stop_all_trading": "the policy stops all trading",
    "emergency": "the policy's emergency is active",
}
"""The orchestrator's rules (see :mod:`components.engine.orchestrator`) as
:attr:`CycleReport.waiting_for` says them to a person."""


class CycleReport(BaseModel):
    """One cycle: what the engine saw, decided and did, and how long it took."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cycle: int
    at: datetime
    policy_version: int | None
    ess_state: EssState | None
    fail_closed: str | None = Field(None, description="Why no new order was placed, if so.")
    symbols: int = 0
    skipped: dict[str, str] = Field(default_factory=dict)
    fills: int = 0
    signals: int = 0
    accepted: int = 0
    strategies: list[str] = Field(
        default_factory=list, description="The strategies that looked for entries (not shadow)."
    )
    shadow: int = 0
    shadow_orders: int = Field(0, description="Orders placed in shadow paper accounts.")
    pal: int = Field(0, description="Profit Amplification Layer actions (observing: ideas).")
    orders: list[OrderOutcome] = Field(default_factory=list)
    unplaced: dict[str, int] = Field(
        default_factory=dict,
        description="Why accepted signals made no order: reason -> how many signals.",
    )
    not_accepted: dict[str, int] = Field(
        default_factory=dict,
        description="Why the other signals were not accepted: orchestrator rule -> how many.",
    )
    equity: float | None = None
    cash: float | None = None
    positions: int = 0
    duration_ms: float = 0.0

    @property
    def submitted(self) -> int:
        return sum(1 for order in self.orders if order.outcome == "submitted")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def waiting_for(self) -> str | None:
        """Why the account holds no position after this cycle, in a few words for a person
        watching (`up`'s status line); None once it holds one or an order was placed.

        Why no new order could be placed when the cycle failed closed; else the reason
        most signals gave (``"2 signals: below the policy's minimum confidence"``); else,
        when no strategy signalled at all, that the strategies allowed are waiting for
        their entry rule on every symbol (``"no setup for mean_reversion on 4 symbols"``).
        """
        if self.fail_closed:
            return self.fail_closed
        if self.positions or self.submitted:
            return None
        reasons = Counter(self.not_accepted) + Counter(self.unplaced)
        if reasons:
            reason, n = min(reasons.items(), key=lambda item: (-item[1], item[0]))
            return f"{n} signal{'s' if n != 1 else ''}: {RULES_IN_WORDS.get(reason, reason)}"
        if not self.strategies:
            return "no strategy allowed"
        return f"no setup for {', '.join(self.strategies)} on {self.symbols} symbols"

    def summary(self) -> str:
        if self.fail_closed:
            return f"cycle {self.cycle}: no new orders ({self.fail_closed})"
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        equity = f", equity {self.equity:,.2f}" if self.equity is not None else ""
        return (
            f"cycle {self.cycle} at {self.at:%Y-%m-%d %H:%M}: {self.symbols} symbols{skipped}, "
            f"{self.fills} fills, {self.signals} signals ({self.accepted} accepted, "
            f"{self.shadow} shadow, {self.shadow_orders} shadow orders), {self.submitted} orders, "
            f"{len(self.orders) - self.submitted} refused or duplicate, "
            f"{self.positions} positions{equity}, ESS {self.ess_state}{self._why_no_order()}"
        )

    def _why_no_order(self) -> str:
        if not self.signals and not self.positions:
            return f"; {self.waiting_for}"
        text = ""
        for title, counts in (
            ("not accepted", self.not_accepted),
            ("no order for accepted signals", self.unplaced),
        ):
            if counts:
                reasons = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
                text += f"; {title}: " + ", ".join(f"{n} {reason}" for reason, n in reasons)
        return text


def registry_resolver(name: str) -> Strategy[Any] | None:
    """The built-in strategy called ``name``, or None when there is none."""
    try:
        return create_strategy(name)
    except QuantumTraderError:
        return None


class TradingEngine:
    """One trading cycle at a time; see the module docstring.

    >>> engine = build_engine(settings, market)  # components.engine.factory
    >>> engine.run_cycle(0).summary()
    """

    def __init__(
        self,
        *,
        client: redis.Redis,
        namespace: str,
        market: MarketData,
        store: PolicyStore,
        ledger: Ledger,
        broker: Broker,
        ess: EmergencyStop,
        guard: RiskGuard,
        planner: IntentPlanner,
        bus: EventBus | None = None,
        config: EngineConfig | None = None,
        orchestrator: OrchestratorConfig | None = None,
        resolve_strategy: StrategyResolver = registry_resolver,
        shadow_book: ShadowBook | None = None,
        balancer: PortfolioBalancer | None = None,
        balancer_mode: ModuleMode = ModuleMode.ENFORCED,
        pal: PalConfig | None = None,
        wall_clock: Clock | None = None,
    ) -> None:
        self._r: Any = client
        self.namespace = namespace
        self.market = market
        self.store = store
        self.ledger = ledger
        self.broker = broker
        self.ess = ess
        self.guard = guard
        self.planner = planner
        self.bus = bus
        self.config = config or EngineConfig()
        self.orchestrator = orchestrator or OrchestratorConfig()
        self.resolve_strategy = resolve_strategy
        self.shadow_book = shadow_book
        self.balancer = balancer
        self.balancer_mode = balancer_mode
        self.pal = PalManager(pal or PalConfig(), PalBook(client, namespace=namespace))
        self.health = HealthStore(client, namespace=namespace)
        self.heartbeat = HeartbeatWriter(client, namespace, clock=wall_clock)
        self.refusals = StandingRefusals(client, namespace=namespace)
        self.exits = ExitLatches(client, namespace=namespace)
        self._telemetry = Telemetry(client, namespace=namespace)
        self._policy: GlobalPolicy | None = None
        self._strategies: dict[str, Strategy[Any] | None] = {}
        self._running: list[tuple[str, Strategy[Any]]] = []  # as the last policy read said
        self._books: dict[tuple[str, ...], SignalBook] = {}
        self._bar = timeframe_delta(self.config.timeframe).to_pytimedelta()

    # --- the cycle ----------------------------------------------------------------------
    def run_cycle(self, cycle: int) -> CycleReport:
        """Run one cycle (see the module docstring).

        Raises
        ------
        TemporaryError
            Redis cannot be reached: nothing was placed; the caller may try again.
        """
        try:
            return self._run_cycle(cycle)
        except (redis.RedisError, TemporaryError) as exc:
            raise TemporaryError(f"{exc}; no order was placed this cycle") from None

    def _run_cycle(self, cycle: int) -> CycleReport:
        started = time.perf_counter()
        now = self.market.now()
        policy, fail_closed = self._read_policy()
        positions = self.ledger.positions()
        universe = set(policy.active_universe) if policy is not None else set()
        symbols = sorted(universe | set(positions))
        read = self._read(symbols, now)
        blocks = read.blocks
        if policy is not None:
            self._running = self._strategies_of(policy)
        books = self._update_books(blocks, dict(self._running))
        atrs = {
            s: a for block, book in books for s, a in zip(block.symbols, book.atrs, strict=True)
        }

        fills = self.broker.on_bars(_newest_bars(books))
        self.exits.remember(fills)
        marks = {
            symbol: float(close)
            for block in blocks
            for symbol, close in zip(block.symbols, block.last("close"), strict=True)
        }
        positions = self.ledger.positions() if fills else positions
        portfolio = self.ledger.snapshot(marks)

        newest = max((int(block.times[-1]) for block in blocks), default=None)
        last_data_at = _time(newest) + self._bar if newest is not None else None
        health = self.health.get()
        self.ess.evaluate(
            equity=portfolio.equity,
            now=now,
            last_data_at=last_data_at,
            health=health.status.value if health is not None else None,
            closed_trades=self.ledger.closed_positions(limit=100),
        )
        status = self.ess.status()
        report = dict(
            cycle=cycle,
            at=now,
            policy_version=policy.version if policy else None,
            ess_state=status.state,
            symbols=len(marks),
            skipped=read.skipped,
            fills=len(fills),
            equity=portfolio.equity,
            cash=portfolio.cash,
            positions=len(portfolio.positions),
        )

        orders: list[OrderOutcome] = []
        if status.state is EssState.HALTED:
            orders = self._halt(portfolio, status)
            fail_closed = fail_closed or f"ESS HALTED: {status.reason}"
        elif policy is not None:
            self.exits.release(lambda strategy, symbol: _direction(books, strategy, symbol))
            signals, chosen, unsure, settled, unopened = self._signals(
                policy, books, atrs, portfolio
            )
            not_accepted = Counter(reason.split(":", 1)[0] for _, reason in chosen.dropped)
            not_accepted.update(settled)
            if unsure:
                not_accepted["min_confidence"] += unsure
            unplaced: Counter[str] = Counter()
            for strategy, symbol, direction in unopened:  # no position: not open, or latched
                latched = self.exits.holds(strategy, symbol, direction)
                unplaced[REENTRY_LATCHED if latched else NO_SHORTS] += 1
            accepted = []
            for s in chosen.accepted:
                if s.symbol in portfolio.positions or not self.exits.holds(
                    s.strategy, s.symbol, s.direction
                ):
                    accepted.append(s)
                else:
                    unplaced[REENTRY_LATCHED] += 1
            plan = self.planner.plan_all(accepted, portfolio, policy, now)
            unplaced.update(reason for _, reason in plan.unplaced)
            intents = list(plan.intents)
            from_signals = {intent.client_order_id for intent, _ in intents}
            if self.config.manage_positions:
                intents += self._manage(positions, marks, atrs, now)
            closing = {intent.symbol for intent, _ in intents if intent.reduce_only}
            managed = {s: p for s, p in positions.items() if s not in closing}
            intents += self._amplify(policy, managed, marks, atrs, now, report)
            intents += self._rebalance(policy, portfolio, marks, now)
            orders = self._place(intents, portfolio, policy, status)
            unplaced.update(
                _refused(order)
                for order in orders
                if order.client_order_id in from_signals and order.outcome != "submitted"
            )
            shadow_orders = self._shadow(chosen.shadow, read.frames(), atrs, books, policy, now)
            report.update(
                strategies=[
                    name
                    for name, _ in self._running
                    if policy.strategy_states.get(name) is not StrategyState.SHADOW
                ],
                signals=signals,
                accepted=len(chosen.accepted) + len(unopened),
                shadow=len(chosen.shadow),
                shadow_orders=shadow_orders,
                unplaced=dict(unplaced),
                not_accepted=dict(not_accepted),
            )

        opened = self._fill_at_open(orders, blocks, atrs, now)
        if opened:
            self.exits.remember(opened)
            portfolio = self.ledger.snapshot(marks)
            report.update(
                fills=len(fills) + len(opened),
                equity=portfolio.equity,
                cash=portfolio.cash,
                positions=len(portfolio.positions),
            )

        result = CycleReport(
            **report,
            orders=orders,
            fail_closed=fail_closed,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        self.heartbeat.write(
            cycle=cycle,
            market_at=now,
            report=result.model_dump_json(exclude={"orders", "skipped"}),
        )
        self._telemetry.record_cycle(
            at=now,
            seconds=result.duration_ms / 1000,
            equity=result.equity,
            cash=result.cash,
            marks=marks,
        )
        log.info(result.summary())
        return result

    # --- steps ----------------------------------------------------------------------------
    def _read_policy(self) -> tuple[GlobalPolicy | None, str | None]:
        """The policy, re-read only when its version moved; None (fail closed) when it
        cannot be read."""
        try:
            version = self.store.version()
            if self._policy is None or self._policy.version != version:
                self._policy = self.store.get()
            return self._policy, None
        except (QuantumTraderError, redis.RedisError, ValueError) as exc:
            self._policy = None
            reason = f"the policy cannot be read: {exc}"
            log.error("fail closed: %s", reason)
            return None, reason

    def _read(self, symbols: list[str], now: datetime) -> BlockRead:
        """The closed bars of ``symbols`` as blocks; a symbol whose bars are bad is skipped
        with the reason (logged), the others go on."""
        read = read_blocks(
            self.market, symbols, self.config.timeframe, limit=self.config.history_bars, end=now
        )
        for symbol, reason in read.skipped.items():
            log.warning("skipping %s this cycle: %s", symbol, reason)
        return read

    def _strategy(self, name: str) -> Strategy[Any] | None:
        if name not in self._strategies:
            self._strategies[name] = self.resolve_strategy(name)
            if self._strategies[name] is None:
                log.warning("strategy %r is in the policy but unknown here; ignored", name)
        return self._strategies[name]

    def _strategies_of(self, policy: GlobalPolicy) -> list[tuple[str, Strategy[Any]]]:
        """Every allowed and every shadow strategy of ``policy`` that resolves, by name."""
        names = [n for n in policy.allowed_strategies if n not in policy.blocked_strategies]
        names += [
            n
            for n, state in policy.strategy_states.items()
            if state is StrategyState.SHADOW and n not in names
        ]
        return [(n, s) for n in names if (s := self._strategy(n)) is not None]

    def _update_books(
        self, blocks: list[BarBlock], strategies: Mapping[str, Strategy[Any]]
    ) -> list[tuple[BarBlock, BookUpdate]]:
        """Each block's signals and ATR at its newest bar, from the bars that closed since
        the last cycle (see :mod:`components.engine.signals`)."""
        books = {}
        updates = []
        for block in blocks:
            book = self._books.get(block.symbols) or SignalBook(
                block.symbols, incremental=self.config.incremental
            )
            books[block.symbols] = book
            updates.append((block, book.update(block, strategies)))
        self._books = books  # groups of symbols not read this cycle start again next time
        return updates

    def _signals(
        self,
        policy: GlobalPolicy,
        books: list[tuple[BarBlock, BookUpdate]],
        atrs: Mapping[str, float | None],
        portfolio: PortfolioView,
    ) -> tuple[int, Any, int, Counter[str], list[tuple[str, str, int]]]:
        """Every allowed and shadow strategy's signal on each symbol's last closed bar
        (how many: each strategy's non-flat ones and those on a held symbol), what the
        orchestrator chose among them, how many non-flat ones on symbols with no
        position were below ``global_min_confidence`` (never made into signals), how
        many it dropped before any object was made, by rule, and the accepted signals on
        symbols with no position that the planner would not open (shorts, while shorts
        are not allowed), as (strategy, symbol, direction), never made into objects.

        Each block holds symbols on one time index as (symbols x time) arrays, and each
        strategy's ``signal_arrays`` (the one code path the backtester runs too) is
        brought up to its newest bar once per block for all of them. Only the signals on
        held symbols and those that may open a position (:func:`may_enter`) are made into
        objects and given to the orchestrator: it would drop the others. Of those that
        may open one, the orchestrator's one-per-symbol rule is applied on the arrays
        (:func:`settle_entries`): only the signal it keeps on a symbol is made, and not
        even that one when the planner would not open it (:meth:`IntentPlanner.opens`).
        """
        held = {symbol: p.quantity for symbol, p in portfolio.positions.items()}
        signals: list[Signal] = []
        settled: Counter[str] = Counter()
        unopened: list[tuple[str, str, int]] = []
        count = unsure = 0
        names = [name for name, _ in self._running]
        for block, book in books:
            if not names:
                break
            close = block.last("close").tolist()  # Python floats: read row by row below
            at = _time(int(block.times[-1])) + self._bar
            held_mask = np.zeros(len(block.symbols), dtype=np.bool_)
            held_mask[[block.row(s) for s in held if s in block]] = True
            wanted = np.stack([book.signals[name].direction for name in names])
            strength = np.stack([book.signals[name].confidence for name in names])
            count += int(np.count_nonzero(held_mask | (wanted != 0)))
            enter = may_enter(wanted, strength, policy)
            unsure += int(np.count_nonzero((wanted != 0) & ~enter & ~held_mask))
            entries = settle_entries(
                names, block.symbols, wanted, strength, held_mask, policy, self.orchestrator
            )
            settled.update(entries.dropped)
            unopen = entries.kept & ~self.planner.opens(wanted)
            for i, row in zip(*np.nonzero(unopen), strict=True):
                unopened.append((names[i], block.symbols[row], int(wanted[i, row])))
            for name, make, directions, confidences in zip(
                names, entries.make & ~unopen, wanted.tolist(), strength.tolist(), strict=True
            ):
                for row in np.flatnonzero(make).tolist():
                    symbol = block.symbols[row]
                    signals.append(
                        Signal(
                            strategy=name,
                            symbol=symbol,
                            direction=int(directions[row]),
                            confidence=float(confidences[row]),
                            at=at,
                            price=float(close[row]),
                            atr=atrs[symbol],
                        )
                    )
        chosen = select_signals(signals, policy, open_positions=held, config=self.orchestrator)
        return count, chosen, unsure, settled, unopened

    def _manage(
        self,
        positions: Mapping[str, Any],
        marks: Mapping[str, float],
        atrs: Mapping[str, float | None],
        now: datetime,
    ) -> list[tuple[OrderIntent, float | None]]:
        """Position intelligence: trail winners' stops; reduce or close as assessed."""
        usable = {s: a for s in positions if (a := atrs.get(s)) is not None and s in marks}
        assessments = assess_positions(
            {s: p for s, p in positions.items() if s in usable},
            marks=marks,
            atrs=usable,
            now=now,
        )
        intents: list[tuple[OrderIntent, float | None]] = []
        stamp = f"{now:%Y%m%dT%H%M}"
        for symbol, assessment in assessments.items():
            position = positions[symbol]
            if assessment.action is PositionAction.TRAIL_STOP and assessment.new_stop:
                self.ledger.set_stops(
                    symbol, stop_loss=assessment.new_stop, position_id=position.id
                )
            elif assessment.action in (PositionAction.REDUCE, PositionAction.CLOSE):
                quantity = assessment.reduce_quantity or abs(position.quantity)
                side = Side.SELL if position.quantity > 0 else Side.BUY
                intents.append(
                    (
                        OrderIntent(
                            client_order_id=f"{position.id}:{assessment.action.value}:{stamp}",
                            symbol=symbol,
                            side=side,
                            quantity=min(quantity, abs(position.quantity)),
                            reference_price=marks[symbol],
                            strategy=position.strategy,
                            reduce_only=True,
                            created_at=now,
                        ),
                        None,
                    )
                )
        return intents

    def _amplify(
        self,
        policy: GlobalPolicy,
        positions: Mapping[str, Any],
        marks: Mapping[str, float],
        atrs: Mapping[str, float | None],
        now: datetime,
        report: dict[str, Any],
    ) -> list[tuple[OrderIntent, float | None]]:
        """The Profit Amplification Layer (:mod:`components.pal`) on ``positions`` (those
        not being closed this cycle): adds and partial profits as intents (the RiskGuard
        checks them next), stop moves at once; in OBSERVE only logged. Off in the DEFENSIVE
        risk mode."""
        plan = self.pal.plan(positions, marks, atrs, risk_mode=policy.risk_mode, now=now)
        for symbol, (position_id, stop) in plan.stops.items():
            self.ledger.set_stops(symbol, stop_loss=stop, position_id=position_id)
        for line in plan.observed:
            log.info("pal (observe) would: %s", line)
        report["pal"] = plan.actions
        return plan.intents

    def _rebalance(
        self,
        policy: GlobalPolicy,
        portfolio: PortfolioView,
        marks: Mapping[str, float],
        now: datetime,
    ) -> list[tuple[OrderIntent, float | None]]:
        """The Portfolio Balancer's reductions: positions above their target weight (the
        risk mode's gross exposure spread over the ranked universe) are trimmed, so a move
        to DEFENSIVE cuts gross exposure. Entries stay signal-driven: the balancer never
        opens or adds. In OBSERVE the reductions are only logged."""
        if self.balancer is None or self.balancer_mode is ModuleMode.OFF or not portfolio.positions:
            return []
        targets = self.balancer.targets(policy, portfolio, marks)
        orders = [
            order
            for order in self.balancer.rebalance_orders(targets, portfolio, marks, now=now)
            if order.reduce_only
        ]
        if self.balancer_mode is ModuleMode.OBSERVE:
            for order in orders:
                log.info(
                    "balancer (observe) would %s %g %s",
                    order.side.value,
                    order.quantity,
                    order.symbol,
                )
            return []
        return [(order, None) for order in orders]

    def _place(
        self,
        intents: list[tuple[OrderIntent, float | None]],
        portfolio: PortfolioView,
        policy: GlobalPolicy,
        status: EssStatus,
    ) -> list[OrderOutcome]:
        """RiskGuard, then the Emergency Stop, then the broker, one intent at a time; each
        accepted order counts against the limits of the next."""
        outcomes: list[OrderOutcome] = []
        denials: list[RiskDecision] = []
        view = portfolio
        for intent, stop_distance in intents:
            decision = self.guard.check(intent, view, policy, stop_distance=stop_distance)
            if decision.approved:
                decision = self.ess.gate(decision.intent, view, status=status)
            if not decision.approved:
                denials.append(decision)
                outcomes.append(_outcome(intent, "denied", decision.check, decision.reason))
                continue
            ack = self.broker.submit(decision.intent)
            if ack.duplicate:
                outcome: Literal["submitted", "duplicate", "rejected_by_broker"] = "duplicate"
            elif ack.accepted:
                outcome = "submitted"
                view = _with_order(view, decision.intent)
            else:
                outcome = "rejected_by_broker"
            outcomes.append(_outcome(decision.intent, outcome, decision.check, ack.reason))
        self._announce(denials)
        return outcomes

    def _fill_at_open(
        self,
        orders: list[OrderOutcome],
        blocks: list[BarBlock],
        atrs: Mapping[str, float | None],
        now: datetime,
    ) -> list[Fill]:
        """Fill the orders of this cycle at the open of the bar forming now (the next bar
        after the newest closed one), if that bar has opened and the market knows its
        open; what is left fills when the bar closes (:meth:`PaperBroker.on_opens`). A
        source with no ``bar_opens`` at all (it is optional, as ``bars_block``) leaves
        every fill to the close."""
        placed = {o.symbol for o in orders if o.outcome in ("submitted", "duplicate")}
        bar_opens = getattr(self.market, "bar_opens", None)
        if not placed or bar_opens is None:
            return []
        opens: list[BarOpen] = []
        for block in blocks:
            symbols = [s for s in block.symbols if s in placed]
            at = _time(int(block.times[-1])) + self._bar
            if not symbols or at > now:
                continue
            prices = bar_opens(symbols, block.timeframe, at)
            opens += [BarOpen(s, price, at, atr=atrs[s]) for s, price in prices.items()]
        return self.broker.on_opens(opens)

    def _announce(self, denials: list[RiskDecision]) -> None:
        """One ``order.rejected`` per refused intent until its reason changes."""
        if self.bus is None:
            return
        for decision in self.refusals.news(denials):
            ess = decision.check is RiskCheck.EMERGENCY_STOP
            publish_rejection(decision, self.bus, source="emergency_stop" if ess else "risk_guard")
        self.refusals.stand(denials)

    def _halt(self, portfolio: PortfolioView, status: EssStatus) -> list[OrderOutcome]:
        actions = self.ess.on_halt(portfolio, status=status)
        if actions.cancel_all:
            cancelled = self.broker.cancel_all()
            if cancelled:
                log.warning("ESS HALTED: cancelled %d open orders", len(cancelled))
        outcomes = []
        for intent in actions.orders:  # the ESS's own flattening orders: not gated
            ack = self.broker.submit(intent)
            outcome: Literal["submitted", "duplicate", "rejected_by_broker"] = (
                "duplicate"
                if ack.duplicate
                else "submitted"
                if ack.accepted
                else "rejected_by_broker"
            )
            outcomes.append(_outcome(intent, outcome, "emergency_stop", ack.reason))
        return outcomes

    def _shadow(
        self,
        signals: list[Signal],
        bars: Mapping[str, pd.DataFrame],
        atrs: Mapping[str, float | None],
        books: list[tuple[BarBlock, BookUpdate]],
        policy: GlobalPolicy,
        now: datetime,
    ) -> int:
        """Trade the shadow strategies on their own paper accounts (no real order)."""
        names = sorted(
            name
            for name, state in policy.strategy_states.items()
            if state is StrategyState.SHADOW and self._strategy(name) is not None
        )
        if self.shadow_book is None or not names:
            return 0
        entry_atrs = {
            s: a
            for block, book in books
            for s, a in zip(block.symbols, book.entry_atrs, strict=True)
        }
        return self.shadow_book.trade(signals, bars, atrs, entry_atrs, policy, now, names)


def _newest_bars(books: list[tuple[BarBlock, BookUpdate]]) -> list[BarUpdate]:
    """The newest bar of every symbol of the books' blocks, with its ATRs, for the broker."""
    updates = []
    for block, book in books:
        at = _time(int(block.times[-1]))
        newest = block.values[:4, :, -1].T.tolist()  # (symbols, [open, high, low, close])
        for symbol, (open_, high, low, close), atr, entry_atr in zip(
            block.symbols, newest, book.atrs, book.entry_atrs, strict=True
        ):
            bar = Bar(open_, high, low, close)
            updates.append(BarUpdate(symbol, bar, at, atr, None, entry_atr))
    return updates


def _direction(books: list[tuple[BarBlock, BookUpdate]], strategy: str, symbol: str) -> int | None:
    """``strategy``'s signal on ``symbol`` at the newest bar, or None when not computed."""
    for block, book in books:
        latest = book.signals.get(strategy)
        if latest is not None and symbol in block:
            return int(latest.direction[block.row(symbol)])
    return None


REENTRY_LATCHED = "re-entry waits for a fresh signal after an exit"


def _refused(order: OrderOutcome) -> str:
    """Why an order of an accepted signal was not placed, in a few words."""
    if order.outcome == "duplicate":
        return "order already placed, waiting for its fill"
    if order.outcome == "rejected_by_broker":
        return "rejected by the broker"
    if order.check == RiskCheck.EMERGENCY_STOP:
        return "refused by the ESS"
    if order.check == RiskCheck.MIN_NOTIONAL:
        return "risk refused: below the minimum notional"
    return f"risk refused: {order.check or 'denied'}"


def _time(ns: int) -> datetime:
    """A bar time (ns since the epoch) as an aware UTC datetime."""
    return pd.Timestamp(ns, unit="ns", tz="UTC").to_pydatetime()


def _outcome(
    intent: OrderIntent,
    outcome: Literal["submitted", "duplicate", "denied", "rejected_by_broker"],
    check: RiskCheck | str | None,
    reason: str,
) -> OrderOutcome:
    return OrderOutcome(
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=intent.side,
        quantity=intent.quantity,
        strategy=intent.strategy,
        outcome=outcome,
        check=str(check) if check else None,
        reason=reason,
    )


def _with_order(view: PortfolioView, intent: OrderIntent) -> PortfolioView:
    """``view`` as if ``intent`` had filled at its reference price (so the next intent of
    the cycle is checked against the exposure this one will add)."""
    positions = dict(view.positions)
    held = positions.get(intent.symbol)
    quantity = (held.quantity if held else 0.0) + intent.signed_quantity
    if abs(quantity) < 1e-12:
        positions.pop(intent.symbol, None)
    else:
        positions[intent.symbol] = PositionView(
            symbol=intent.symbol,
            quantity=quantity,
            average_price=held.average_price if held else intent.reference_price,
            mark_price=held.mark_price if held else intent.reference_price,
            strategy=intent.strategy,
        )
    cash = view.cash - intent.signed_quantity * intent.reference_price
    return PortfolioView(cash=cash, positions=positions, open_orders=view.open_orders + 1)


__all__ = [
    "CycleReport",
    "EngineConfig",
    "OrderOutcome",
    "TradingEngine",
    "read_heartbeat",
    "registry_resolver",
]
