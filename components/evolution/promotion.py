"""Shadow and promotion: pure decisions about generated strategies, on evidence.

    entry = enter_shadow(result.best(5), policy, config, run_id=run.run_id)
    transitions = review(policy.strategy_states, records, now, config)
    patch = policy_patch([*entry.transitions, *transitions], policy)
    store.patch(patch, by="strategy-generation", reason=..., expected_version=policy.version)
    bus.publish_many(Event.create("strategy.promoted", t.payload(), source=...) for t in ...)

The life of a candidate
-----------------------
1. **Shadow.** The fittest candidates of a run (out-of-sample fitness at least
   ``min_fitness``; at most ``max_new_shadow`` per run and ``max_shadow`` at once; with
   ``distinct_strategies``, one per kind of strategy per run) enter ``strategy_states`` as
   ``shadow``. The engine trades them on paper, without capital, and records what they
   would have earned: a :class:`ShadowRecord` per strategy, from analytics'
   per-strategy metrics of those fills (:meth:`ShadowRecord.from_metrics`).
2. **Live.** A shadow strategy is promoted once it has been in shadow for
   ``min_shadow_period`` with at least ``min_trades`` trades, a Sharpe of at least
   ``promote_sharpe`` and a return of at least ``promote_return``. Promotion adds it to
   ``allowed_strategies``.
3. **Retired.** A shadow strategy that falls below the floor (Sharpe under
   ``retire_sharpe`` or return under ``retire_return``) after the same minimum period and
   trades, or that has not cleared the thresholds within ``max_shadow_period``, is
   retired; so is a live one below the floor after ``min_live_period`` and ``min_trades``
   (it leaves ``allowed_strategies``). Retired is final.

A figure that is unknown (no Sharpe yet, no capital to measure a return against) never
clears a threshold and never breaches a floor: promotion fails closed, retirement waits.
Every decision is a :class:`Transition` with its reason and evidence; each one is a
``strategy.promoted`` event (:meth:`Transition.payload`). Nothing here reads a clock, the
policy store or the bus: the caller passes ``now`` and the policy, and applies the patch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from components.errors import ConfigurationError
from components.events.types import StrategyPromoted
from components.evolution.fitness import Evaluation
from components.evolution.sections import PromotionConfig
from components.evolution.store import Candidate
from components.policy.model import GlobalPolicy, StrategyState

_DAY = timedelta(days=1)
_YEAR = timedelta(days=365)


class TradeMetricsLike(Protocol):
    """What :meth:`ShadowRecord.from_metrics` reads: analytics' per-strategy
    :class:`~components.analytics.StrategyMetrics` has it all."""

    @property
    def fills(self) -> int: ...
    @property
    def trades(self) -> int: ...
    @property
    def pnl(self) -> float: ...
    @property
    def sharpe(self) -> float | None: ...
    @property
    def win_rate(self) -> float | None: ...
    @property
    def max_drawdown(self) -> float: ...


class ShadowRecord(BaseModel):
    """What a strategy earned since it entered its current state (shadow or live): the
    figures of analytics' per-strategy metrics over its fills since ``since``, and the
    paper ``capital`` its PnL is measured against (for the return).

    Example: ``ShadowRecord.from_metrics(analytics.strategy_metrics()[name], since=t0,
    capital=10_000)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    since: AwareDatetime = Field(description="When the strategy entered its state.")
    trades: int = Field(0, ge=0, description="Fills that closed or reduced a position.")
    fills: int = Field(0, ge=0)
    pnl: float = Field(0.0, description="Net realised PnL, quote currency.")
    sharpe: float | None = Field(None, description="Annualised; None while unknown.")
    win_rate: float | None = Field(None, ge=0, le=1)
    max_drawdown: float = Field(0.0, ge=0, description="Of cumulative PnL, quote currency.")
    capital: float | None = Field(None, gt=0, description="Quote currency; None: unknown.")

    @classmethod
    def from_metrics(
        cls, metrics: TradeMetricsLike, *, since: datetime, capital: float | None = None
    ) -> ShadowRecord:
        """The record of analytics' metrics of one strategy (fills since ``since``)."""
        return cls(
            since=since,
            trades=metrics.trades,
            fills=metrics.fills,
            pnl=metrics.pnl,
            sharpe=metrics.sharpe,
            win_rate=metrics.win_rate,
            max_drawdown=metrics.max_drawdown,
            capital=capital,
        )

    @property
    def total_return(self) -> float | None:
        """``pnl / capital``, or ``None`` without a capital."""
        return None if self.capital is None else self.pnl / self.capital

    def evidence(self, now: datetime) -> dict[str, Any]:
        """The record as plain JSON-ready numbers, with its age at ``now``."""
        return {
            "since": self.since.isoformat(),
            "days": round((now - self.since) / _DAY, 3),
            "trades": self.trades,
            "fills": self.fills,
            "pnl": _number(self.pnl),
            "return": _number(self.total_return),
            "sharpe": _number(self.sharpe),
            "win_rate": _number(self.win_rate),
            "max_drawdown": _number(self.max_drawdown),
            "capital": self.capital,
        }


class Transition(BaseModel):
    """One change of a strategy's state, with why (``reason``) and the figures behind it.

    ``from_state`` is ``None`` for a candidate entering the policy.

    Example: ``Transition(strategy="momentum_1f7d29b1", from_state="shadow",
    to_state="live", reason="cleared ...", evidence={...}).payload()``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    from_state: StrategyState | None
    to_state: StrategyState
    reason: str
    evidence: dict[str, Any] = Field(default_factory=dict)

    def payload(self) -> StrategyPromoted:
        """The ``strategy.promoted`` event payload of this change (reason in the evidence)."""
        return StrategyPromoted(
            strategy=self.strategy,
            from_state=None if self.from_state is None else self.from_state.value,
            to_state=self.to_state.value,
            evidence={"reason": self.reason, **self.evidence},
        )


class ShadowEntry(BaseModel):
    """Candidates that enter shadow (as transitions) and why the others did not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transitions: tuple[Transition, ...] = ()
    skipped: dict[str, str] = Field(default_factory=dict, description="Candidate -> why not.")

    @property
    def names(self) -> list[str]:
        return [t.strategy for t in self.transitions]


# --- the decisions ----------------------------------------------------------------------------


def enter_shadow(
    candidates: Sequence[Evaluation | Candidate],
    policy: GlobalPolicy,
    config: PromotionConfig | None = None,
    *,
    run_id: str | None = None,
) -> ShadowEntry:
    """Which of ``candidates`` (fittest first wins a slot) enter ``strategy_states`` as
    shadow, under :attr:`Genome.candidate_name
    <components.evolution.genome.Genome.candidate_name>`.

    A candidate is skipped when the policy already names it (in any state: a retired one
    does not come back), when a gate rejected it, when its fitness is below
    ``min_fitness``, when a fitter one of its kind enters this run (with
    ``distinct_strategies``), or when there is no room left.

    Example: ``policy_patch(enter_shadow(result.best(5), policy).transitions, policy)``.
    """
    config = config or PromotionConfig()
    evaluations = [
        (c.evaluation, c.run_id) if isinstance(c, Candidate) else (c, run_id) for c in candidates
    ]
    evaluations.sort(key=lambda pair: (-_rank(pair[0].fitness), pair[0].genome.id))
    in_shadow = sum(1 for s in policy.strategy_states.values() if s == StrategyState.SHADOW)
    room = max(min(config.max_new_shadow, config.max_shadow - in_shadow), 0)
    entered: list[Transition] = []
    kinds: set[str] = set()
    skipped: dict[str, str] = {}
    for evaluation, source in evaluations:
        name = evaluation.candidate_name
        kind = evaluation.genome.strategy
        state = policy.strategy_states.get(name)
        if state is not None:
            skipped[name] = f"already {StrategyState(state).value} in the policy"
        elif not evaluation.passed:
            skipped[name] = f"rejected by a gate: {evaluation.rejected}"
        elif not (math.isfinite(evaluation.fitness) and evaluation.fitness >= config.min_fitness):
            skipped[name] = (
                f"fitness {evaluation.fitness:.3f} is below min_fitness {config.min_fitness:g}"
            )
        elif config.distinct_strategies and kind in kinds:
            skipped[name] = f"a fitter {kind} candidate enters shadow in this run"
        elif len(entered) >= room:
            skipped[name] = (
                f"no room: {len(entered)} entered this run (max_new_shadow "
                f"{config.max_new_shadow}), {in_shadow} already in shadow (max_shadow "
                f"{config.max_shadow})"
            )
        else:
            kinds.add(kind)
            entered.append(
                Transition(
                    strategy=name,
                    from_state=None,
                    to_state=StrategyState.SHADOW,
                    reason=(
                        f"out-of-sample fitness {evaluation.fitness:.3f} >= min_fitness "
                        f"{config.min_fitness:g}"
                    ),
                    evidence=_candidate_evidence(evaluation, source),
                )
            )
    return ShadowEntry(transitions=tuple(entered), skipped=skipped)


def review(
    states: Mapping[str, StrategyState | str],
    records: Mapping[str, ShadowRecord],
    now: datetime,
    config: PromotionConfig | None = None,
) -> list[Transition]:
    """Promote or retire the shadow and live strategies of ``states`` on their
    ``records`` (module docstring rules), in name order; a strategy whose record is missing
    or too young stays as it is.

    Parameters
    ----------
    states
        The policy's ``strategy_states``.
    records
        What each shadow or live strategy earned since it entered its state.
    now
        The time of the review (timezone-aware).

    Raises
    ------
    ConfigurationError
        ``now`` is naive.

    Example: ``review(policy.strategy_states, {"momentum_1f7d29b1": record}, now)``.
    """
    if now.tzinfo is None:
        raise ConfigurationError("now must be timezone-aware")
    config = config or PromotionConfig()
    transitions: list[Transition] = []
    for name in sorted(states):
        state = StrategyState(states[name])
        record = records.get(name)
        if record is None or state is StrategyState.RETIRED:
            continue
        decided = (
            _review_shadow(name, record, now, config)
            if state is StrategyState.SHADOW
            else _review_live(name, record, now, config)
        )
        if decided is not None:
            transitions.append(decided)
    return transitions


def policy_patch(transitions: Sequence[Transition], policy: GlobalPolicy) -> dict[str, Any]:
    """The ``PolicyStore.patch`` changes of ``transitions`` made to ``policy``: the new
    states, and ``allowed_strategies`` with each promoted strategy added and each retired
    one removed (only when it changes). Empty when there is nothing to change.

    Pass ``expected_version=policy.version`` to the patch: ``allowed_strategies`` is
    written whole, so a concurrent change must make this decision again.

    Example: ``store.patch(policy_patch(ts, policy), by="strategy-generation", reason=...)``.
    """
    if not transitions:
        return {}
    allowed = list(policy.allowed_strategies)
    states: dict[str, str] = {}
    for t in transitions:
        states[t.strategy] = t.to_state.value
        if t.to_state is StrategyState.LIVE and t.strategy not in allowed:
            allowed.append(t.strategy)
        elif t.to_state is StrategyState.RETIRED and t.strategy in allowed:
            allowed.remove(t.strategy)
    patch: dict[str, Any] = {"strategy_states": states}
    if allowed != policy.allowed_strategies:
        patch["allowed_strategies"] = allowed
    return patch


# --- helpers ----------------------------------------------------------------------------------


def _review_shadow(
    name: str, record: ShadowRecord, now: datetime, config: PromotionConfig
) -> Transition | None:
    age = now - record.since
    if age < config.min_shadow_period:
        return None
    judged = record.trades >= config.min_trades
    if judged and _clears(record, config):
        return _transition(
            name,
            record,
            now,
            StrategyState.SHADOW,
            StrategyState.LIVE,
            f"cleared the thresholds in shadow: {_figures(record, config)}",
            config,
        )
    breach = _breach(record, config) if judged else None
    if breach is not None:
        return _transition(
            name,
            record,
            now,
            StrategyState.SHADOW,
            StrategyState.RETIRED,
            f"below the floor in shadow: {breach}",
            config,
        )
    if age >= config.max_shadow_period:
        return _transition(
            name,
            record,
            now,
            StrategyState.SHADOW,
            StrategyState.RETIRED,
            f"not promoted within max_shadow_period {config.max_shadow_period}: "
            f"{_figures(record, config)}",
            config,
        )
    return None


def _review_live(
    name: str, record: ShadowRecord, now: datetime, config: PromotionConfig
) -> Transition | None:
    if now - record.since < config.min_live_period or record.trades < config.min_trades:
        return None
    breach = _breach(record, config)
    if breach is None:
        return None
    return _transition(
        name,
        record,
        now,
        StrategyState.LIVE,
        StrategyState.RETIRED,
        f"below the floor live: {breach}",
        config,
    )


def _clears(record: ShadowRecord, config: PromotionConfig) -> bool:
    sharpe = record.sharpe
    if sharpe is None or not sharpe >= config.promote_sharpe:
        return False
    if config.promote_return is None:
        return True
    sign = _compare_return(record, config.promote_return)
    return sign is not None and sign >= 0


def _breach(record: ShadowRecord, config: PromotionConfig) -> str | None:
    """Which floor the record is below, or None."""
    sharpe = record.sharpe
    if sharpe is not None and sharpe < config.retire_sharpe:
        return f"sharpe {sharpe:.3f} < retire_sharpe {config.retire_sharpe:g}"
    floor = config.retire_return
    if floor is not None and _compare_return(record, floor) == -1:
        return f"return {record.total_return:.2%} < retire_return {floor:.2%}"
    return None


def _compare_return(record: ShadowRecord, threshold: float) -> int | None:
    """The sign (-1, 0, 1) of ``pnl / capital - threshold``, computed exactly, or ``None``
    when the return is unknown (no capital, a PnL that is not finite).

    The float quotient can round across a threshold: a loss of ``-5e-324`` on 10,000 of
    capital divides to ``-0.0``, which a plain ``>= 0.0`` takes for a return of zero.
    """
    if record.capital is None or not math.isfinite(record.pnl):
        return None
    gap = Fraction(record.pnl) - Fraction(threshold) * Fraction(record.capital)
    return (gap > 0) - (gap < 0)


def _figures(record: ShadowRecord, config: PromotionConfig) -> str:
    """The record's figures beside the thresholds to go live."""
    sharpe = "unknown" if record.sharpe is None else f"{record.sharpe:.3f}"
    total = record.total_return
    ret = "unknown" if total is None else f"{total:.2%}"
    wanted = "any" if config.promote_return is None else f"{config.promote_return:.2%}"
    return (
        f"sharpe {sharpe} (promote_sharpe {config.promote_sharpe:g}), return {ret} "
        f"(promote_return {wanted}), {record.trades} trades (min_trades {config.min_trades})"
    )


def _transition(
    name: str,
    record: ShadowRecord,
    now: datetime,
    from_state: StrategyState,
    to_state: StrategyState,
    reason: str,
    config: PromotionConfig,
) -> Transition:
    thresholds = config.model_dump(
        mode="json",
        include={
            "min_trades",
            "promote_sharpe",
            "promote_return",
            "retire_sharpe",
            "retire_return",
            "min_shadow_period",
            "max_shadow_period",
            "min_live_period",
        },
    )
    return Transition(
        strategy=name,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        evidence={"record": record.evidence(now), "thresholds": thresholds},
    )


def _candidate_evidence(evaluation: Evaluation, run_id: str | None) -> dict[str, Any]:
    out, inside = evaluation.summary("out_of_sample"), evaluation.summary("in_sample")
    return {
        "run_id": run_id,
        "genome_id": evaluation.genome.id,
        "kind": evaluation.genome.strategy,
        "params": dict(evaluation.genome.params),
        "fitness": _number(evaluation.fitness),
        "in_sample_score": _number(evaluation.in_sample_score),
        "out_of_sample": {k: _number(v) for k, v in out.model_dump().items()},
        "in_sample": {k: _number(v) for k, v in inside.model_dump().items()},
    }


def _rank(fitness: float) -> float:
    return fitness if math.isfinite(fitness) else -math.inf


def _number(value: Any) -> Any:
    """A JSON-safe number: ``None`` for NaN or an infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
