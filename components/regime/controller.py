"""Meta Strategy Controller (MSC): the risk mode, its limits and the allowed strategies.

Every evaluation (every 30 minutes) weighs three inputs and says which risk mode they
indicate:

market
    ``volatility >= high_volatility`` or a CHOPPY market is *unfavourable*; a strong trend
    (``trend_strength >= strong_trend``) at lower volatility is *favourable*; anything
    else is neutral.
health
    CRITICAL forces DEFENSIVE and raises the emergency; DEGRADED caps the mode at
    ``degraded_max_mode`` (NORMAL by default); HEALTHY leaves the choice to the others.
performance
    A drawdown of ``max_drawdown`` or more is *unfavourable* whatever the trade count.
    With at least ``min_trades`` trades, a rolling PnL at or below ``poor_pnl`` or a win
    rate below ``min_win_rate`` is *unfavourable*. Missing or too thin a record is
    neutral, but AGGRESSIVE needs a record that is not poor.

Indicated mode: any unfavourable input -> DEFENSIVE; a favourable market with a sound
record and a healthy system -> AGGRESSIVE; otherwise NORMAL (then capped by health).

Hysteresis: a move toward DEFENSIVE happens at once. A move away from it (DEFENSIVE ->
NORMAL -> AGGRESSIVE) takes one step per ``relax_after`` consecutive evaluations that
indicate a less defensive mode, so borderline inputs that alternate never flap the mode.

Emergency: while it is active the mode is DEFENSIVE and no strategy is allowed (the
engine opens nothing new either). It clears once health has been HEALTHY continuously
for ``emergency_clear_after``; the mode then relaxes through the usual hysteresis.

Everything the next evaluation needs travels in :class:`MSCMemory` (JSON via pydantic).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from components.errors import ConfigurationError
from components.health.status import HealthStatus
from components.policy.config import ModeLimits, RiskLimits, RiskMode
from components.regime.classifier import StateAssessment
from components.regime.config import (
    MarketState,
    MSCConfig,
)

_LEVEL = {RiskMode.DEFENSIVE: 0, RiskMode.NORMAL: 1, RiskMode.AGGRESSIVE: 2}
_BY_LEVEL = {level: mode for mode, level in _LEVEL.items()}


def _is_more_defensive(a: RiskMode, b: RiskMode) -> bool:
    return _LEVEL[a] < _LEVEL[b]


class HealthSnapshot(BaseModel):
    """System health as the health check last reported it, and since when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: HealthStatus
    since: AwareDatetime
    detail: str | None = None


class PerformanceSnapshot(BaseModel):
    """Recent trading performance, e.g. over the last 7 days.

    ``pnl_pct`` and ``drawdown`` are fractions (-0.03 = -3%; 0.12 = 12% below the peak).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    pnl_pct: float = Field(ge=-1, le=100)
    win_rate: float | None = Field(None, ge=0, le=1)
    drawdown: float = Field(0.0, ge=0, le=1)
    trades: int = Field(0, ge=0)


class MSCInputs(BaseModel):
    """What one evaluation weighs: the market, system health and recent performance
    (``None`` when there is no record yet)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    market: StateAssessment
    health: HealthSnapshot
    performance: PerformanceSnapshot | None = None
    symbols: dict[str, StateAssessment] = Field(default_factory=dict)


class MSCMemory(BaseModel):
    """What the controller carries from one evaluation to the next (stored as JSON)."""

    # Unknown keys from an older or newer release are ignored rather than refused, so a
    # stored memory never blocks an evaluation.
    model_config = ConfigDict(frozen=True, extra="ignore")

    mode: RiskMode
    relax_streak: int = Field(0, ge=0, description="Evaluations in a row pointing away.")
    emergency_active: bool = False
    emergency_reason: str | None = None
    emergency_since: AwareDatetime | None = None
    last_unhealthy_at: AwareDatetime | None = None
    evaluated_at: AwareDatetime


class EmergencyStatus(BaseModel):
    """The emergency part of a decision, shaped like the policy's ``emergency``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    active: bool = False
    reason: str | None = None
    since: AwareDatetime | None = None


class RegimeAssessment(BaseModel):
    """One MSC decision: the mode, its limits, the allowed strategies and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evaluated_at: AwareDatetime
    risk_mode: RiskMode
    previous_mode: RiskMode = Field(description="The mode before (the initial mode at first).")
    changed: bool
    indicated_mode: RiskMode = Field(description="What the inputs pointed to, before hysteresis.")
    market_state: StateAssessment
    symbol_states: dict[str, StateAssessment] = Field(default_factory=dict)
    limits: ModeLimits
    allowed_strategies: tuple[str, ...]
    emergency: EmergencyStatus
    drivers: tuple[str, ...]
    memory: MSCMemory

    def policy_patch(self) -> dict[str, Any]:
        """The changes to patch into the ``GlobalPolicy`` (plain JSON types)."""
        since = self.emergency.since
        return {
            "risk_mode": self.risk_mode.value,
            "max_risk_per_trade": self.limits.max_risk_per_trade,
            "max_positions": self.limits.max_positions,
            "global_min_confidence": self.limits.global_min_confidence,
            "allowed_strategies": list(self.allowed_strategies),
            "emergency": {
                "active": self.emergency.active,
                "reason": self.emergency.reason,
                "since": since.isoformat() if since is not None else None,
            },
        }

    def render_markdown(self) -> str:
        """A markdown note of the decision and its drivers, for a Prefect artifact."""
        market = self.market_state
        if self.changed:
            headline = f"{self.previous_mode.value} -> **{self.risk_mode.value}**"
        else:
            headline = f"**{self.risk_mode.value}** (unchanged)"
        direction = {1: "up", -1: "down", 0: "flat"}[market.direction]
        lines = [
            "# Meta Strategy Controller",
            "",
            f"**Risk mode:** {headline}  ",
            f"**Inputs indicated:** {self.indicated_mode.value}  ",
            f"**Evaluated at:** {self.evaluated_at.isoformat()}  ",
            f"**Market:** {market.state.value}: volatility {market.volatility:.2%}/day, "
            f"trend strength {market.trend_strength:.2f}, direction {direction}  ",
        ]
        if self.emergency.active:
            since = self.emergency.since.isoformat() if self.emergency.since else "unknown"
            lines.append(f"**Emergency:** ACTIVE since {since}: {_cell(self.emergency.reason)}")
        else:
            lines.append("**Emergency:** none")
        strategies = ", ".join(self.allowed_strategies) or "none"
        lines += [
            "",
            "| limit | value |",
            "|---|---|",
            f"| max risk per trade | {self.limits.max_risk_per_trade:.2%} |",
            f"| max positions | {self.limits.max_positions} |",
            f"| global min confidence | {self.limits.global_min_confidence:.2f} |",
            f"| allowed strategies | {strategies} |",
            "",
            "## Drivers",
            "",
            "| # | driver |",
            "|---|---|",
        ]
        lines += [f"| {i} | {_cell(text)} |" for i, text in enumerate(self.drivers, start=1)]
        if self.symbol_states:
            lines += [
                "",
                "## Symbols",
                "",
                "| symbol | state | volatility/day | trend strength | direction |",
                "|---|---|---|---|---|",
            ]
            for name in sorted(self.symbol_states):
                s = self.symbol_states[name]
                lines.append(
                    f"| {_cell(name)} | {s.state.value} | {s.volatility:.2%} | "
                    f"{s.trend_strength:.2f} | {s.direction:+d} |"
                )
        return "\n".join(lines) + "\n"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


Verdict = Literal["favourable", "neutral", "unfavourable"]


class MetaStrategyController:
    """Decides the risk mode from market, health and performance (module docstring).

    Example::

        msc = MetaStrategyController(
            settings.msc, limits=settings.limits, initial_mode=settings.policy.risk_mode
        )
        assessment = msc.decide(inputs, previous_memory, now=now)
        store.patch(assessment.policy_patch(), by="msc", reason="; ".join(assessment.drivers))
    """

    def __init__(
        self,
        config: MSCConfig,
        *,
        limits: RiskLimits | None = None,
        initial_mode: RiskMode = RiskMode.NORMAL,
    ) -> None:
        self.config = config
        self.limits = limits or RiskLimits()
        self.initial_mode = initial_mode

    def decide(
        self, inputs: MSCInputs, previous: MSCMemory | None, *, now: datetime
    ) -> RegimeAssessment:
        """One evaluation.

        Parameters
        ----------
        inputs
            Market state, health and (optional) performance.
        previous
            The memory of the last evaluation (``assessment.memory``), or ``None`` the
            first time; the mode then starts from ``initial_mode`` (the policy's default).
        now
            The evaluation time, timezone-aware.
        """
        if now.tzinfo is None or now.utcoffset() is None:
            raise ConfigurationError(f"now={now.isoformat()} must be timezone-aware (UTC)")
        cfg = self.config
        drivers: list[str] = []
        current = previous.mode if previous is not None else self.initial_mode
        health = inputs.health

        emergency = self._emergency(health, previous, now, drivers)
        last_unhealthy = previous.last_unhealthy_at if previous is not None else None
        if health.status is not HealthStatus.HEALTHY:
            last_unhealthy = now

        # --- the indicated mode --------------------------------------------------------
        market_verdict = self._judge_market(inputs.market, drivers)
        perf_verdict, record_ok = self._judge_performance(inputs.performance, drivers)
        if health.status is HealthStatus.DEGRADED:
            drivers.append(
                f"health DEGRADED since {health.since.isoformat()} -> at most "
                f"{cfg.degraded_max_mode.value}"
            )
        elif health.status is HealthStatus.HEALTHY and not emergency.active:
            drivers.append("health HEALTHY")

        if emergency.active:
            indicated = RiskMode.DEFENSIVE
            drivers.append("emergency active -> DEFENSIVE, no strategy allowed")
        elif "unfavourable" in (market_verdict, perf_verdict):
            indicated = RiskMode.DEFENSIVE
        elif market_verdict == "favourable" and record_ok:
            indicated = RiskMode.AGGRESSIVE
        else:
            indicated = RiskMode.NORMAL
            if market_verdict == "favourable":
                drivers.append("AGGRESSIVE needs a sound trading record -> NORMAL")
        if health.status is HealthStatus.DEGRADED and _is_more_defensive(
            cfg.degraded_max_mode, indicated
        ):
            indicated = cfg.degraded_max_mode

        mode, streak = self._hysteresis(indicated, current, previous, emergency.active, drivers)

        allowed = () if emergency.active else cfg.allowed_strategies[inputs.market.state]
        memory = MSCMemory(
            mode=mode,
            relax_streak=streak,
            emergency_active=emergency.active,
            emergency_reason=emergency.reason,
            emergency_since=emergency.since,
            last_unhealthy_at=last_unhealthy,
            evaluated_at=now,
        )
        return RegimeAssessment(
            evaluated_at=now,
            risk_mode=mode,
            previous_mode=current,
            changed=mode != current,
            indicated_mode=indicated,
            market_state=inputs.market,
            symbol_states=dict(inputs.symbols),
            limits=self.limits[mode],
            allowed_strategies=tuple(allowed),
            emergency=emergency,
            drivers=tuple(drivers),
            memory=memory,
        )

    def _emergency(
        self,
        health: HealthSnapshot,
        previous: MSCMemory | None,
        now: datetime,
        drivers: list[str],
    ) -> EmergencyStatus:
        """Raise, keep or clear the emergency."""
        cfg = self.config
        emergency = EmergencyStatus()
        if previous is not None and previous.emergency_active:
            emergency = EmergencyStatus(
                active=True, reason=previous.emergency_reason, since=previous.emergency_since
            )
        if health.status is HealthStatus.CRITICAL:
            if not emergency.active:
                reason = f"system health CRITICAL since {health.since.isoformat()}"
                if health.detail:
                    reason += f": {health.detail}"
                emergency = EmergencyStatus(active=True, reason=reason, since=health.since)
            drivers.append(f"health CRITICAL since {health.since.isoformat()} -> emergency")
            return emergency
        if not emergency.active:
            return emergency
        if health.status is not HealthStatus.HEALTHY:
            drivers.append(f"health {health.status.value} -> emergency stays")
            return emergency
        # Healthy since the later of what the health check says and the last time this
        # controller saw it unhealthy.
        healthy_from = health.since
        if previous is not None and previous.last_unhealthy_at is not None:
            healthy_from = max(healthy_from, previous.last_unhealthy_at)
        healthy_for = now - healthy_from
        if healthy_for >= cfg.emergency_clear_after:
            drivers.append(
                f"health HEALTHY for {_minutes(healthy_for)} >= "
                f"{_minutes(cfg.emergency_clear_after)} -> emergency cleared"
            )
            return EmergencyStatus()
        drivers.append(
            f"health HEALTHY for {_minutes(healthy_for)} < "
            f"{_minutes(cfg.emergency_clear_after)} -> emergency stays"
        )
        return emergency

    def _hysteresis(
        self,
        indicated: RiskMode,
        current: RiskMode,
        previous: MSCMemory | None,
        emergency: bool,
        drivers: list[str],
    ) -> tuple[RiskMode, int]:
        """The new mode and relax streak: toward DEFENSIVE at once, away from it one step
        per ``relax_after`` consecutive indications."""
        cfg = self.config
        if _is_more_defensive(indicated, current):
            return indicated, 0
        if indicated == current or emergency:
            return current, 0
        streak = (previous.relax_streak if previous is not None else 0) + 1
        if streak >= cfg.relax_after:
            mode = _BY_LEVEL[_LEVEL[current] + 1]
            drivers.append(
                f"{indicated.value} indicated {streak} evaluations in a row -> "
                f"step up to {mode.value}"
            )
            return mode, 0
        drivers.append(
            f"{indicated.value} indicated {streak}/{cfg.relax_after} evaluations "
            f"in a row -> stay {current.value}"
        )
        return current, streak

    def _judge_market(self, market: StateAssessment, drivers: list[str]) -> Verdict:
        cfg = self.config
        vol, trend = market.volatility, market.trend_strength
        if vol >= cfg.high_volatility:
            drivers.append(
                f"market volatility {vol:.1%} >= {cfg.high_volatility:.1%} high threshold "
                "-> unfavourable"
            )
            return "unfavourable"
        if market.state is MarketState.CHOPPY:
            drivers.append(f"market CHOPPY (swing {market.swing:.2f}) -> unfavourable")
            return "unfavourable"
        if trend >= cfg.strong_trend:
            drivers.append(
                f"market trend strength {trend:.2f} >= {cfg.strong_trend:.2f} strong "
                f"threshold at volatility {vol:.1%} -> favourable"
            )
            return "favourable"
        drivers.append(
            f"market {market.state.value}: trend strength {trend:.2f} < "
            f"{cfg.strong_trend:.2f}, volatility {vol:.1%} < {cfg.high_volatility:.1%} "
            "-> neutral"
        )
        return "neutral"

    def _judge_performance(
        self, perf: PerformanceSnapshot | None, drivers: list[str]
    ) -> tuple[Verdict, bool]:
        """The verdict, and whether the record is sound enough for AGGRESSIVE."""
        cfg = self.config
        if perf is None:
            drivers.append("no recent trading performance -> neutral")
            return "neutral", False
        if perf.drawdown >= cfg.max_drawdown:
            drivers.append(
                f"drawdown {perf.drawdown:.1%} >= {cfg.max_drawdown:.1%} limit -> unfavourable"
            )
            return "unfavourable", False
        if perf.trades < cfg.min_trades:
            drivers.append(
                f"{perf.trades} recent trades < {cfg.min_trades} to judge performance -> neutral"
            )
            return "neutral", False
        poor: list[str] = []
        if perf.pnl_pct <= cfg.poor_pnl:
            poor.append(f"rolling PnL {perf.pnl_pct:+.1%} <= {cfg.poor_pnl:+.1%}")
        if perf.win_rate is not None and perf.win_rate < cfg.min_win_rate:
            poor.append(f"win rate {perf.win_rate:.0%} < {cfg.min_win_rate:.0%}")
        if poor:
            drivers.append(" and ".join(poor) + " -> unfavourable")
            return "unfavourable", False
        win = f", win rate {perf.win_rate:.0%}" if perf.win_rate is not None else ""
        drivers.append(
            f"performance sound: rolling PnL {perf.pnl_pct:+.1%}{win}, "
            f"drawdown {perf.drawdown:.1%} over {perf.trades} trades"
        )
        return "neutral", True


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


def candidate_base(name: str) -> str:
    """The built-in strategy a generated candidate varies: ``"momentum_1a2b3c4d"`` ->
    ``"momentum"`` (a name without the 8-hex suffix is its own base)."""
    base, _, suffix = name.rpartition("_")
    return base if base and re.fullmatch(r"[0-9a-f]{8}", suffix) else name


ML_STRATEGY = "ml"
"""The strategy that trades the production model's predictions."""


def policy_changes(
    assessment: RegimeAssessment,
    current_emergency_active: bool,
    previous: MSCMemory | None,
    strategy_states: Mapping[str, str] | None = None,
    *,
    ml_ready: bool = False,
) -> dict[str, Any]:
    """What the MSC writes into the policy for ``assessment``.

    The mode, its limits and the allowed strategies always (with the ``live`` candidates of
    ``strategy_states`` whose base strategy is allowed, and the ``ml`` strategy when
    ``ml_ready``: a model is in production; without one, ``ml`` is never allowed, since
    nothing has shown it beats chance). The ``emergency`` block only
    when the MSC raises or holds one, or clears one it raised itself (its memory says so):
    an emergency set by a person, or by the emergency-response flow before the MSC saw
    the health problem, is never cleared by a routine evaluation that found nothing wrong.

    Example: ``store.patch(policy_changes(a, policy.emergency.active, memory), ...)``.
    """
    changes = assessment.policy_patch()
    # A promoted candidate trades in the regimes its base strategy does.
    allowed = changes["allowed_strategies"]
    allowed = [name for name in allowed if name != ML_STRATEGY]
    changes["allowed_strategies"] = allowed + sorted(
        name
        for name, state in (strategy_states or {}).items()
        if str(state) == "live" and candidate_base(name) in allowed and name not in allowed
    )
    if ml_ready and allowed:  # not while an emergency allows nothing
        changes["allowed_strategies"].append(ML_STRATEGY)
    raised_by_msc = previous is not None and previous.emergency_active
    if not assessment.emergency.active and not (current_emergency_active and raised_by_msc):
        changes.pop("emergency")
    return changes
