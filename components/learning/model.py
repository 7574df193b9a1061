"""The prediction model: gradient boosting with calibrated probabilities.

A :class:`PredictionModel` predicts the probability that the label of
:mod:`components.learning.features` is "up": that the close ``horizon`` bars ahead is
above today's by more than the dead zone. It carries the feature and label configs it was
trained with, so whoever loads it (the ``ml`` strategy, the shadow evaluation) computes
exactly the features it expects::

    model = train_model(dataset, features=FeatureConfig(), label=LabelConfig(), seed=7)
    p_up = model.probabilities(o, h, l, c, v)        # per bar, NaN during the warm-up

Training (:func:`train_model`) fits scikit-learn's ``HistGradientBoostingClassifier`` on
the older part of the training window and calibrates its probabilities (Platt's sigmoid by
default) on the most recent ``calibration_fraction`` of it, a slice held out by time with
a purge of ``horizon`` bars in between, so the calibration never sees a sample whose label
the booster learnt from. No random split anywhere: the seed only drives the booster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from threadpoolctl import threadpool_limits

from components.errors import DataError
from components.indicators import FloatArray
from components.learning.features import Dataset, FeatureConfig, LabelConfig, feature_arrays


class ModelConfig(BaseModel):
    """Hyper-parameters of the booster and its calibration; small and regularised by
    default (market labels are mostly noise).

    Example: ``ModelConfig(max_iter=50)`` for a quick model.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_iter: int = Field(150, ge=1, le=5_000, description="Boosting rounds.")
    learning_rate: float = Field(0.05, gt=0, le=1)
    max_leaf_nodes: int = Field(15, ge=2, le=1_024)
    max_depth: int | None = Field(None, ge=1, le=64)
    min_samples_leaf: int = Field(100, ge=1, le=1_000_000)
    l2_regularization: float = Field(1.0, ge=0, le=1_000)
    calibration: Literal["sigmoid", "isotonic"] = Field(
        "sigmoid", description="Platt scaling, or isotonic (needs more samples)."
    )
    calibration_fraction: float = Field(
        0.25, ge=0.05, le=0.5, description="Most recent share of the window for calibration."
    )
    min_samples: int = Field(
        200, ge=10, le=10_000_000, description="Labelled samples needed to train at all."
    )
    threads: int = Field(
        1,
        ge=1,
        le=256,
        description="OpenMP threads to fit and predict with; more only pays on large data.",
    )


class TrainingSummary(BaseModel):
    """What a model was trained on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fit_samples: int = Field(ge=0)
    calibration_samples: int = Field(ge=0)
    up_share: float = Field(ge=0, le=1, description="Share of up labels in training.")
    seed: int


@dataclass(frozen=True, slots=True, eq=False)
class PredictionModel:
    """A trained, calibrated up-probability model and the configs it needs.

    Attributes
    ----------
    features:
        The features it was trained on (computed again, the same way, to predict).
    label:
        What it predicts.
    config:
        The hyper-parameters.
    summary:
        Sample counts and the seed.
    estimator:
        The calibrated scikit-learn classifier (``predict_proba``, classes ``[0, 1]``).

    Example: ``model.probabilities(o, h, l, c, v)[-1]`` is the up-probability of the last bar.
    """

    features: FeatureConfig
    label: LabelConfig
    config: ModelConfig
    summary: TrainingSummary
    estimator: Any

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The feature columns, in the order the estimator expects."""
        return self.features.names

    @property
    def warmup(self) -> int:
        """Bars needed for a prediction (the feature warm-up)."""
        return self.features.warmup

    def predict_up(self, X: npt.ArrayLike) -> FloatArray:
        """Up-probability per row of ``X`` (rows x features); NaN for a row holding a NaN.

        Raises
        ------
        DataError
            ``X`` has the wrong number of columns.

        Example: ``model.predict_up(dataset.X)``.
        """
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise DataError(
                f"X must be (rows, {len(self.feature_names)}) for features "
                f"{', '.join(self.feature_names)}; got shape {x.shape}"
            )
        out = np.full(x.shape[0], np.nan)
        ready = np.isfinite(x).all(axis=1)
        if ready.any():
            with threadpool_limits(limits=self.config.threads, user_api="openmp"):
                out[ready] = self.estimator.predict_proba(x[ready])[:, 1]
        return out

    def probabilities(
        self,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> FloatArray:
        """Up-probability per bar, the shape of ``close`` (1-D or symbols x time); NaN
        during the warm-up. Uses bars ``<= t`` only for bar ``t``.

        Example: ``p_up = model.probabilities(o, h, l, c, v)``.
        """
        values = feature_arrays(open, high, low, close, volume, config=self.features).values
        flat = values.reshape(-1, values.shape[-1])
        return self.predict_up(flat).reshape(values.shape[:-1])


def train_model(
    dataset: Dataset,
    *,
    features: FeatureConfig,
    label: LabelConfig,
    config: ModelConfig | None = None,
    seed: int,
) -> PredictionModel:
    """Fit the booster on the older rows of ``dataset`` and calibrate it on the newest.

    Parameters
    ----------
    dataset
        Training rows (see :func:`~components.learning.features.build_dataset`), already
        restricted to the training window; rows without a label are ignored.
    features, label
        The configs the dataset was built with (stored in the model).
    config
        Hyper-parameters; the defaults when ``None``.
    seed
        Seed of the booster: same data and seed, same model.

    Raises
    ------
    DataError
        Too few labelled rows, or the fit or calibration part holds one class only.

    Example: ``train_model(dataset, features=f, label=l, seed=7).predict_up(dataset.X)``.
    """
    if tuple(dataset.names) != features.names:
        raise DataError(
            f"the dataset's features ({', '.join(dataset.names)}) are not those of the "
            f"feature config ({', '.join(features.names)})"
        )
    cfg = config or ModelConfig()
    data = dataset.rows(dataset.labelled)
    if len(data.y) < cfg.min_samples:
        raise DataError(
            f"{len(data.y)} labelled samples to train on, {cfg.min_samples} needed; "
            "give more bars or lower min_samples"
        )
    first, last = int(data.time.min()), int(data.time.max())
    calibration_start = last + 1 - max(1, round((last - first + 1) * cfg.calibration_fraction))
    # The purge: no fit label reaches a bar of the calibration slice.
    fit = data.time < calibration_start - label.horizon
    calibrate = data.time >= calibration_start
    for part, mask in (("fit", fit), ("calibration", calibrate)):
        classes = np.unique(data.y[mask])
        if len(classes) < 2:
            raise DataError(
                f"the {part} part of the training window ({int(mask.sum())} samples) holds "
                f"{'no' if len(classes) == 0 else 'one'} label class; give a longer window"
            )

    booster = HistGradientBoostingClassifier(
        max_iter=cfg.max_iter,
        learning_rate=cfg.learning_rate,
        max_leaf_nodes=cfg.max_leaf_nodes,
        max_depth=cfg.max_depth,
        min_samples_leaf=cfg.min_samples_leaf,
        l2_regularization=cfg.l2_regularization,
        early_stopping=False,
        random_state=seed,
    )
    calibrated = CalibratedClassifierCV(FrozenEstimator(booster), method=cfg.calibration)
    # Threads are capped: on small data (and a busy 2-core machine) OpenMP's start-up and
    # contention cost far more than the work; ~10x slower with every core here.
    with threadpool_limits(limits=cfg.threads, user_api="openmp"):
        booster.fit(data.X[fit], data.y[fit].astype(np.int64))
        calibrated.fit(data.X[calibrate], data.y[calibrate].astype(np.int64))
    summary = TrainingSummary(
        fit_samples=int(fit.sum()),
        calibration_samples=int(calibrate.sum()),
        up_share=float(data.y.mean()),
        seed=seed,
    )
    return PredictionModel(features, label, cfg, summary, calibrated)
