"""The ``ml`` strategy: signals and confidence from the calibrated prediction model.

Per bar, the model (see :mod:`components.learning.model`) gives ``p_up``, the probability
that the close ``horizon`` bars ahead is up. The strategy goes long when ``p_up >=
threshold``, short when ``1 - p_up >= threshold`` (unless ``long_only``), and is flat
otherwise; the confidence is the probability of the chosen direction. The features at bar
``t`` use bars ``<= t`` only, so, for a fixed model, the signals on a truncated history are
the prefix of those on the full history, as for every strategy.

The model comes from a *loader*, ``loader(model, version) -> PredictionModel`` (a
:class:`~components.learning.registry.ModelRegistry` is one), so the same strategy runs in
the engine, the backtester and the generator::

    register_ml_strategy(registry)                       # once per process
    strategy = create_strategy("ml", {"threshold": 0.6})   # the production model
    pinned = create_strategy("ml", {"version": 3})          # always v0003

or without the registry of strategies: ``MLStrategy({"threshold": 0.6}, loader=registry)``.

``version`` is a number because strategy params are numbers (``0`` means "the production
version", which follows promotions and rollbacks). Until a model is in production the
strategy stays flat (and logs it once), so a fresh system trades nothing with it rather
than failing; a pinned version that does not exist is an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeAlias

import numpy as np
import numpy.typing as npt
from pydantic import Field

from components.errors import ConfigurationError
from components.indicators import FloatArray
from components.learning.evaluation import directions_from_probability
from components.learning.features import FeatureConfig
from components.learning.learning_manager import DEFAULT_MODEL
from components.learning.model import PredictionModel
from components.learning.registry import (
    PRODUCTION,
    ModelLoader,
    ModelNotFoundError,
    ModelRegistry,
    version_name,
)
from components.strategies import registry as strategy_registry
from components.strategies.base import Strategy, StrategyParams

log = logging.getLogger(__name__)

LoaderLike: TypeAlias = ModelLoader | ModelRegistry


class MLParams(StrategyParams):
    """Params of :class:`MLStrategy`."""

    threshold: float = Field(
        0.55, ge=0.5, le=0.99, description="Probability of a direction needed to take it."
    )
    long_only: bool = Field(False, description="Never short; flat instead.")
    version: int = Field(
        0, ge=0, le=9_999, description="Model version number to use; 0 = the production one."
    )


class MLStrategy(Strategy[MLParams]):
    """Trade the prediction model's calibrated probabilities (see the module docstring).

    Parameters
    ----------
    params
        :class:`MLParams`, a mapping of its fields, or ``None`` for the defaults.
    loader
        ``loader(model, version)`` or a :class:`ModelRegistry`; default: the one given
        to :func:`register_ml_strategy`.
    model
        Which model; default: the one given to :func:`register_ml_strategy`
        (``price_direction``).

    Example: ``MLStrategy({"threshold": 0.6}, loader=registry).signals(bars)``.
    """

    name: ClassVar[str] = "ml"
    params_type: ClassVar[type[StrategyParams]] = MLParams
    default_loader: ClassVar[ModelLoader | None] = None
    # The Model Supervisor's confidence weight of a model (1 when it found nothing).
    default_weight: ClassVar[Callable[[str], float] | None] = None
    default_model: ClassVar[str] = DEFAULT_MODEL

    def __init__(
        self,
        params: MLParams | Mapping[str, Any] | None = None,
        *,
        loader: LoaderLike | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(params)
        self._loader: ModelLoader | None = None if loader is None else as_loader(loader)
        self.model_name: str = model or type(self).default_model
        self._warned = False

    @property
    def version(self) -> str:
        """The version asked of the loader: ``"production"`` or ``"v0003"``."""
        return PRODUCTION if self.params.version == 0 else version_name(self.params.version)

    def model(self) -> PredictionModel | None:
        """The model the signals come from now; ``None`` while nothing is in production.

        Raises
        ------
        ConfigurationError
            No loader was given (neither here nor to :func:`register_ml_strategy`), or a
            pinned version does not exist.
        """
        loader = self._loader or type(self).default_loader
        if loader is None:
            raise ConfigurationError(
                "ml: no model loader; call register_ml_strategy(registry) first, or pass "
                "MLStrategy(..., loader=registry)"
            )
        try:
            return loader(self.model_name, self.version)
        except ModelNotFoundError:
            if self.version != PRODUCTION:
                raise
            if not self._warned:
                log.warning("ml: model %r has no production version; flat", self.model_name)
                self._warned = True
            return None

    @property
    def warmup(self) -> int:
        model = self.model()
        return model.warmup if model is not None else FeatureConfig().warmup

    def _signals(
        self,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> tuple[npt.NDArray[Any], FloatArray]:
        model = self.model()
        if model is None:
            return np.zeros(close.shape, dtype=np.int8), np.zeros(close.shape)
        p_up = model.probabilities(open, high, low, close, volume)
        direction, confidence = directions_from_probability(
            p_up, threshold=self.params.threshold, long_only=self.params.long_only
        )
        weight = type(self).default_weight
        return direction, confidence * (weight(self.model_name) if weight else 1.0)

    def with_params(self, **changes: Any) -> Self:
        """A new ``ml`` strategy with some params changed, same loader and model.

        Example: ``strategy.with_params(threshold=0.6)``.
        """
        params = {**self.params.model_dump(), **changes}
        return type(self)(params, loader=self._loader, model=self.model_name)

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"ml[{self.model_name}]({values})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MLStrategy)
            and type(other) is type(self)
            and other.params == self.params
            and other.model_name == self.model_name
        )

    def __hash__(self) -> int:
        return hash((type(self), self.params, self.model_name))


def as_loader(loader: LoaderLike) -> ModelLoader:
    """A ``loader(model, version)`` callable from a registry or a callable.

    Example: ``as_loader(registry)("price_direction", "production")``.
    """
    if isinstance(loader, ModelRegistry):
        return loader.load
    if callable(loader):
        return loader
    raise ConfigurationError(
        f"a model loader is a ModelRegistry or a callable (model, version), "
        f"not {type(loader).__name__}"
    )


def register_ml_strategy(
    loader: LoaderLike,
    *,
    model: str = DEFAULT_MODEL,
    strategies: dict[str, type[Strategy[Any]]] | None = None,
) -> type[MLStrategy]:
    """Make ``create_strategy("ml", ...)`` work: set the default loader and model of
    :class:`MLStrategy` and add it to the registry of strategies.

    Parameters
    ----------
    loader
        A :class:`ModelRegistry` or ``loader(model, version)``; used by every
        ``MLStrategy`` built without one, in this process (call again in each worker
        process).
    model
        The default model name.
    strategies
        The name -> class mapping to add it to; default
        :data:`components.strategies.registry.STRATEGIES`.

    Returns
    -------
    type
        :class:`MLStrategy`.

    Example: ``register_ml_strategy(ModelRegistry(client, namespace="qt", home=home))``.
    """
    MLStrategy.default_loader = as_loader(loader)
    if isinstance(loader, ModelRegistry):
        MLStrategy.default_weight = loader.confidence_weight
    MLStrategy.default_model = model
    target = strategy_registry.STRATEGIES if strategies is None else strategies
    target[MLStrategy.name] = MLStrategy
    return MLStrategy
