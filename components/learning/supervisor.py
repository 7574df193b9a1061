"""The Model Supervisor: is the model in production still behaving like a model?

It reviews a window of recent live predictions, each a :class:`PredictionRecord` (the
up-probability, the direction taken, and, once the horizon has passed, whether the market
went up), and looks for three failures:

bias
    One direction dominates: among the predictions that took a side, the share of the
    commoner side is above ``max_direction_share``; or, over every prediction, the share
    leaning to one side (``p_up`` above or below 0.5) is. A model that says "up" whatever
    the market does is the typical case.
calibration drift
    The probabilities no longer match the outcomes: the expected calibration error (ECE,
    the outcome-weighted gap between mean predicted probability and realised frequency in
    ``calibration_bins`` equal bins) is above ``max_calibration_error``.
confidence collapse
    The model no longer says anything: the mean distance of ``p_up`` from 0.5 is below
    ``min_mean_edge``.

With fewer than ``min_predictions`` predictions (``min_outcomes`` outcomes for the
calibration check) a check is not judged. Each issue found multiplies the model's
confidence weight by ``weight_penalty`` (never below ``min_weight``) and asks for a
retrain. The verdict is a value: the caller publishes the health warning and applies the
weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from components.errors import DataError
from components.market.base import BAR_COLUMNS


class SupervisorConfig(BaseModel):
    """Thresholds of the Model Supervisor (see the module docstring).

    Example: ``SupervisorConfig(max_direction_share=0.85)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_predictions: int = Field(50, ge=1, le=1_000_000, description="To judge at all.")
    max_direction_share: float = Field(0.9, gt=0.5, le=1, description="Bias above this.")
    min_outcomes: int = Field(100, ge=1, le=1_000_000, description="To judge calibration.")
    max_calibration_error: float = Field(0.1, gt=0, le=1, description="ECE above: drift.")
    calibration_bins: int = Field(10, ge=1, le=100)
    min_mean_edge: float = Field(0.02, ge=0, le=0.5, description="Mean |p - 0.5| below: collapse.")
    weight_penalty: float = Field(0.5, ge=0, le=1, description="Weight factor per issue.")
    min_weight: float = Field(0.1, ge=0, le=1, description="The weight never goes below.")


class PredictionRecord(BaseModel):
    """One live prediction; ``outcome`` is 1 (up) or 0 (down) once known, else ``None``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    symbol: str = ""
    p_up: float = Field(ge=0, le=1)
    direction: Literal[-1, 0, 1]
    outcome: Literal[0, 1] | None = None


class SupervisorIssue(StrEnum):
    BIAS = "bias"
    CALIBRATION_DRIFT = "calibration_drift"
    CONFIDENCE_COLLAPSE = "confidence_collapse"


class SupervisorStats(BaseModel):
    """What the verdict was judged on; a figure is ``None`` when there was nothing to
    compute it from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    predictions: int = Field(ge=0)
    directional: int = Field(ge=0, description="Predictions that took a side.")
    long_share: float | None = None
    lean_up_share: float | None = None
    mean_edge: float | None = None
    outcomes: int = Field(0, ge=0)
    calibration_error: float | None = None
    mean_predicted: float | None = None
    realised_up: float | None = None


class SupervisorVerdict(BaseModel):
    """The Model Supervisor's judgement of a window of predictions.

    ``ok`` when no issue was found; ``confidence_weight`` in [0, 1] is what the model's
    confidences should be multiplied by (1 when ok); ``retrain_requested`` asks the CLM
    for a retrain; ``reasons`` say why, in words.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    issues: tuple[SupervisorIssue, ...] = ()
    confidence_weight: float = Field(ge=0, le=1)
    retrain_requested: bool
    reasons: tuple[str, ...] = ()
    stats: SupervisorStats

    @property
    def health_status(self) -> Literal["HEALTHY", "DEGRADED"]:
        """``"DEGRADED"`` when an issue was found (for ``health.status_changed``)."""
        return "HEALTHY" if self.ok else "DEGRADED"


class ModelSupervisor:
    """Reviews live predictions for bias, calibration drift and confidence collapse.

    Example: ``ModelSupervisor(SupervisorConfig()).review(records).issues``.
    """

    def __init__(self, config: SupervisorConfig | None = None) -> None:
        self.config = config or SupervisorConfig()

    def review(self, records: Sequence[PredictionRecord]) -> SupervisorVerdict:
        """Judge a window of prediction records (any order).

        Example: ``ModelSupervisor().review(records).confidence_weight``.
        """
        p_up = np.array([r.p_up for r in records], dtype=np.float64)
        direction = np.array([r.direction for r in records], dtype=np.int8)
        outcome = np.array(
            [np.nan if r.outcome is None else float(r.outcome) for r in records], dtype=np.float64
        )
        return self.review_arrays(p_up, direction, outcome)

    def review_arrays(
        self,
        p_up: npt.ArrayLike,
        direction: npt.ArrayLike,
        outcome: npt.ArrayLike | None = None,
    ) -> SupervisorVerdict:
        """Judge predictions given as arrays: ``p_up`` in [0, 1], ``direction`` in
        {-1, 0, 1}, ``outcome`` 1/0 or NaN where not known yet (``None``: none known).

        Raises
        ------
        DataError
            The arrays differ in length, or a probability is outside [0, 1].

        Example: ``supervisor.review_arrays([0.7] * 100, [1] * 100).issues`` ->
        ``(SupervisorIssue.BIAS,)``.
        """
        cfg = self.config
        p = np.asarray(p_up, dtype=np.float64).ravel()
        d = np.sign(np.asarray(direction, dtype=np.float64).ravel())
        y = (
            np.full(p.shape, np.nan)
            if outcome is None
            else np.asarray(outcome, dtype=np.float64).ravel()
        )
        if not (p.shape == d.shape == y.shape):
            raise DataError(
                f"p_up, direction and outcome differ in length: {p.size}, {d.size}, {y.size}"
            )
        if p.size and not ((p >= 0) & (p <= 1)).all():
            raise DataError("p_up must lie in [0, 1]")

        issues: list[SupervisorIssue] = []
        reasons: list[str] = []
        n = int(p.size)
        directional = int(np.count_nonzero(d))
        stats: dict[str, float | int | None] = {"predictions": n, "directional": directional}
        if n < cfg.min_predictions:
            reasons.append(f"{n} predictions, {cfg.min_predictions} needed: not judged")
        else:
            # The share of the commoner side, over every prediction (which way p_up leans)
            # and, with enough of them, over those that took a side.
            shares = {"up": float(np.mean(p > 0.5)), "down": float(np.mean(p < 0.5))}
            stats["lean_up_share"] = shares["up"]
            if directional:
                stats["long_share"] = np.count_nonzero(d > 0) / directional
            if directional >= cfg.min_predictions:
                shares["long"] = float(np.count_nonzero(d > 0) / directional)
                shares["short"] = 1.0 - shares["long"]
            side, worst = max(shares.items(), key=lambda item: item[1])
            if worst > cfg.max_direction_share:
                issues.append(SupervisorIssue.BIAS)
                reasons.append(
                    f"bias: {worst:.0%} of predictions are {side}, above "
                    f"{cfg.max_direction_share:.0%}"
                )
            edge = float(np.mean(np.abs(p - 0.5)))
            stats["mean_edge"] = edge
            if edge < cfg.min_mean_edge:
                issues.append(SupervisorIssue.CONFIDENCE_COLLAPSE)
                reasons.append(
                    f"confidence collapse: mean |p - 0.5| is {edge:.4f}, below {cfg.min_mean_edge}"
                )

        known = ~np.isnan(y)
        outcomes = int(known.sum())
        stats["outcomes"] = outcomes
        if outcomes >= cfg.min_outcomes:
            error = expected_calibration_error(p[known], y[known], bins=cfg.calibration_bins)
            stats["calibration_error"] = error
            stats["mean_predicted"] = float(p[known].mean())
            stats["realised_up"] = float(y[known].mean())
            if error > cfg.max_calibration_error:
                issues.append(SupervisorIssue.CALIBRATION_DRIFT)
                reasons.append(
                    f"calibration drift: ECE {error:.3f} above {cfg.max_calibration_error} "
                    f"(mean predicted {stats['mean_predicted']:.3f}, realised "
                    f"{stats['realised_up']:.3f})"
                )
        elif n >= cfg.min_predictions:
            reasons.append(
                f"{outcomes} outcomes, {cfg.min_outcomes} needed: calibration not judged"
            )

        weight = 1.0
        if issues:
            weight = max(cfg.min_weight, cfg.weight_penalty ** len(issues))
            reasons.append(f"confidence weight lowered to {weight:g}; retrain requested")
        return SupervisorVerdict(
            ok=not issues,
            issues=tuple(issues),
            confidence_weight=weight,
            retrain_requested=bool(issues),
            reasons=tuple(reasons),
            stats=SupervisorStats.model_validate(stats),
        )


def expected_calibration_error(
    p_up: npt.ArrayLike, outcome: npt.ArrayLike, *, bins: int = 10
) -> float:
    """The expected calibration error: over ``bins`` equal-width bins of ``p_up``, the
    sample-weighted mean of ``|mean p_up - share of outcomes that are 1|``.

    Example: ``expected_calibration_error([0.9, 0.9], [0, 0])`` -> ``0.9``.
    """
    p = np.asarray(p_up, dtype=np.float64).ravel()
    y = np.asarray(outcome, dtype=np.float64).ravel()
    if p.size == 0:
        return 0.0
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    mean_p = np.bincount(which, weights=p, minlength=bins)
    mean_y = np.bincount(which, weights=y, minlength=bins)
    used = counts > 0
    gaps = np.abs(mean_p[used] - mean_y[used]) / counts[used]
    return float(np.sum(gaps * counts[used]) / p.size)


def supervise(
    model: Any,
    bars: Mapping[str, pd.DataFrame],
    *,
    threshold: float,
    horizon: int,
    config: SupervisorConfig | None = None,
) -> SupervisorVerdict:
    """Review what ``model`` predicts on the recent ``bars`` (as the ml strategy would
    trade them) against what happened ``horizon`` bars later.

    ``model`` needs ``probabilities(open, high, low, close, volume)``. Outcomes are known
    for every bar but the last ``horizon``; those count for bias and confidence only.

    Example: ``supervise(registry.load("price_direction"), bars, threshold=0.55, horizon=4)``.
    """
    from components.learning.evaluation import directions_from_probability

    p_ups, directions, outcomes = [], [], []
    for frame in bars.values():
        columns = [frame[c].to_numpy(dtype=np.float64) for c in BAR_COLUMNS]
        p_up = np.asarray(model.probabilities(*columns), dtype=np.float64)
        direction, _ = directions_from_probability(p_up, threshold=threshold)
        close = columns[3]
        outcome = np.full(close.shape, np.nan)
        outcome[:-horizon] = (close[horizon:] > close[:-horizon]).astype(np.float64)
        ready = np.isfinite(p_up)
        p_ups.append(p_up[ready])
        directions.append(direction[ready])
        outcomes.append(outcome[ready])
    if not p_ups:
        return ModelSupervisor(config).review_arrays([], [], [])
    return ModelSupervisor(config).review_arrays(
        np.concatenate(p_ups), np.concatenate(directions), np.concatenate(outcomes)
    )
