"""Genomes: a strategy name and its params within their bounds, and the genetic operators.

    rng = np.random.default_rng(7)
    a = sample_genome("momentum", rng)                  # uniform within the bounds
    b = sample_genome("momentum", rng)
    child = mutate(crossover(a, b, rng), rng, rate=0.25, scale=0.1)
    child.id, child.parents, child.candidate_name, child.build()

A genome's :attr:`~Genome.id` is a hash of its strategy and params only, so the same
params bred twice are the same candidate (the generator scores them once); ``parents``
record where it came from. Every operator takes the ``numpy.random.Generator`` to draw
from and returns a valid genome: params within their bounds, accepted by the strategy
(``fast < slow``), and, with ``max_warmup``, a warm-up the engine's history can serve.
An invalid draw is redrawn (up to :data:`MAX_REDRAWS` times); then the operator falls back
to its input (a parent, the unmutated child) or, when sampling, the strategy's defaults.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from components.errors import ConfigurationError, QuantumTraderError
from components.strategies.base import ParamBound, Strategy
from components.strategies.registry import STRATEGIES

ParamValue = bool | int | float

MAX_REDRAWS = 100
"""Draws an operator tries before it falls back (see the module docstring)."""

FLOAT_DIGITS = 4
"""Significant digits a float param keeps: finer steps are noise, coarser ones let the
generator recognise a genome it has already scored."""

CANDIDATE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
"""What :attr:`Genome.candidate_name` matches: the policy's strategy names
(``components.regime.controller.STRATEGY_NAME_PATTERN``), so no ``-``."""


class Genome(BaseModel):
    """One point of the search: ``strategy`` (a registry name) and a value for each of its
    params; ``parents`` are the ids it was bred from (none for a random draw).

    Build genomes with :meth:`create` (or the operators below), which checks the params
    against the strategy; the constructor takes stored genomes back as they are.

    Example: ``Genome.create("momentum", {"lookback": 48}).candidate_name`` ->
    ``"momentum_1f7d29b1"``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # at most 41 characters, so the candidate name (9 more) stays within the policy's 64
    strategy: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    params: dict[str, ParamValue]
    parents: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _check_stored_id(cls, data: Any) -> Any:
        """Accept its own JSON back: ``id`` is recomputed, and must agree when given."""
        if isinstance(data, dict) and "id" in data:
            data = dict(data)
            given = data.pop("id")
            expected = genome_id(data.get("strategy", ""), data.get("params", {}))
            if given != expected:
                raise ValueError(f"genome id {given!r} does not match its content ({expected})")
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """16 hex digits of the SHA-256 of ``strategy`` and ``params`` (not ``parents``)."""
        return genome_id(self.strategy, self.params)

    @property
    def candidate_name(self) -> str:
        """The name this genome trades under in the policy: ``f"{strategy}_{id[:8]}"``."""
        return f"{self.strategy}_{self.id[:8]}"

    @classmethod
    def create(
        cls,
        strategy: str,
        params: Mapping[str, Any] | None = None,
        *,
        parents: tuple[str, ...] = (),
    ) -> Genome:
        """A genome of ``strategy`` with ``params`` (missing ones take their defaults),
        checked by the strategy itself and stored complete and normalised (floats to
        :data:`FLOAT_DIGITS` significant digits).

        Raises
        ------
        ConfigurationError
            The strategy is unknown, or a param is unknown, out of range or in an invalid
            combination; the message names it.

        Example: ``Genome.create("sma_crossover", {"fast": 5, "slow": 30})``.
        """
        cls_ = strategy_class(strategy)
        bounds = cls_.param_bounds()
        given = dict(params or {})
        # Round floats within their bounds; anything else goes to the strategy as given,
        # so an out-of-range value is refused with its range, never clipped silently.
        normalised = {
            name: normalise(value, bounds[name]) if _in_range(value, bounds.get(name)) else value
            for name, value in given.items()
        }
        built = cls_(normalised)
        return cls(strategy=strategy, params=built.params.model_dump(), parents=parents)

    def build(self) -> Strategy[Any]:
        """The strategy this genome describes.

        Raises
        ------
        ConfigurationError
            The strategy is no longer registered, or rejects the params.

        Example: ``Genome.create("momentum").build().signals(bars)``.
        """
        return strategy_class(self.strategy)(self.params)

    def within_bounds(self) -> bool:
        """Whether every param of the strategy is present and within its bounds."""
        bounds = strategy_class(self.strategy).param_bounds()
        if set(bounds) != set(self.params):
            return False
        return all(bound.contains(float(self.params[name])) for name, bound in bounds.items())


def genome_id(strategy: str, params: Mapping[str, Any]) -> str:
    """The content hash of a genome: 16 hex digits, independent of the params' order.

    Example: ``genome_id("momentum", {"lookback": 20})`` == ``genome_id("momentum",
    {"lookback": 20})``.
    """
    content = json.dumps([strategy, sorted(params.items())], separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def strategy_class(name: str) -> type[Strategy[Any]]:
    """The registered strategy class called ``name``.

    Raises
    ------
    ConfigurationError
        No strategy of that name is registered (the message lists the known ones).
    """
    cls = STRATEGIES.get(name)
    if cls is None:
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigurationError(f"unknown strategy {name!r}; known strategies: {known}")
    return cls


def normalise(value: Any, bound: ParamBound) -> ParamValue:
    """``value`` as its param's kind, clipped to the bounds; a float rounded to
    :data:`FLOAT_DIGITS` significant digits.

    Example: ``normalise(0.123456, ParamBound(0.0, 1.0, "float"))`` -> ``0.1235``.
    """
    if bound.kind == "bool":
        return bool(value)
    if bound.kind == "int":
        return int(min(max(round(float(value)), bound.low), bound.high))
    number = float(value)
    if math.isfinite(number) and number != 0.0:
        number = float(f"{number:.{FLOAT_DIGITS}g}")
    return float(min(max(number, bound.low), bound.high))


# --- the operators --------------------------------------------------------------------------


def sample_genome(
    strategy: str, rng: np.random.Generator, *, max_warmup: int | None = None
) -> Genome:
    """A genome of ``strategy`` with every param drawn uniformly within its bounds (an
    int among its integers, a bool a fair coin), redrawn until valid.

    Raises
    ------
    ConfigurationError
        No valid draw in :data:`MAX_REDRAWS` tries and the defaults are invalid too (e.g.
        every warm-up exceeds ``max_warmup``).

    Example: ``sample_genome("breakout", np.random.default_rng(1), max_warmup=300)``.
    """
    bounds = strategy_class(strategy).param_bounds()
    for _ in range(MAX_REDRAWS):
        params = {name: _draw(bound, rng) for name, bound in bounds.items()}
        genome = _valid(strategy, params, (), max_warmup)
        if genome is not None:
            return genome
    fallback = _valid(strategy, {}, (), max_warmup)
    if fallback is None:
        raise ConfigurationError(
            f"{strategy}: no valid params found in {MAX_REDRAWS} draws, and its defaults are "
            f"invalid too (max_warmup={max_warmup}); raise max_warmup or leave it out"
        )
    return fallback


def crossover(
    a: Genome, b: Genome, rng: np.random.Generator, *, max_warmup: int | None = None
) -> Genome:
    """A child taking each param from ``a`` or ``b`` with equal chance (uniform
    crossover), redrawn until valid; parents ``(a.id, b.id)``.

    Genomes of different strategies do not mix: the child is then a clone of ``a``
    (parent ``a.id``), as it is when no mix is valid.

    Example: ``crossover(a, b, rng).parents`` -> ``(a.id, b.id)``.
    """
    clone = Genome(strategy=a.strategy, params=a.params, parents=(a.id,))
    if a.strategy != b.strategy:
        return clone
    names = list(a.params)
    for _ in range(MAX_REDRAWS):
        take_b = rng.random(len(names)) < 0.5
        params = {
            n: (b.params[n] if pick else a.params[n]) for n, pick in zip(names, take_b, strict=True)
        }
        child = _valid(a.strategy, params, (a.id, b.id), max_warmup)
        if child is not None:
            return child
    return clone


def mutate(
    genome: Genome,
    rng: np.random.Generator,
    *,
    rate: float,
    scale: float,
    max_warmup: int | None = None,
) -> Genome:
    """``genome`` with each param mutated with chance ``rate``, redrawn until valid;
    ``parents`` are kept.

    A float moves by a gaussian step of ``scale`` times its range; an int by the same
    step rounded, at least one (so it always moves); a bool flips. Every value is clipped
    to its bounds. When no valid mutation is found, ``genome`` comes back unchanged.

    Example: ``mutate(genome, rng, rate=0.25, scale=0.1)``.
    """
    bounds = strategy_class(genome.strategy).param_bounds()
    names = list(bounds)
    for _ in range(MAX_REDRAWS):
        chosen = rng.random(len(names)) < rate
        if not chosen.any():
            return genome
        params = dict(genome.params)
        for name, pick in zip(names, chosen, strict=True):
            if pick:
                params[name] = _step(params[name], bounds[name], scale, rng)
        child = _valid(genome.strategy, params, genome.parents, max_warmup)
        if child is not None:
            return child
    return genome


# --- helpers --------------------------------------------------------------------------------


def _in_range(value: Any, bound: ParamBound | None) -> bool:
    if bound is None or bound.kind != "float" or isinstance(value, bool):
        return False
    return isinstance(value, int | float) and bound.contains(float(value))


def _draw(bound: ParamBound, rng: np.random.Generator) -> ParamValue:
    if bound.kind == "bool":
        return bool(rng.random() < 0.5)
    if bound.kind == "int":
        return int(rng.integers(int(bound.low), int(bound.high) + 1))
    return normalise(rng.uniform(bound.low, bound.high), bound)


def _step(
    value: ParamValue, bound: ParamBound, scale: float, rng: np.random.Generator
) -> ParamValue:
    if bound.kind == "bool":
        return not bool(value)
    jump = float(rng.normal(0.0, scale * (bound.high - bound.low)))
    if bound.kind == "int":
        steps = round(jump)
        if steps == 0:
            steps = 1 if jump >= 0 else -1
        return normalise(int(value) + steps, bound)
    return normalise(float(value) + jump, bound)


def _valid(
    strategy: str,
    params: Mapping[str, Any],
    parents: tuple[str, ...],
    max_warmup: int | None,
) -> Genome | None:
    """The genome, or None when the strategy refuses the params or needs more history."""
    try:
        built = strategy_class(strategy)(dict(params))
    except QuantumTraderError:
        return None
    if max_warmup is not None and built.warmup > max_warmup:
        return None
    return Genome(strategy=strategy, params=built.params.model_dump(), parents=parents)
