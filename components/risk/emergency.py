"""The Emergency Stop System (ESS): a three-state machine that outranks every other check.

States
    ``ACTIVE``   trading as usual.
    ``REDUCING`` only orders that shrink a position pass (without flipping it).
    ``HALTED``   no order passes; the engine cancels open orders and, with
                 ``flatten_on_halt``, closes every position (:meth:`EmergencyStop.on_halt`).

Trips (:meth:`EmergencyStop.evaluate`, each cycle)
    health CRITICAL -> HALTED; drawdown from the equity peak >= ``drawdown_halt`` ->
    HALTED, >= ``drawdown_reduce`` -> REDUCING; loss since the day's first equity (UTC
    day) >= ``daily_loss_reduce`` -> REDUCING; ``max_consecutive_losses`` losing trades in
    a row -> REDUCING for ``cooldown``; market data older than ``stale_data_bars`` bar
    lengths -> REDUCING. By hand: :meth:`~EmergencyStop.halt`,
    :meth:`~EmergencyStop.reduce`, :meth:`~EmergencyStop.resume`.

Recovery
    Automatic trips only escalate (ACTIVE -> REDUCING -> HALTED). Leaving HALTED takes
    :meth:`~EmergencyStop.resume`. REDUCING from a *soft* trip (daily loss, consecutive
    losses, stale data) returns to ACTIVE by itself once ``cooldown`` has passed since the
    trip and no trip condition holds any more; REDUCING from a drawdown or by hand waits
    for ``resume``. ``resume`` acknowledges the losses so far: the equity peak and the
    day's starting equity restart from the last equity seen, and the loss streak clears.

Storage (under the namespace ``ns``)::

    ns:ess                         hash: state, reason, since, tripped_by, by, and what
                                   evaluations remember (equity peak, day start, streak,
                                   and the cursor: the id of the newest closed trade
                                   counted, so a restarted engine never counts one twice)
    ns:events:ess.state_changed    the event stream every transition appends to

Each transition is one Lua script that checks the state it starts from, writes the new
state and XADDs its ``ess.state_changed`` event, all or nothing: no transition is ever
without its event, and a transition that races another process is decided again on the
fresh state. Repeating a transition (halting while HALTED) writes nothing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from components.clock import Clock, SystemClock
from components.errors import ConfigurationError, DataError, TemporaryError
from components.events.bus import EventBus
from components.events.config import BusConfig
from components.events.models import new_event_id
from components.events.streams import (
    LUA_EMIT,
    decode_event,
    entry_fields,
    stats_key,
    stream_key,
)
from components.events.types import ESS_STATE_CHANGED, EssStateChanged
from components.redis import namespaced
from components.risk.config import EssConfig
from components.risk.decision import RiskCheck, RiskDecision, closing_quantity
from components.trading.types import OrderIntent, PortfolioView, Side

if TYPE_CHECKING:
    from components.settings import Settings

log = logging.getLogger(__name__)

SOURCE = "emergency_stop"
HEALTH_LEVELS = frozenset({"HEALTHY", "DEGRADED", "CRITICAL"})


class EssState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


_SEVERITY = {EssState.ACTIVE: 0, EssState.REDUCING: 1, EssState.HALTED: 2}


class Trip(StrEnum):
    """What put the ESS in its current state."""

    DRAWDOWN = "drawdown"
    DAILY_LOSS = "daily_loss"
    CONSECUTIVE_LOSSES = "consecutive_losses"
    STALE_DATA = "stale_data"
    HEALTH = "health"
    MANUAL = "manual"


SOFT_TRIPS = frozenset({Trip.DAILY_LOSS, Trip.CONSECUTIVE_LOSSES, Trip.STALE_DATA})


class TradeOutcome(Protocol):
    """What the ESS needs of a closed trade (the ledger's ``ClosedPosition`` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def closed_at(self) -> datetime: ...

    @property
    def realized_pnl(self) -> float: ...


class EssStatus(BaseModel):
    """The stored state of the ESS and what its evaluations remember.

    >>> EmergencyStop(client, namespace="qt").status().state
    <EssState.ACTIVE: 'ACTIVE'>
    """

    # Unknown stored fields (from an older or newer release) are ignored rather than
    # refused, so a stored state never becomes unreadable.
    model_config = ConfigDict(frozen=True, extra="ignore")

    state: EssState = EssState.ACTIVE
    reason: str = "never tripped"
    since: AwareDatetime | None = None
    tripped_by: Trip | None = None
    by: str | None = None
    peak_equity: float | None = None
    day: date | None = None
    day_start_equity: float | None = None
    last_equity: float | None = None
    loss_streak: int = Field(0, ge=0)
    losses_locked_until: AwareDatetime | None = None
    evaluated_at: AwareDatetime | None = None
    trades_cursor: str | None = None

    @property
    def drawdown(self) -> float:
        """Fraction below the equity peak, in [0, 1] (0 before any evaluation)."""
        if self.peak_equity is None or self.last_equity is None:
            return 0.0
        return _drawdown(self.peak_equity, self.last_equity)


class HaltActions(BaseModel):
    """What the engine does while HALTED: cancel every open order and, with
    ``flatten_on_halt``, place ``orders`` (reduce-only market orders closing the
    positions in ``flatten``). These are the ESS's own orders: the engine places them
    without passing them through :meth:`EmergencyStop.gate`. Their client order ids are
    fixed per halt, so repeating the actions never closes a position twice.

    >>> ess.on_halt(portfolio)
    HaltActions(cancel_all=True, flatten=['BTC/USDT'], orders=[...])
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cancel_all: bool = False
    flatten: list[str] = Field(default_factory=list)
    orders: list[OrderIntent] = Field(default_factory=list)


# KEYS: ess hash, event stream, bus stats
# ARGV: expected state, target state ('' = none), n memory pairs, pairs...,
#       n transition pairs, pairs..., event id, source, at, maxlen, payload
_TRANSITION_SCRIPT = (
    LUA_EMIT
    + r"""
local current = redis.call('HGET', KEYS[1], 'state') or 'ACTIVE'
if current ~= ARGV[1] then
  return {-1, current}
end
local i = 3
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]); i = i + 2
end
local target = ARGV[2]
if target == '' or target == current then
  return {0, current}
end
n = tonumber(ARGV[i]); i = i + 1
redis.call('HSET', KEYS[1], 'state', target)
for _ = 1, n do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]); i = i + 2
end
emit_event(KEYS[2], KEYS[3], ARGV[i + 3], ARGV[i], 'ess.state_changed', ARGV[i + 1],
  ARGV[i + 2], '', ARGV[i + 4])
return {1, target}
"""
)

_MAX_ATTEMPTS = 20


def _drawdown(peak: float, equity: float) -> float:
    if peak <= 0:
        return 1.0
    return min(max((peak - equity) / peak, 0.0), 1.0)


class _Condition(BaseModel):
    """One trip condition that holds now."""

    model_config = ConfigDict(frozen=True)

    state: EssState
    trip: Trip
    reason: str


class EmergencyStop:
    """The ESS on Redis; see the module docstring for states, trips and recovery.

    >>> ess = EmergencyStop(client, namespace="qt", bus=bus, config=EssConfig())
    >>> ess.evaluate(equity=9_400.0, now=now)
    <EssState.REDUCING: 'REDUCING'>
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        bus: EventBus | None = None,
        config: EssConfig | None = None,
        clock: Clock | None = None,
        stream_maxlen: int | None = None,
    ) -> None:
        self.client = client
        self._r: Any = client  # redis-py types responses as unions; this client decodes
        self.namespace = namespace
        self.bus = bus
        self.config = config or EssConfig()
        self._clock = clock or SystemClock()
        self._maxlen = stream_maxlen or (bus.config if bus else BusConfig()).stream_maxlen
        self._keys = [
            namespaced(namespace, "ess"),
            stream_key(namespace, ESS_STATE_CHANGED),
            stats_key(namespace),
        ]
        self._transition = client.register_script(_TRANSITION_SCRIPT)

    @classmethod
    def connect(cls, settings: Settings, *, bus: EventBus | None = None) -> EmergencyStop:
        """An ESS on the configured server, configured from Settings."""
        from components.redis import connect

        return cls(
            connect(settings),
            namespace=settings.namespace,
            bus=bus,
            config=settings.ess,
            stream_maxlen=settings.bus.stream_maxlen,
        )

    # --- reading ------------------------------------------------------------------------
    def status(self) -> EssStatus:
        """The stored state (ACTIVE with an empty memory before the first write).

        Raises
        ------
        TemporaryError
            Redis cannot be reached: callers must fail closed.
        """
        try:
            fields: dict[str, str] = self._r.hgetall(self._keys[0])
        except redis.RedisError as exc:
            raise TemporaryError(
                f"cannot read the ESS state: {type(exc).__name__}: {exc}"
            ) from None
        return EssStatus.model_validate({k: v for k, v in fields.items() if v != ""})

    @property
    def state(self) -> EssState:
        """The stored state; see :meth:`status`."""
        return self.status().state

    # --- trips and recovery -------------------------------------------------------------
    def evaluate(
        self,
        *,
        equity: float,
        now: datetime,
        last_data_at: datetime | None = None,
        health: str | None = None,
        closed_trades: Sequence[TradeOutcome] = (),
    ) -> EssState:
        """Update the equity peak, the day's start equity and the loss streak; trip or
        recover as the module docstring says; return the state afterwards.

        Parameters
        ----------
        equity:
            Account equity now (cash plus positions at mark).
        now:
            The time of this evaluation (timezone-aware).
        last_data_at:
            Close time of the newest bar received; ``None`` skips the stale-data check.
        health:
            ``"HEALTHY"``, ``"DEGRADED"`` or ``"CRITICAL"`` (or ``None``: unknown).
        closed_trades:
            The most recent closed trades, newest first (the ledger's
            ``closed_positions()``); they may repeat what an earlier evaluation, of this
            process or of one before a restart, has seen. Only those newer than the stored
            cursor count towards the loss streak, and the cursor moves in the same write
            as the streak, so each trade is counted exactly once.

        Raises
        ------
        DataError
            ``equity`` or a trade's PnL is not a finite number.
        ConfigurationError
            ``now`` or ``last_data_at`` is naive, or ``health`` is not a known level.
        TemporaryError
            Redis cannot be reached (the state is unknown: fail closed).

        >>> ess.evaluate(equity=9_000.0, now=now, health="HEALTHY")
        <EssState.HALTED: 'HALTED'>
        """
        if not math.isfinite(equity):
            raise DataError(f"equity={equity!r} must be a finite number")
        trades = list(closed_trades)
        bad = [t for t in trades if not math.isfinite(t.realized_pnl)]
        if bad:
            raise DataError(
                f"closed trade {bad[0].id!r} has realized_pnl={bad[0].realized_pnl!r}; "
                "every PnL must be finite"
            )
        _check_aware("now", now)
        if last_data_at is not None:
            _check_aware("last_data_at", last_data_at)
        if health is not None and str(health) not in HEALTH_LEVELS:
            raise ConfigurationError(
                f"health={health!r} must be one of {', '.join(sorted(HEALTH_LEVELS))} or None"
            )
        for _ in range(_MAX_ATTEMPTS):
            status = self.status()
            memory = self._remember(status, equity, now, trades)
            conditions = self._conditions(memory, now, last_data_at, health)
            target, trip, reason, by = self._decide(status, conditions, now)
            outcome = self._write(status.state, target, memory, trip, reason, by, now)
            if outcome is not None:
                return outcome
        raise TemporaryError("the ESS state kept changing during an evaluation; try again")

    def halt(self, reason: str, *, by: str) -> EssStatus:
        """Go to HALTED by hand (a no-op while HALTED).

        >>> ess.halt("exchange outage", by="ops").state
        <EssState.HALTED: 'HALTED'>
        """
        return self._manual(EssState.HALTED, reason, by, Trip.MANUAL)

    def reduce(self, reason: str, *, by: str) -> EssStatus:
        """Go to REDUCING by hand (a no-op while REDUCING; HALTED is left only by
        :meth:`resume`).

        >>> ess.reduce("news risk", by="ops").state
        <EssState.REDUCING: 'REDUCING'>
        """
        return self._manual(EssState.REDUCING, reason, by, Trip.MANUAL)

    def resume(self, *, by: str, reason: str) -> EssStatus:
        """Return to ACTIVE by hand, the only way out of HALTED (a no-op while ACTIVE).

        Acknowledges the losses so far: the equity peak and the day's start equity
        restart from the last equity seen, and the loss streak and its lock clear.

        >>> ess.resume(by="ops", reason="outage over").state
        <EssState.ACTIVE: 'ACTIVE'>
        """
        return self._manual(EssState.ACTIVE, reason, by, None)

    # --- what the engine does with the state ----------------------------------------------
    def gate(
        self,
        intent: OrderIntent,
        portfolio: PortfolioView,
        *,
        status: EssStatus | None = None,
    ) -> RiskDecision:
        """Let ``intent`` through only if the ESS state allows it.

        HALTED denies every order; REDUCING approves an order that only shrinks its
        position, cuts one that flips it to the closing part, and denies the rest. The
        state is read from Redis unless ``status`` is given; when it cannot be read the
        order is denied (fail closed).

        >>> ess.gate(intent, portfolio).approved
        True
        """
        if status is None:
            try:
                status = self.status()
            except TemporaryError as exc:
                return RiskDecision.deny(
                    intent, f"the ESS state is unknown ({exc}); failing closed", _ESS
                )
        if status.state is EssState.ACTIVE:
            return RiskDecision.approve(intent, f"{_ESS}: ACTIVE")
        if status.state is EssState.HALTED:
            return RiskDecision.deny(
                intent, f"HALTED ({status.reason}); no order passes until resume", _ESS
            )
        closing = closing_quantity(intent, portfolio)
        if intent.quantity <= closing:
            return RiskDecision.approve(
                intent, f"{_ESS}: REDUCING and the order shrinks the position", _ESS
            )
        why = f"REDUCING ({status.reason}); only orders that shrink a position pass"
        if closing > 0:
            return RiskDecision.resize(
                intent, closing, f"{why}; cut to the part that closes the position", _ESS
            )
        return RiskDecision.deny(intent, why, _ESS)

    def on_halt(self, portfolio: PortfolioView, *, status: EssStatus | None = None) -> HaltActions:
        """The actions HALTED asks of the engine (none in the other states).

        >>> ess.on_halt(portfolio).cancel_all
        True
        """
        status = status or self.status()
        if status.state is not EssState.HALTED:
            return HaltActions()
        if not self.config.flatten_on_halt:
            return HaltActions(cancel_all=True)
        stamp = (status.since or self._clock.now()).strftime("%Y%m%dT%H%M%S")
        created = self._clock.now()
        orders = [
            OrderIntent(
                client_order_id=f"ess-flatten:{symbol}:{stamp}",
                symbol=symbol,
                side=Side.SELL if position.quantity > 0 else Side.BUY,
                quantity=abs(position.quantity),
                reference_price=position.mark_price,
                strategy=None,
                reduce_only=True,
                created_at=created,
            )
            for symbol, position in sorted(portfolio.positions.items())
            if position.quantity != 0
        ]
        return HaltActions(
            cancel_all=True, flatten=[order.symbol for order in orders], orders=orders
        )

    # --- internals ----------------------------------------------------------------------
    def _manual(self, target: EssState, reason: str, by: str, trip: Trip | None) -> EssStatus:
        if not by.strip() or not reason.strip():
            missing = "by" if not by.strip() else "reason"
            raise ConfigurationError(
                f"{missing} must not be empty: every ESS change needs who (by) and why"
            )
        for _ in range(_MAX_ATTEMPTS):
            status = self.status()
            if status.state is target:
                return status
            if status.state is EssState.HALTED and target is EssState.REDUCING:
                log.info("ESS is HALTED; reduce() does not leave it (use resume)")
                return status
            rebase: dict[str, str] = {}
            if target is EssState.ACTIVE:  # resume: acknowledge the losses so far
                rebase = {"loss_streak": "0", "losses_locked_until": ""}
                if status.last_equity is not None:
                    rebase["peak_equity"] = rebase["day_start_equity"] = repr(status.last_equity)
            outcome = self._write(
                status.state, target, {}, trip, reason, by, self._clock.now(), rebase
            )
            if outcome is not None:
                return self.status()
        raise TemporaryError("the ESS state kept changing; try again")

    def _remember(
        self, status: EssStatus, equity: float, now: datetime, trades: list[TradeOutcome]
    ) -> dict[str, str]:
        """The memory fields after this evaluation (written with it)."""
        pnls = [t.realized_pnl for t in reversed(_unseen(status, trades))]  # oldest first
        peak = equity if status.peak_equity is None else max(status.peak_equity, equity)
        today = now.astimezone(UTC).date()
        day_start = (
            status.day_start_equity
            if status.day == today and status.day_start_equity is not None
            else equity
        )
        streak = status.loss_streak
        locked_until = status.losses_locked_until
        for pnl in pnls:
            if pnl < 0:
                streak += 1
                if streak >= self.config.max_consecutive_losses:
                    locked_until = now + self.config.cooldown
                    streak = 0  # the lock consumes the streak
            else:
                streak = 0
        memory = {
            "peak_equity": repr(peak),
            "day": today.isoformat(),
            "day_start_equity": repr(day_start),
            "last_equity": repr(equity),
            "loss_streak": str(streak),
            "losses_locked_until": locked_until.isoformat() if locked_until else "",
            "evaluated_at": now.isoformat(),
        }
        if trades:
            memory["trades_cursor"] = trades[0].id
        return memory

    def _conditions(
        self,
        memory: dict[str, str],
        now: datetime,
        last_data_at: datetime | None,
        health: str | None,
    ) -> list[_Condition]:
        """Every trip condition that holds now, most severe first."""
        config = self.config
        peak, equity = float(memory["peak_equity"]), float(memory["last_equity"])
        day_start = float(memory["day_start_equity"])
        found: list[_Condition] = []
        if health is not None and str(health) == "CRITICAL":
            found.append(
                _Condition(
                    state=EssState.HALTED,
                    trip=Trip.HEALTH,
                    reason="health: the health check reports CRITICAL",
                )
            )
        drawdown = _drawdown(peak, equity)
        for level, state in (
            (config.drawdown_halt, EssState.HALTED),
            (config.drawdown_reduce, EssState.REDUCING),
        ):
            if drawdown >= level:
                found.append(
                    _Condition(
                        state=state,
                        trip=Trip.DRAWDOWN,
                        reason=f"drawdown: equity {equity:,.2f} is {drawdown:.2%} below the "
                        f"peak {peak:,.2f} (limit {level:.2%})",
                    )
                )
                break
        daily_loss = (day_start - equity) / day_start if day_start > 0 else 0.0
        if daily_loss >= config.daily_loss_reduce:
            found.append(
                _Condition(
                    state=EssState.REDUCING,
                    trip=Trip.DAILY_LOSS,
                    reason=f"daily_loss: equity {equity:,.2f} is {daily_loss:.2%} below the "
                    f"day's start {day_start:,.2f} (limit {config.daily_loss_reduce:.2%})",
                )
            )
        locked = memory["losses_locked_until"]
        if locked and now < datetime.fromisoformat(locked):
            found.append(
                _Condition(
                    state=EssState.REDUCING,
                    trip=Trip.CONSECUTIVE_LOSSES,
                    reason=f"consecutive_losses: {config.max_consecutive_losses} losing trades "
                    f"in a row; cooling down until {locked}",
                )
            )
        if last_data_at is not None:
            age = now - last_data_at
            limit = config.bar_length * config.stale_data_bars
            if age > limit:
                found.append(
                    _Condition(
                        state=EssState.REDUCING,
                        trip=Trip.STALE_DATA,
                        reason=f"stale_data: the newest bar closed {age} ago (limit "
                        f"{config.stale_data_bars} bars of {config.bar_length})",
                    )
                )
        found.sort(key=lambda c: -_SEVERITY[c.state])  # stable: keeps the order above
        return found

    def _decide(
        self, status: EssStatus, conditions: list[_Condition], now: datetime
    ) -> tuple[EssState | None, Trip | None, str, str]:
        """(target state or None, trip, reason, by) for this evaluation."""
        if conditions:
            worst = conditions[0]
            if _SEVERITY[worst.state] > _SEVERITY[status.state]:
                return worst.state, worst.trip, worst.reason, SOURCE
            return None, None, "", ""
        if (
            status.state is EssState.REDUCING
            and status.tripped_by in SOFT_TRIPS
            and status.since is not None
            and now - status.since >= self.config.cooldown
        ):
            reason = (
                f"recovered: {status.tripped_by} cleared and the {self.config.cooldown} "
                "cool-down is over"
            )
            return EssState.ACTIVE, None, reason, SOURCE
        return None, None, "", ""

    def _write(
        self,
        expected: EssState,
        target: EssState | None,
        memory: dict[str, str],
        trip: Trip | None,
        reason: str,
        by: str,
        now: datetime,
        on_transition: dict[str, str] | None = None,
    ) -> EssState | None:
        """Run the transition script; the state afterwards, or None on a race."""
        at = now.isoformat()
        event_id = new_event_id()
        payload = ""
        transition: dict[str, str] = {}
        if target is not None and target is not expected:
            payload = EssStateChanged(
                state=target.value, previous=expected.value, reason=reason, by=by
            ).model_dump_json()
            transition = {
                "reason": reason,
                "since": at,
                "tripped_by": trip.value if trip is not None else "",
                "by": by,
                **(on_transition or {}),
            }
        try:
            result = self._transition(
                keys=self._keys,
                args=[
                    expected.value, target.value if target is not None else "",
                    len(memory), *(item for pair in memory.items() for item in pair),
                    len(transition), *(item for pair in transition.items() for item in pair),
                    event_id, SOURCE, at, self._maxlen, payload,
                ],
            )  # fmt: skip
        except redis.RedisError as exc:
            raise TemporaryError(
                f"cannot write the ESS state: {type(exc).__name__}: {exc}"
            ) from None
        code, state = int(result[0]), EssState(result[1])
        if code < 0:
            return None
        if code == 1:
            log.warning("ESS %s -> %s by %s: %s", expected, state, by, reason)
            if self.bus is not None:  # the event is on the stream; tell the bus
                event = decode_event(
                    entry_fields(event_id, ESS_STATE_CHANGED, source=SOURCE, at=at, payload=payload)
                )
                self.bus.notify_written([event])
        return state


_ESS = RiskCheck.EMERGENCY_STOP


def _unseen(status: EssStatus, trades: list[TradeOutcome]) -> list[TradeOutcome]:
    """The trades of ``trades`` (newest first) past the stored cursor, newest first.

    The cursor is the id of the newest trade counted. When it is not among ``trades``, it
    is older than all of them (it fell out of the window), so all are new. A state written
    before cursors existed has none: the trades closed by its last evaluation were counted
    then, so only later ones are new.
    """
    if status.trades_cursor is not None:
        ids = [t.id for t in trades]
        return trades[: ids.index(status.trades_cursor)] if status.trades_cursor in ids else trades
    if status.evaluated_at is not None:
        return [t for t in trades if t.closed_at > status.evaluated_at]
    return trades


def _check_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(f"{name}={value.isoformat()} must be timezone-aware (UTC)")
