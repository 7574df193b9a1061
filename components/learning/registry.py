"""The model registry: every trained version, its evidence, and which one is in production.

Artifacts are files, metadata lives in Redis::

    <home>/models/<namespace>/<model>/<version>.joblib   the PredictionModel (joblib)

    ns:models                      set of model names
    ns:models:<model>:versions     hash version -> ModelVersion (JSON)
    ns:models:<model>:seq          the last version number given out (INCR)
    ns:models:<model>:production   the version in production
    ns:models:<model>:lineage      list of production versions, oldest first (rollback stack)
    ns:models:<model>:history      list of ProductionChange (JSON), newest first

Versions are ``v0001``, ``v0002``... in registration order. Exactly one version of a model
is ``production`` at a time (or none before the first promotion); the others are
``candidate`` (registered, not decided) or ``retired`` (rejected, or replaced). A promotion
retires the old production version; :meth:`ModelRegistry.rollback` retires the current one
and restores the version that was in production before it. Every tag change is one Redis
transaction, so the tags, the production pointer, the lineage and the history never
disagree. The artifact is written (and its SHA-256 recorded) before the metadata that
points to it, and is checked against it on load.

The namespace is part of the artifact path so that environments sharing one ``QT_HOME``
(as they share one Redis server) never overwrite each other's ``v0001``. Artifacts are
pickles: load only what this registry wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

import redis
from pydantic import BaseModel, ConfigDict, Field

from components.errors import ConfigurationError, DataError, TemporaryError
from components.events.types import ModelPromoted
from components.redis import namespaced

if TYPE_CHECKING:  # scikit-learn and joblib load with a model, not with the registry's records
    from components.learning.model import PredictionModel
    from components.learning.supervisor import SupervisorVerdict

Tag = Literal["production", "candidate", "retired"]
TAGS: tuple[Tag, ...] = ("production", "candidate", "retired")
PRODUCTION = "production"

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^v(\d{4,})$")
_MAX_RETRIES = 100
_HISTORY_LIMIT = 1_000

T = TypeVar("T")


class ModelNotFoundError(ConfigurationError):
    """No such model or version, or no version in production yet."""


class ModelArtifactError(DataError):
    """A version's artifact file is missing, altered or unreadable."""


class DataWindow(BaseModel):
    """The bars a model was trained on: first and last bar time, symbols, bar count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: datetime
    end: datetime
    symbols: tuple[str, ...] = ()
    bars: int = Field(0, ge=0, description="Bars (rows) trained on, all symbols together.")


class ModelVersion(BaseModel):
    """The metadata of one registered version (the artifact is the file at ``artifact``,
    relative to the registry's home)."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    model: str
    version: str
    tag: Tag
    trained_at: datetime
    tagged_at: datetime
    data_window: DataWindow | None = None
    features: tuple[str, ...] = ()
    metrics: dict[str, float] = Field(default_factory=dict)
    evidence: dict[str, Any] = Field(default_factory=dict)
    artifact: str
    sha256: str
    sklearn_version: str | None = Field(
        None, description="scikit-learn that wrote the artifact; load it with the same."
    )

    @property
    def number(self) -> int:
        """The version's number: 3 for ``v0003``."""
        return int(self.version[1:])


class ProductionChange(BaseModel):
    """One change of the production version: a promotion or a rollback."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    model: str
    version: str
    previous_version: str | None
    action: Literal["promoted", "rolled_back"]
    at: datetime
    reason: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)

    def event_payload(self) -> ModelPromoted:
        """The ``model.promoted`` payload that announces this change (finite metrics only).

        Example: ``Event.create(MODEL_PROMOTED, change.event_payload().model_dump(), ...)``.
        """
        return ModelPromoted(
            model=self.model,
            version=self.version,
            previous_version=self.previous_version,
            action=self.action,
            metrics=finite_metrics(self.metrics),
        )

    def policy_patch(self) -> dict[str, Any]:
        """The PolicyStore patch that records it: ``{"model_versions": {model: version}}``."""
        return {"model_versions": {self.model: self.version}}


ModelVersions: TypeAlias = list[ModelVersion]
ProductionChanges: TypeAlias = list[ProductionChange]
ModelLoader: TypeAlias = Callable[[str, str], "PredictionModel"]
"""``loader(model, version)`` -> the model; ``version`` may be ``"production"``."""


def finite_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """``metrics`` without NaN or infinite values (what JSON and events can carry)."""
    return {k: float(v) for k, v in metrics.items() if v == v and abs(v) != float("inf")}


def version_name(version: str | int) -> str:
    """The canonical version name: ``version_name(3)`` -> ``"v0003"``; ``"v0003"`` stays.

    Raises
    ------
    ModelNotFoundError
        ``version`` is neither a positive number nor like ``v0003``.
    """
    if isinstance(version, int) and not isinstance(version, bool):
        if version >= 1:
            return f"v{version:04d}"
    elif isinstance(version, str) and _VERSION.match(version):
        return version
    raise ModelNotFoundError(f"version {version!r} is not a version: use v0001, v0002, ... or 1, 2")


class ModelRegistry:
    """Versions of prediction models: artifacts under ``home``, metadata in Redis.

    Parameters
    ----------
    client
        A Redis client (``components.redis.connect``).
    namespace
        Prefix of every key (``QT_NAMESPACE``).
    home
        The data folder (``QT_HOME``); artifacts go to ``home/models/<namespace>/``.

    Example::

        registry = ModelRegistry(client, namespace="qt", home=settings.home)
        entry = registry.register("price_direction", model, trained_at=now, data_window=w)
        registry.promote("price_direction", entry.version, now=now, reason="first model")
        registry.load("price_direction")          # the production PredictionModel
    """

    def __init__(self, client: redis.Redis, *, namespace: str, home: Path) -> None:
        self._r = client
        self._ns = namespace
        self.home = Path(home)
        self._cache: dict[tuple[str, str, str], PredictionModel] = {}
        self._lock = threading.Lock()

    # --- keys and paths -----------------------------------------------------------------

    def _key(self, model: str, part: str) -> str:
        return namespaced(self._ns, "models", model, part)

    def record_supervision(self, model: str, verdict: SupervisorVerdict, *, now: datetime) -> None:
        """Keep the Model Supervisor's latest verdict on ``model`` (its confidence weight
        is what the ml strategy scales its confidence by)."""
        self._r.set(
            self._key(_check_model(model), "supervision"),
            json.dumps({"at": now.isoformat(), **verdict.model_dump(mode="json")}),
        )

    def supervision(self, model: str) -> dict[str, Any] | None:
        """The latest verdict on ``model`` (``ok``, ``reasons``, ``confidence_weight``,
        ``retrain_requested``, ``at``), or None before the first review."""
        raw = self._r.get(self._key(_check_model(model), "supervision"))
        return json.loads(raw) if raw else None

    def confidence_weight(self, model: str) -> float:
        """What the ml strategy multiplies its confidence by: 1 unless the supervisor
        lowered it."""
        record = self.supervision(model)
        return float(record["confidence_weight"]) if record else 1.0

    def artifact_path(self, model: str, version: str | int) -> Path:
        """Where the artifact of ``version`` lives (whether or not it exists).

        Example: ``registry.artifact_path("price_direction", 1)`` ->
        ``<home>/models/qt/price_direction/v0001.joblib``.
        """
        return (
            self.home
            / "models"
            / self._ns
            / _check_model(model)
            / f"{version_name(version)}.joblib"
        )

    # --- writing ---------------------------------------------------------------------------

    def register(
        self,
        model: str,
        trained: PredictionModel,
        *,
        trained_at: datetime,
        data_window: DataWindow | None = None,
        metrics: Mapping[str, float] | None = None,
        evidence: Mapping[str, Any] | None = None,
        tag: Literal["candidate", "retired"] = "candidate",
    ) -> ModelVersion:
        """Store ``trained`` as the next version of ``model``, tagged ``tag``.

        The artifact is written first (atomically: a temporary file renamed), then the
        metadata. Production is reached only through :meth:`promote`.

        Raises
        ------
        ConfigurationError
            A bad model name or tag.

        Example: ``registry.register("price_direction", model, trained_at=now)``.
        """
        _check_model(model)
        if tag not in ("candidate", "retired"):
            raise ConfigurationError(
                f"register() tags a new version candidate or retired, not {tag!r}; "
                "use promote() to put a version in production"
            )
        import sklearn

        from components.learning.model import PredictionModel

        if not isinstance(trained, PredictionModel):
            raise ConfigurationError(
                f"register() stores a PredictionModel, not {type(trained).__name__}"
            )
        version = version_name(int(self._r.incr(self._key(model, "seq"))))
        path = self.artifact_path(model, version)
        sha = _write_artifact(path, trained)
        entry = ModelVersion(
            model=model,
            version=version,
            tag=tag,
            trained_at=trained_at,
            tagged_at=trained_at,
            data_window=data_window,
            features=trained.feature_names,
            metrics=dict(metrics or {}),
            evidence=dict(evidence or {}),
            artifact=path.relative_to(self.home).as_posix(),
            sha256=sha,
            sklearn_version=sklearn.__version__,
        )
        with self._r.pipeline(transaction=True) as pipe:
            pipe.sadd(namespaced(self._ns, "models"), model)
            pipe.hset(self._key(model, "versions"), version, entry.model_dump_json())
            pipe.execute()
        return entry

    def promote(
        self,
        model: str,
        version: str | int,
        *,
        now: datetime,
        evidence: Mapping[str, Any] | None = None,
        reason: str = "",
    ) -> ProductionChange:
        """Put ``version`` in production; the version there before is retired.

        ``evidence`` is merged into the version's evidence. The lineage remembers the
        order of productions, for :meth:`rollback`.

        Raises
        ------
        ModelNotFoundError
            No such version.
        ModelArtifactError
            Its artifact is missing (nothing changes).
        ConfigurationError
            It is already in production.

        Example: ``registry.promote("price_direction", "v0002", now=now, reason="better")``.
        """
        name = version_name(version)
        self._check_artifact(self.get(model, name))

        def write(pipe: Any) -> ProductionChange:
            entry = self._read(pipe, model, name)
            current = _text(pipe.get(self._key(model, "production")))
            if current == name:
                raise ConfigurationError(f"{model} {name} is already in production")
            change = ProductionChange(
                model=model,
                version=name,
                previous_version=current,
                action="promoted",
                at=now,
                reason=reason,
                metrics=entry.metrics,
            )
            updated = entry.model_copy(
                update={
                    "tag": "production",
                    "tagged_at": now,
                    "evidence": {**entry.evidence, **dict(evidence or {})},
                }
            )
            retired = self._read(pipe, model, current) if current else None
            pipe.multi()
            pipe.hset(self._key(model, "versions"), name, updated.model_dump_json())
            if retired is not None:
                pipe.hset(
                    self._key(model, "versions"),
                    retired.version,
                    retired.model_copy(
                        update={"tag": "retired", "tagged_at": now}
                    ).model_dump_json(),
                )
            pipe.set(self._key(model, "production"), name)
            pipe.rpush(self._key(model, "lineage"), name)
            self._record(pipe, model, change)
            return change

        return self._transaction(model, write)

    def rollback(self, model: str, *, now: datetime, reason: str = "") -> ProductionChange:
        """Restore the version that was in production before the current one; the current
        one is retired. Rolling back again goes one further back.

        Raises
        ------
        ModelNotFoundError
            ``model`` has no production version, or none before the current one.
        ModelArtifactError
            The previous version's artifact is missing (nothing changes).

        Example: ``registry.rollback("price_direction", now=now, reason="live loss")``.
        """
        lineage = [_text(v) for v in self._r.lrange(self._key(model, "lineage"), 0, -1)]
        if len(lineage) < 2:
            detail = "no version in production" if not lineage else f"only {lineage[-1]}"
            raise ModelNotFoundError(
                f"{model} has no earlier production version to roll back to ({detail})"
            )
        self._check_artifact(self.get(model, str(lineage[-2])))

        def write(pipe: Any) -> ProductionChange:
            stack = [_text(v) for v in pipe.lrange(self._key(model, "lineage"), 0, -1)]
            if len(stack) < 2:
                raise ModelNotFoundError(f"{model} has no earlier production version")
            current, previous = str(stack[-1]), str(stack[-2])
            leaving = self._read(pipe, model, current)
            restored = self._read(pipe, model, previous)
            change = ProductionChange(
                model=model,
                version=previous,
                previous_version=current,
                action="rolled_back",
                at=now,
                reason=reason,
                metrics=restored.metrics,
            )
            pipe.multi()
            versions = self._key(model, "versions")
            pipe.hset(
                versions,
                current,
                leaving.model_copy(update={"tag": "retired", "tagged_at": now}).model_dump_json(),
            )
            pipe.hset(
                versions,
                previous,
                restored.model_copy(
                    update={"tag": "production", "tagged_at": now}
                ).model_dump_json(),
            )
            pipe.set(self._key(model, "production"), previous)
            pipe.rpop(self._key(model, "lineage"))
            self._record(pipe, model, change)
            return change

        return self._transaction(model, write)

    def set_tag(self, model: str, version: str | int, tag: Tag, *, now: datetime) -> ModelVersion:
        """Tag a version that is not in production ``candidate`` or ``retired``.

        Raises
        ------
        ConfigurationError
            ``tag`` is ``production`` (use :meth:`promote`), or the version is in production
            (use :meth:`promote` on another version, or :meth:`rollback`).
        ModelNotFoundError
            No such version.

        Example: ``registry.set_tag("price_direction", "v0004", "retired", now=now)``.
        """
        if tag not in TAGS:
            raise ConfigurationError(f"tag must be one of {', '.join(TAGS)}, not {tag!r}")
        if tag == PRODUCTION:
            raise ConfigurationError(f"use promote() to put {model} {version} in production")
        name = version_name(version)

        def write(pipe: Any) -> ModelVersion:
            entry = self._read(pipe, model, name)
            if entry.tag == PRODUCTION:
                raise ConfigurationError(
                    f"{model} {name} is in production: promote another version or roll back"
                )
            updated = entry.model_copy(update={"tag": tag, "tagged_at": now})
            pipe.multi()
            pipe.hset(self._key(model, "versions"), name, updated.model_dump_json())
            return updated

        return self._transaction(model, write)

    # --- reading ----------------------------------------------------------------------------

    def models(self) -> list[str]:
        """Every model name with a registered version, sorted."""
        return sorted(str(_text(m)) for m in self._r.smembers(namespaced(self._ns, "models")))

    def get(self, model: str, version: str | int) -> ModelVersion:
        """The metadata of ``version`` (``"production"`` for the production one).

        Raises
        ------
        ModelNotFoundError
            No such version, or no production version.

        Example: ``registry.get("price_direction", "v0001").metrics["auc"]``.
        """
        if version == PRODUCTION:
            entry = self.production(model)
            if entry is None:
                raise ModelNotFoundError(
                    f"model {model!r} has no production version yet; train one "
                    "(quantum-trader retrain) or promote a registered version"
                )
            return entry
        return self._read(self._r, model, version_name(version))

    def production(self, model: str) -> ModelVersion | None:
        """The production version of ``model``, or ``None`` before the first promotion."""
        current = _text(self._r.get(self._key(_check_model(model), "production")))
        return None if current is None else self._read(self._r, model, current)

    def history(self, model: str, *, limit: int = 100) -> ProductionChanges:
        """Changes of the production version, newest first (at most ``limit``)."""
        raw = self._r.lrange(self._key(_check_model(model), "history"), 0, max(limit, 1) - 1)
        return [ProductionChange.model_validate_json(_text(r) or "") for r in raw]

    def lineage(self, model: str) -> list[str]:
        """Production versions still on the rollback stack, oldest first; the last one is in
        production."""
        return [
            str(_text(v)) for v in self._r.lrange(self._key(_check_model(model), "lineage"), 0, -1)
        ]

    def load(self, model: str, version: str | int = PRODUCTION) -> PredictionModel:
        """The trained model of ``version`` (default: the production one).

        Artifacts never change once written, so they are cached per version and checksum:
        after the first load only the production pointer is read from Redis.

        Raises
        ------
        ModelNotFoundError
            No such version, or no production version.
        ModelArtifactError
            The file is missing, its checksum does not match, or it does not hold a model.

        Example: ``registry.load("price_direction").probabilities(o, h, l, c, v)``.
        """
        entry = self.get(model, version)
        key = (model, entry.version, entry.sha256)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        path = self._check_artifact(entry)
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ModelArtifactError(
                f"{model} {entry.version}: the artifact {path} does not match the checksum "
                "recorded when it was registered; it was changed or replaced"
            )
        try:
            import joblib

            loaded = joblib.load(path)
        except Exception as exc:  # unpickling can fail in many ways; all mean "unreadable"
            raise ModelArtifactError(
                f"{model} {entry.version}: cannot read {path}: {type(exc).__name__}: {exc}"
            ) from exc
        from components.learning.model import PredictionModel

        if not isinstance(loaded, PredictionModel):
            raise ModelArtifactError(
                f"{model} {entry.version}: {path} holds a {type(loaded).__name__}, "
                "not a PredictionModel"
            )
        with self._lock:
            self._cache[key] = loaded
        return loaded

    def loader(self) -> ModelLoader:
        """This registry as a ``loader(model, version)`` callable (for the ``ml`` strategy)."""
        return self.load

    def list(self, model: str | None = None) -> ModelVersions:
        """Every version of ``model`` (of every model when ``None``), oldest first.

        Example: ``[v.version for v in registry.list("price_direction")]``.
        """
        names = [model] if model is not None else self.models()
        entries: ModelVersions = []
        for name in names:
            raw = self._r.hgetall(self._key(_check_model(name), "versions"))
            found = [ModelVersion.model_validate_json(_text(v) or "") for v in raw.values()]
            entries.extend(sorted(found, key=lambda e: e.number))
        return entries

    # --- internals ----------------------------------------------------------------------------

    def _read(self, client: Any, model: str, version: str) -> ModelVersion:
        raw = _text(client.hget(self._key(_check_model(model), "versions"), version))
        if raw is None:
            known = sorted(_text(v) or "" for v in self._r.hkeys(self._key(model, "versions")))
            listed = ", ".join(known) if known else "none"
            raise ModelNotFoundError(
                f"model {model!r} has no version {version} (versions: {listed})"
            )
        return ModelVersion.model_validate_json(raw)

    def _check_artifact(self, entry: ModelVersion) -> Path:
        path = self.home / entry.artifact
        if not path.is_file():
            raise ModelArtifactError(
                f"{entry.model} {entry.version}: its artifact {path} is missing; restore the "
                f"file, or promote another version (QT_HOME is {self.home})"
            )
        return path

    def _record(self, pipe: Any, model: str, change: ProductionChange) -> None:
        pipe.lpush(self._key(model, "history"), change.model_dump_json())
        pipe.ltrim(self._key(model, "history"), 0, _HISTORY_LIMIT - 1)

    def _transaction(self, model: str, write: Callable[[Any], T]) -> T:
        """Run ``write`` under WATCH of the model's keys until no other writer interferes.

        ``write`` reads through the pipeline (immediate mode), calls ``multi()`` and queues
        its writes; its result is returned once they are executed.
        """
        keys = [self._key(_check_model(model), p) for p in ("versions", "production", "lineage")]
        with self._r.pipeline(transaction=True) as pipe:
            for _ in range(_MAX_RETRIES):
                try:
                    pipe.watch(*keys)
                    result = write(pipe)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue
        raise TemporaryError(f"model registry: {model} kept changing under {_MAX_RETRIES} writes")


def _check_model(model: str) -> str:
    if not isinstance(model, str) or not _MODEL_NAME.match(model):
        raise ConfigurationError(
            f"model name {model!r} is invalid: 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return model


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _write_artifact(path: Path, model: PredictionModel) -> str:
    """Dump ``model`` to ``path`` atomically; return the file's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            import joblib

            joblib.dump(model, out)
        digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest
