"""The Continuous Learning Manager: retrain, evaluate in shadow, promote only on evidence.

One :meth:`LearningManager.retrain` call:

1. builds features and labels of every symbol on one timeline
   (:func:`~components.learning.features.build_dataset`);
2. cuts the timeline into a training window and, after a purge of ``horizon`` bars and an
   embargo, the most recent ``eval_bars`` as the evaluation window
   (:func:`~components.learning.features.time_splits`), and up to
   ``walk_forward_folds - 1`` earlier such splits before it (walk-forward);
3. trains a model on each split's training window (seeded; the splits fan out through the
   ``map_fn`` given, e.g. a Dask cluster's) and scores it on its own out-of-sample window:
   the most recent split's model is the candidate, and every split's scores are reported
   as the walk-forward evidence (how stable the model's edge is through time);
4. scores the candidate and the production model on the *same* evaluation window: log
   loss and AUC of their probabilities, and the result of trading their signals
   (:func:`~components.learning.evaluation.signal_pnl`, next-bar fills, net of costs);
5. promotes the candidate only when it beats production by the configured margins on
   prediction quality (log loss lower by ``min_log_loss_gain`` and AUC higher by
   ``min_auc_gain``) **and** on trading (``trading_metric`` higher by
   ``min_trading_gain``), every gain also strictly positive; otherwise registers it as
   ``retired`` with its evidence. ``retrain(..., apply=False)`` (OBSERVE mode) decides
   the same way but leaves an approved candidate as ``candidate``, production untouched.

Every promotion, the first model's included, also needs evidence that the candidate beats
the naive baselines out of sample: its AUC above chance (0.5) by more than ``auc_z``
standard errors of its AUC across ``auc_folds`` consecutive folds of the evaluation window
(a margin its fold variance supports), and a positive net return from trading its signals
after costs (doing nothing earns 0). A first model (no production version yet) must in
addition be *sane* (finite scores, log loss at most ``first_max_log_loss``, AUC at least
``first_min_auc``). A first model without that evidence stays a ``candidate`` with the
reasons; no model goes to production because none existed. The same rules apply when the
production artifact cannot be loaded.

The promoted artifact is the evaluated one (it is not refit on the evaluation window), so
the evidence is about the model that trades. The production model may have been trained on
bars inside the evaluation window (when ``eval_bars`` is longer than the time since it was
trained); its scores are then partly in-sample, which favours keeping it, and the evidence
says so.

The manager writes only to the registry. Patching ``model_versions`` and publishing
``model.promoted`` is the caller's job: :meth:`RetrainResult.policy_patch` and
:meth:`RetrainResult.event_payload` give both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.clock import Clock, as_utc
from components.config import declared
from components.errors import ConfigurationError, DataError
from components.events.types import ModelPromoted
from components.execution.costs import CostModel
from components.learning.config import ClmConfig
from components.learning.evaluation import (
    PredictionMetrics,
    TradingMetrics,
    auc_by_fold,
    directions_from_probability,
    prediction_metrics,
    signal_pnl,
)
from components.learning.features import (
    Dataset,
    FeatureConfig,
    LabelConfig,
    build_dataset,
    make_labels,
    time_splits,
)
from components.learning.model import ModelConfig, PredictionModel, train_model
from components.learning.registry import (
    DataWindow,
    ModelArtifactError,
    ModelRegistry,
    ModelVersion,
    finite_metrics,
)
from components.market.base import BAR_COLUMNS
from components.market.validation import bars_per_day
from components.regime.classifier import ClassifierConfig

if TYPE_CHECKING:
    from components.settings import Settings

DEFAULT_MODEL: str = ClmConfig().model_name
"""The name of the model the CLM trains and the ``ml`` strategy trades by default."""


class LearningConfig(BaseModel):
    """Everything a retraining decides with; see the module docstring for the rules.

    Example: ``LearningConfig(eval_bars=168, label=LabelConfig(horizon=4))``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_name: str = declared(ClmConfig, "model_name")
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train_bars: int | None = Field(
        2_160, ge=100, le=1_000_000, description="Training window (bars); None: all before."
    )
    eval_bars: int = declared(ClmConfig, "eval_bars")
    embargo: int = Field(4, ge=0, le=10_000, description="Bars dropped on top of the purge.")
    threshold: float = declared(ClmConfig, "threshold")
    long_only: bool = Field(False, description="Evaluate long-only signals.")
    costs: CostModel = Field(default_factory=CostModel)
    bars_per_year: float = Field(8_760, gt=0, le=1e8, description="To annualise the Sharpe.")
    trading_metric: Literal["sharpe", "total_return"] = "sharpe"
    min_log_loss_gain: float = declared(ClmConfig, "min_log_loss_gain")
    min_auc_gain: float = declared(ClmConfig, "min_auc_gain")
    min_trading_gain: float = declared(ClmConfig, "min_trading_gain")
    first_max_log_loss: float = Field(0.75, gt=0, le=10)
    first_min_auc: float = Field(0.40, ge=0, le=1)
    auc_folds: int = Field(
        5, ge=2, le=100, description="Consecutive folds of the evaluation window for the AUC."
    )
    auc_z: float = Field(
        1.0, ge=0, le=10, description="Standard errors of the fold AUCs it must clear 0.5 by."
    )
    walk_forward_folds: int = Field(
        3,
        ge=1,
        le=50,
        description="Walk-forward splits trained and scored (the most recent that fit); "
        "the last one's model is the candidate.",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.eval_bars <= self.label.horizon:
            raise ValueError(
                f"eval_bars={self.eval_bars} must exceed the label horizon {self.label.horizon}"
            )
        return self

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Self:
        """From the CLM section (``settings.clm``: model name, windows, threshold, the gains
        a new model must show, the label's horizon and dead zone), the paper-trading costs
        and the timeframe; ``overrides`` win.

        Example: ``LearningConfig.from_settings(load_settings(), eval_bars=168)``.
        """
        timeframe, clm = settings.timeframe, settings.clm
        values: dict[str, Any] = {
            "costs": settings.paper.costs,
            "bars_per_year": bars_per_day(timeframe) * 365,
            "features": FeatureConfig(
                regime=ClassifierConfig.from_msc(settings.msc, timeframe=timeframe)
            ),
            "model_name": clm.model_name,
            "train_bars": clm.train_bars,
            "eval_bars": clm.eval_bars,
            "threshold": clm.threshold,
            "min_log_loss_gain": clm.min_log_loss_gain,
            "min_auc_gain": clm.min_auc_gain,
            "min_trading_gain": clm.min_trading_gain,
            "label": LabelConfig(horizon=clm.horizon, dead_zone=clm.dead_zone),
        }
        return cls(**{**values, **overrides})


ML_WAITS = (
    "With no model in production, the ml strategy stays out of the allowed strategies "
    "(the MSC adds it once one is promoted)"
)
"""What a retraining report says while no model is in production."""


class ModelEvaluation(BaseModel):
    """One model's scores on the evaluation window."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    version: str | None = Field(description="The registry version; None before registering.")
    prediction: PredictionMetrics
    trading: TradingMetrics
    fold_auc: tuple[float, ...] = Field(
        (), description="The AUC of each consecutive fold of the evaluation window."
    )

    @property
    def auc_standard_error(self) -> float:
        """The standard error of the AUC from its fold variance (NaN under two folds)."""
        folds = self.fold_auc
        if len(folds) < 2:
            return math.nan
        return float(np.std(folds, ddof=1) / math.sqrt(len(folds)))

    def metrics(self) -> dict[str, float]:
        """Flat metrics for the registry and events: ``log_loss``, ``auc``, ``brier``,
        ``sharpe``, ``total_return``, ``trades``, ``exposure``, ``samples``.

        Example: ``evaluation.metrics()["auc"]``.
        """
        p, t = self.prediction, self.trading
        return {
            "log_loss": p.log_loss,
            "auc": p.auc,
            "brier": p.brier,
            "samples": float(p.samples),
            "sharpe": t.sharpe,
            "total_return": t.total_return,
            "trades": float(t.trades),
            "exposure": t.exposure,
        }


class WalkForwardFold(BaseModel):
    """One walk-forward split: the model trained on ``train_window`` and its scores on
    ``test_window`` (out of sample)."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    train_window: DataWindow
    test_window: DataWindow
    scores: ModelEvaluation


class RetrainResult(BaseModel):
    """What a retraining did and why.

    ``version`` is the candidate's registry version; ``approved`` says whether it passed
    the rules, ``promoted`` whether it is now in production (``previous_version`` was, and
    is retired); they differ only for ``retrain(..., apply=False)``. ``reasons`` explain the
    decision; ``candidate`` and ``production`` hold both sets of scores (``production`` is
    ``None`` when there was none to compare with).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    model: str
    version: str
    approved: bool
    promoted: bool
    previous_version: str | None
    reasons: tuple[str, ...]
    candidate: ModelEvaluation
    production: ModelEvaluation | None
    train_window: DataWindow
    eval_window: DataWindow
    trained_at: datetime
    seed: int
    walk_forward: tuple[WalkForwardFold, ...] = Field(
        (),
        description="Each split's out-of-sample scores, oldest first; the last: the candidate.",
    )

    @property
    def production_version(self) -> str | None:
        """The version in production after this retraining."""
        return self.version if self.promoted else self.previous_version

    def policy_patch(self) -> dict[str, Any]:
        """The PolicyStore patch to apply: ``{"model_versions": {model: version}}`` when
        promoted, ``{}`` otherwise.

        Example: ``store.patch(result.policy_patch(), by="clm", reason=result.summary())``.
        """
        return {"model_versions": {self.model: self.version}} if self.promoted else {}

    def event_payload(self) -> ModelPromoted | None:
        """The ``model.promoted`` payload when promoted (the candidate's finite metrics),
        ``None`` otherwise.

        Example: ``Event.create(MODEL_PROMOTED, payload.model_dump(), source="clm")``.
        """
        if not self.promoted:
            return None
        return ModelPromoted(
            model=self.model,
            version=self.version,
            previous_version=self.previous_version,
            action="promoted",
            metrics=finite_metrics(self.candidate.metrics()),
        )

    def summary(self) -> str:
        """One line: ``"price_direction v0003 promoted: ..."`` or ``"... not promoted: ..."``."""
        verdict = "promoted" if self.promoted else "not promoted"
        if self.approved and not self.promoted:
            verdict = "approved, not promoted (not applied)"
        line = f"{self.model} {self.version} {verdict}: {'; '.join(self.reasons)}"
        if self.production_version is None:
            line += f". {ML_WAITS}"
        return line


class LearningManager:
    """Retrains a model on fresh bars and promotes the candidate only on evidence.

    Parameters
    ----------
    registry
        Where versions are kept and production is decided.
    config
        Windows, thresholds and margins.
    clock
        Gives ``now`` when :meth:`retrain` is called without one.

    Example::

        manager = LearningManager(registry, LearningConfig(), clock=SystemClock())
        result = manager.retrain(bars_by_symbol, seed=7)
        if result.promoted:
            store.patch(result.policy_patch(), by="clm", reason=result.summary())
    """

    def __init__(self, registry: ModelRegistry, config: LearningConfig, *, clock: Clock) -> None:
        self.registry = registry
        self.config = config
        self.clock = clock

    def retrain(
        self,
        bars_by_symbol: Mapping[str, pd.DataFrame],
        *,
        seed: int,
        now: datetime | None = None,
        apply: bool = True,
        map_fn: FoldMapFn | Callable[..., Iterable[Any]] = map,
    ) -> RetrainResult:
        """Train a candidate, score it against production, promote or retire it.

        Parameters
        ----------
        bars_by_symbol
            ``{symbol: bars}`` per :mod:`components.market.base`, the most recent bars
            last; together they must cover the feature warm-up, the training window, the
            purge and embargo, the evaluation window and the label horizon.
        seed
            Seed of the candidate's training: same bars and seed, same result.
        now
            The time of the retraining (``trained_at``, tag times); the clock's by default.
        apply
            Promote an approved candidate. ``False`` (a module in OBSERVE mode) decides
            and registers the candidate (``candidate`` when approved, ``retired``
            otherwise) but leaves production alone; ``promote()`` it by hand later.
        map_fn
            Runs :func:`train_fold` over the walk-forward splits, results in order: the
            builtin ``map`` (here), a process pool's or a Dask client's. Same bars and
            seed, same result on any of them.

        Returns
        -------
        RetrainResult
            The candidate's version, whether it was promoted and why, both sets of scores.

        Raises
        ------
        DataError
            The bars are too few or malformed; nothing is registered.

        Example: ``manager.retrain({"BTC/USDT": bars}, seed=7).summary()``.
        """
        cfg = self.config
        at = as_utc(now if now is not None else self.clock.now(), name="now")
        _check_bars(bars_by_symbol)
        dataset = build_dataset(bars_by_symbol, features=cfg.features, label=cfg.label)
        horizon = cfg.label.horizon
        labelled_positions = len(dataset.timeline) - horizon
        try:
            splits = time_splits(
                labelled_positions,
                train=cfg.train_bars,
                test=cfg.eval_bars,
                purge=horizon,
                embargo=cfg.embargo,
                folds=cfg.walk_forward_folds,
            )
        except ConfigurationError as exc:
            raise DataError(
                f"too few bars to retrain: {len(dataset.timeline)} bar times; {exc}"
            ) from None
        jobs = [
            FoldJob(
                train=dataset.rows(np.isin(dataset.time, split.train)),
                window=(int(split.test[0]), int(split.test[-1])),
                bars=bars_by_symbol,
                timeline=dataset.timeline,
                config=cfg,
                seed=seed,
            )
            for split in splits
        ]
        trained = list(map_fn(train_fold, jobs))
        walk_forward = tuple(
            WalkForwardFold(
                train_window=_window(
                    dataset, job.train.time, job.train.symbol, rows=len(job.train.y)
                ),
                test_window=_eval_window(dataset, job.window),
                scores=fold.scores,
            )
            for job, fold in zip(jobs, trained, strict=True)
        )
        candidate_model, candidate = trained[-1].model, trained[-1].scores
        window = jobs[-1].window

        previous = self.registry.production(cfg.model_name)
        production, reasons, evidence = self._score_production(
            previous, bars_by_symbol, dataset, window
        )
        if production is None:
            promote, why = self._is_sane(candidate)
        else:
            promote, why = self._beats(candidate, production)
        evidence_ok, against_baselines = self._beats_baselines(candidate)
        promote = promote and evidence_ok
        reasons.extend(why)
        reasons.extend(against_baselines)

        train_window, eval_window = walk_forward[-1].train_window, walk_forward[-1].test_window
        evidence.update(
            {
                "decision": "approved" if promote else "rejected",
                "reasons": reasons,
                "candidate": candidate.model_dump(mode="json"),
                "production": None if production is None else production.model_dump(mode="json"),
                "eval_window": eval_window.model_dump(mode="json"),
                "margins": {
                    "min_log_loss_gain": cfg.min_log_loss_gain,
                    "min_auc_gain": cfg.min_auc_gain,
                    "min_trading_gain": cfg.min_trading_gain,
                    "trading_metric": cfg.trading_metric,
                },
                "seed": seed,
                "walk_forward": [fold.model_dump(mode="json") for fold in walk_forward],
            }
        )
        _clean_floats(evidence)
        entry = self.registry.register(
            cfg.model_name,
            candidate_model,
            trained_at=at,
            data_window=train_window,
            metrics=candidate.metrics(),
            evidence=evidence,
            # A first model without the evidence waits as a candidate; one that lost to
            # production is retired.
            tag="candidate" if promote or production is None else "retired",
        )
        previous_version = None if previous is None else previous.version
        if promote and apply:
            change = self.registry.promote(
                cfg.model_name, entry.version, now=at, reason="; ".join(reasons)
            )
            previous_version = change.previous_version
        return RetrainResult(
            model=cfg.model_name,
            version=entry.version,
            approved=promote,
            promoted=promote and apply,
            previous_version=previous_version,
            reasons=tuple(reasons),
            candidate=candidate.model_copy(update={"version": entry.version}),
            production=production,
            train_window=train_window,
            eval_window=eval_window,
            trained_at=at,
            seed=seed,
            walk_forward=walk_forward,
        )

    def _score_production(
        self,
        entry: ModelVersion | None,
        bars_by_symbol: Mapping[str, pd.DataFrame],
        dataset: Dataset,
        window: tuple[int, int],
    ) -> tuple[ModelEvaluation | None, list[str], dict[str, Any]]:
        """The production model's scores on the window (``None`` when there is none or it
        cannot be loaded), reasons to report, and evidence to keep."""
        if entry is None:
            return None, [], {}
        try:
            model = self.registry.load(self.config.model_name, entry.version)
        except ModelArtifactError as exc:
            return None, [f"production {entry.version} cannot be loaded ({exc})"], {}
        evidence: dict[str, Any] = {}
        eval_start = dataset.timeline[window[0]]
        if entry.data_window is not None and entry.data_window.end >= eval_start:
            evidence["production_in_sample"] = (
                f"{entry.version} was trained on bars up to "
                f"{entry.data_window.end.isoformat()}, inside the evaluation window from "
                f"{eval_start.isoformat()}"
            )
        scores = score_model(
            model, entry.version, bars_by_symbol, dataset.timeline, window, self.config
        )
        return scores, [], evidence

    # --- the decision ------------------------------------------------------------------------

    def _is_sane(self, candidate: ModelEvaluation) -> tuple[bool, list[str]]:
        cfg = self.config
        p = candidate.prediction
        problems = []
        if not math.isfinite(p.log_loss) or p.log_loss > cfg.first_max_log_loss:
            problems.append(f"log loss {p.log_loss:.4f} above the floor {cfg.first_max_log_loss}")
        if not math.isfinite(p.auc) or p.auc < cfg.first_min_auc:
            problems.append(f"AUC {p.auc:.4f} below the floor {cfg.first_min_auc}")
        if problems:
            return False, [
                "no production model to compare with, and the candidate is not sane: "
                + "; ".join(problems)
            ]
        return True, [
            f"no production model: the first model is sane (log loss {p.log_loss:.4f} <= "
            f"{cfg.first_max_log_loss}, AUC {p.auc:.4f} >= {cfg.first_min_auc})"
        ]

    def _beats_baselines(self, candidate: ModelEvaluation) -> tuple[bool, list[str]]:
        """Whether ``candidate`` beats chance (AUC 0.5, by ``auc_z`` standard errors of
        its fold AUCs) and doing nothing (a net return of 0 after costs)."""
        cfg = self.config
        auc, se = candidate.prediction.auc, candidate.auc_standard_error
        lower = auc - cfg.auc_z * se
        auc_ok = math.isfinite(lower) and lower > 0.5
        folds = len(candidate.fold_auc)
        spread = (
            f"standard error {se:.4f} over {folds} folds"
            if math.isfinite(se)
            else (f"only {folds} fold(s) with both classes: no variance to judge by")
        )
        net = candidate.trading.total_return
        net_ok = math.isfinite(net) and net > 0
        return auc_ok and net_ok, [
            f"baseline chance: AUC {auc:.4f} - {cfg.auc_z:g} x {spread} = {lower:.4f} "
            f"{'beats' if auc_ok else 'does not beat'} 0.5",
            f"baseline doing nothing: out-of-sample net return {net:+.4f} after costs "
            f"{'beats' if net_ok else 'does not beat'} 0",
        ]

    def _beats(
        self, candidate: ModelEvaluation, production: ModelEvaluation
    ) -> tuple[bool, list[str]]:
        cfg = self.config
        c, p = candidate, production
        checks = [
            (
                "log loss",
                p.prediction.log_loss - c.prediction.log_loss,
                cfg.min_log_loss_gain,
                c.prediction.log_loss,
                p.prediction.log_loss,
            ),
            (
                "AUC",
                c.prediction.auc - p.prediction.auc,
                cfg.min_auc_gain,
                c.prediction.auc,
                p.prediction.auc,
            ),
            (
                cfg.trading_metric,
                _trading(c.trading, cfg) - _trading(p.trading, cfg),
                cfg.min_trading_gain,
                _trading(c.trading, cfg),
                _trading(p.trading, cfg),
            ),
        ]
        reasons = []
        passed = True
        for name, gain, margin, mine, theirs in checks:
            ok = math.isfinite(gain) and gain > 0 and gain >= margin
            passed &= ok
            verdict = "beats" if ok else "does not beat"
            reasons.append(
                f"{name}: candidate {mine:.4f} vs production {theirs:.4f} "
                f"(gain {gain:+.4f}, margin {margin}) {verdict}"
            )
        return passed, reasons


@dataclass(frozen=True, slots=True, eq=False)
class FoldJob:
    """One walk-forward split to train and score: the unit of parallel work (it pickles,
    so it can travel to a process pool or a Dask worker)."""

    train: Dataset
    window: tuple[int, int]
    bars: Mapping[str, pd.DataFrame]
    timeline: pd.DatetimeIndex
    config: LearningConfig
    seed: int


@dataclass(frozen=True, slots=True, eq=False)
class TrainedFold:
    """The model trained on a :class:`FoldJob`'s training rows, and its out-of-sample scores."""

    model: PredictionModel
    scores: ModelEvaluation


class FoldMapFn(Protocol):
    """``map`` and anything shaped like it: ``map_fn(function, items)`` -> results in order."""

    def __call__(
        self, fn: Callable[[FoldJob], TrainedFold], items: Iterable[FoldJob], /
    ) -> Iterable[TrainedFold]: ...


def train_fold(job: FoldJob) -> TrainedFold:
    """Train on ``job.train`` (seeded) and score on ``job.window``; what ``map_fn`` runs.

    Example: ``train_fold(job).scores.prediction.auc``.
    """
    cfg = job.config
    model = train_model(
        job.train, features=cfg.features, label=cfg.label, config=cfg.model, seed=job.seed
    )
    return TrainedFold(model, score_model(model, None, job.bars, job.timeline, job.window, cfg))


def score_model(
    model: PredictionModel,
    version: str | None,
    bars_by_symbol: Mapping[str, pd.DataFrame],
    timeline: pd.DatetimeIndex,
    window: tuple[int, int],
    cfg: LearningConfig,
) -> ModelEvaluation:
    """Scores of ``model`` on timeline positions ``window`` (inclusive): probabilities
    against ``cfg``'s labels, and its signals traded over the same bars."""
    first, last = window
    # Trading needs two bars past the last position: its entry and its exit open.
    span = min(last + 2, len(timeline) - 1) - first + 1
    symbols = sorted(bars_by_symbol)
    opens = np.full((len(symbols), span), np.nan)
    directions = np.zeros((len(symbols), span))
    probabilities, labels, folds = [], [], []
    for row, symbol in enumerate(symbols):
        frame = bars_by_symbol[symbol]
        columns = [frame[c].to_numpy(dtype=np.float64) for c in BAR_COLUMNS]
        p_up = model.probabilities(*columns)
        y = make_labels(columns[3], cfg.label)
        time = timeline.get_indexer(frame.index)
        scored = (time >= first) & (time <= last)
        probabilities.append(p_up[scored])
        labels.append(y[scored])
        folds.append((time[scored] - first) * cfg.auc_folds // (last - first + 1))
        direction, _ = directions_from_probability(
            p_up, threshold=cfg.threshold, long_only=cfg.long_only
        )
        traded = (time >= first) & (time < first + span)
        opens[row, time[traded] - first] = columns[0][traded]
        # Only positions taken inside the window are evaluated.
        directions[row, time[traded] - first] = np.where(time[traded] <= last, direction[traded], 0)
    p_all, y_all = np.concatenate(probabilities), np.concatenate(labels)
    prediction = prediction_metrics(p_all, y_all)
    trading = signal_pnl(directions, opens, costs=cfg.costs, bars_per_year=cfg.bars_per_year)
    return ModelEvaluation(
        version=version,
        prediction=prediction,
        trading=trading,
        fold_auc=auc_by_fold(p_all, y_all, np.concatenate(folds)),
    )


def _trading(metrics: TradingMetrics, cfg: LearningConfig) -> float:
    return metrics.sharpe if cfg.trading_metric == "sharpe" else metrics.total_return


def _check_bars(bars_by_symbol: Mapping[str, pd.DataFrame]) -> None:
    if not bars_by_symbol:
        raise DataError("no bars to retrain on: bars_by_symbol is empty")
    for symbol, frame in bars_by_symbol.items():
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise DataError(f"bars of {symbol} must be indexed by time (a DatetimeIndex)")
        if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
            raise DataError(f"bars of {symbol} must be sorted by time without repeats")
        missing = [c for c in BAR_COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"bars of {symbol} have no {', '.join(map(repr, missing))} column")
        values = frame[list(BAR_COLUMNS)].to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"bars of {symbol} hold NaN or infinite values")


def _window(dataset: Dataset, time: np.ndarray, symbol: np.ndarray, *, rows: int) -> DataWindow:
    if len(time) == 0:
        raise DataError("an empty window: give more bars")
    return DataWindow(
        start=dataset.timeline[int(time.min())].to_pydatetime(),
        end=dataset.timeline[int(time.max())].to_pydatetime(),
        symbols=tuple(sorted(set(symbol.tolist()))),
        bars=rows,
    )


def _eval_window(dataset: Dataset, window: tuple[int, int]) -> DataWindow:
    rows = (dataset.time >= window[0]) & (dataset.time <= window[1])
    return _window(dataset, dataset.time[rows], dataset.symbol[rows], rows=int(rows.sum()))


def _clean_floats(value: Any) -> Any:
    """Replace NaN and infinities in nested evidence by ``None`` (in place for dicts and
    lists; returns the cleaned value), so it stores as plain JSON."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _clean_floats(item)
        return value
    if isinstance(value, list):
        return [_clean_floats(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
