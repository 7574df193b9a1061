"""The Continuous Learning Manager: features, models, a registry, shadow evaluation, the
``ml`` strategy and the Model Supervisor.

    registry = ModelRegistry(client, namespace=settings.namespace, home=settings.home)
    manager = LearningManager(registry, LearningConfig.from_settings(settings), clock=clock)
    result = manager.retrain(bars_by_symbol, seed=7)     # promoted only on evidence
    store.patch(result.policy_patch(), by="clm", reason=result.summary())

    register_ml_strategy(registry)                        # create_strategy("ml") works
    verdict = ModelSupervisor().review(records)           # bias, drift, collapse

Modules: :mod:`~components.learning.features` (features, labels, purged time splits),
:mod:`~components.learning.model` (calibrated gradient boosting),
:mod:`~components.learning.evaluation` (prediction scores, signal PnL),
:mod:`~components.learning.registry`, :mod:`~components.learning.learning_manager`,
:mod:`~components.learning.strategy`, :mod:`~components.learning.supervisor`.
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.learning.evaluation import (
        PredictionMetrics,
        TradingMetrics,
        directions_from_probability,
        prediction_metrics,
        signal_pnl,
    )
    from components.learning.features import (
        Dataset,
        FeatureConfig,
        LabelConfig,
        TimeSplit,
        build_dataset,
        feature_arrays,
        feature_frame,
        make_labels,
        time_splits,
    )
    from components.learning.learning_manager import (
        DEFAULT_MODEL,
        FoldJob,
        LearningConfig,
        LearningManager,
        ModelEvaluation,
        RetrainResult,
        TrainedFold,
        WalkForwardFold,
        score_model,
        train_fold,
    )
    from components.learning.model import ModelConfig, PredictionModel, train_model
    from components.learning.registry import (
        DataWindow,
        ModelArtifactError,
        ModelNotFoundError,
        ModelRegistry,
        ModelVersion,
        ProductionChange,
    )
    from components.learning.strategy import MLParams, MLStrategy, register_ml_strategy
    from components.learning.supervisor import (
        ModelSupervisor,
        PredictionRecord,
        SupervisorConfig,
        SupervisorIssue,
        SupervisorVerdict,
    )


__all__ = [
    "DEFAULT_MODEL",
    "DataWindow",
    "Dataset",
    "FeatureConfig",
    "FoldJob",
    "LabelConfig",
    "LearningConfig",
    "LearningManager",
    "MLParams",
    "MLStrategy",
    "ModelArtifactError",
    "ModelConfig",
    "ModelEvaluation",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelSupervisor",
    "ModelVersion",
    "PredictionMetrics",
    "PredictionModel",
    "PredictionRecord",
    "ProductionChange",
    "RetrainResult",
    "SupervisorConfig",
    "SupervisorIssue",
    "SupervisorVerdict",
    "TimeSplit",
    "TradingMetrics",
    "TrainedFold",
    "WalkForwardFold",
    "build_dataset",
    "directions_from_probability",
    "feature_arrays",
    "feature_frame",
    "make_labels",
    "prediction_metrics",
    "register_ml_strategy",
    "score_model",
    "signal_pnl",
    "time_splits",
    "train_fold",
    "train_model",
]

__getattr__ = lazy_exports(
    __name__,
    # lightest first: the registry's records need no scikit-learn
    ("registry", "evaluation", "features", "learning_manager", "model", "strategy", "supervisor"),
)
