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
The rules live here; the inputs, the memory and the decision (with its rendering) in
:mod:`components.regime.assessment`, the knobs in :mod:`components.regime.config`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from components.errors import ConfigurationError
from components.health.status import HealthStatus
from components.policy.config import ModeLimits, RiskLimits, RiskMode
from components.regime.assessment import (
    EmergencyStatus,
    HealthSnapshot,
    MSCInputs,
    MSCMemory,
    PerformanceSnapshot,
    RegimeAssessment,
)
from components.regime.classifier import StateAssessment
from components.regime.config import (
    MarketState,
    MSCConfig,
)

if TYPE_CHECKING:
    from components.settings import Settings

__all__ = [
    "EmergencyStatus",
    "HealthSnapshot",
    "HealthStatus",
    "MSCInputs",
    "MSCMemory",
    "MetaStrategyController",
    "ModeLimits",
    "PerformanceSnapshot",
    "RegimeAssessment",
    "candidate_base",
    "policy_changes",
]

_LEVEL = {RiskMode.DEFENSIVE: 0, RiskMode.NORMAL: 1, RiskMode.AGGRESSIVE: 2}
_BY_LEVEL = {level: mode for mode, level in _LEVEL.items()}


def _is_more_defensive(a: RiskMode, b: RiskMode) -> bool:
    return _LEVEL[a] < _LEVEL[b]


Verdict = Literal["favourable", "neutral", "unfavourable"]


class MetaStrategyController:
    """Decides the risk mode from market, health and performance (module docstring).

    Example::

        msc = MetaStrategyController.from_settings(settings)
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

    @classmethod
    def from_settings(cls, settings: Settings) -> MetaStrategyController:
        """The controller of ``settings``: its thresholds, the mode limits, the first mode."""
        return cls(settings.msc, limits=settings.limits, initial_mode=settings.policy.risk_mode)

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
