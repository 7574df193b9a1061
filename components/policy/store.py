"""The PolicyStore: one GlobalPolicy in Redis, changed only by atomic, recorded writes.

Keys (under the namespace ``ns``)::

    ns:policy            a hash of the policy's leaves: ``max_positions`` -> ``4``,
                         ``opp_rankings.BTC/USDT`` -> ``0.82``, ``version`` -> ``7`` (JSON)
    ns:policy:history    one JSON entry per version, newest first: who, why, when, and the
                         diff (old and new value of every leaf that changed)
    ns:events:policy.updated   the event stream every write appends to

A write is one Lua script that applies the patch leaf by leaf, computes the diff from
the values it replaces, bumps the version, and appends the history entry and the
``policy.updated`` event, all or nothing. Because the merge happens on the server, writers
never race: two processes patching different keys (even different keys of one map) both
land, with no retry loop. Validation happens before, in Python: every constraint of
:class:`GlobalPolicy` is on one leaf, so a patch that is valid on its own is valid merged
into any valid policy. ``rollback`` and ``at_version`` replay the diffs backwards.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from components.clock import Clock, SystemClock
from components.errors import (
    DataError,
    PolicyConflictError,
    PolicyValidationError,
    TemporaryError,
)
from components.events.bus import EventBus
from components.events.models import new_event_id
from components.events.streams import (
    LUA_EMIT,
    decode_event,
    entry_fields,
    stats_key,
    stream_key,
)
from components.events.types import POLICY_UPDATED
from components.policy.config import RiskMode
from components.policy.merge import deep_merge
from components.policy.model import (
    META_FIELDS,
    ML_STRATEGY,
    GlobalPolicy,
    PolicyChange,
    validate_policy,
)
from components.redis import namespaced
from components.settings import Settings

log = logging.getLogger(__name__)

# Fields whose keys are data (symbols, model and strategy names): stored one leaf per key.
MAP_FIELDS = frozenset({"opp_rankings", "model_versions", "strategy_states"})
# Fields that are small models with fixed keys: stored one leaf per sub-field.
MODEL_FIELDS = frozenset({"emergency"})
# The largest patch accepted, as JSON text: a policy is a few kilobytes; anything near
# this is a mistake (or an attack), not a decision.
MAX_PATCH_BYTES = 64 * 1024

# KEYS: policy hash, history list, event stream, bus stats
# ARGV: expected version (-1 = any), by, reason, at, event id, history limit, maxlen,
#       n seeds, seed path/value pairs (the defaults, written with the first write),
#       n ops, op/path/value triples (S = set, D = delete, P = delete every path.*)
_WRITE_SCRIPT = (
    LUA_EMIT
    + r"""
local policy = KEYS[1]
local current = tonumber(redis.call('HGET', policy, 'version') or '0')
local expected = tonumber(ARGV[1])
if expected >= 0 and current ~= expected then
  return {0, current}
end
local i = 8
local nseeds = tonumber(ARGV[i]); i = i + 1
if current == 0 then
  for _ = 1, nseeds do
    redis.call('HSETNX', policy, ARGV[i], ARGV[i + 1]); i = i + 2
  end
else
  i = i + 2 * nseeds
end
local diff = {}
local function record(path, old, new)
  if old ~= new then
    diff[#diff + 1] = cjson.encode(path) .. ':{"old":' .. (old or 'null') .. ',"new":'
      .. (new or 'null') .. '}'
  end
end
local nops = tonumber(ARGV[i]); i = i + 1
for _ = 1, nops do
  local op, path, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]; i = i + 3
  if op == 'S' then
    local old = redis.call('HGET', policy, path)
    if old ~= value then
      record(path, old or false, value)
      redis.call('HSET', policy, path, value)
    end
  elseif op == 'D' then
    local old = redis.call('HGET', policy, path)
    if old then
      record(path, old, false)
      redis.call('HDEL', policy, path)
    end
  else
    local prefix = path .. '.'
    for _, key in ipairs(redis.call('HKEYS', policy)) do
      if string.sub(key, 1, #prefix) == prefix then
        record(key, redis.call('HGET', policy, key), false)
        redis.call('HDEL', policy, key)
      end
    end
  end
end
if #diff == 0 then
  return {2, current, redis.call('HGETALL', policy)}
end
local version = current + 1
local by, reason, at = ARGV[2], ARGV[3], ARGV[4]
redis.call('HSET', policy, 'version', version, 'updated_at', cjson.encode(at),
  'updated_by', cjson.encode(by))
local changes = '{' .. table.concat(diff, ',') .. '}'
local head = '"version":' .. version .. ',"by":' .. cjson.encode(by) .. ',"reason":'
  .. cjson.encode(reason)
redis.call('LPUSH', KEYS[2], '{' .. head .. ',"at":' .. cjson.encode(at) .. ',"diff":'
  .. changes .. '}')
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[6]) - 1)
local payload = '{' .. head .. ',"previous_version":' .. current .. ',"changes":' .. changes .. '}'
emit_event(KEYS[3], KEYS[4], ARGV[7], ARGV[5], 'policy.updated', by, at, '', payload)
return {1, version, redis.call('HGETALL', policy), payload}
"""
)


def _leaf(value: Any) -> str:
    """The canonical JSON text of one leaf; the script compares leaves as text."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class PolicyStore:
    """Read and change the GlobalPolicy; see the module docstring for the guarantees.

    >>> store = PolicyStore.connect(settings)
    >>> store.patch({"max_positions": 4}, by="ops", reason="fewer bets").version
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        settings: Settings | None = None,
        bus: EventBus | None = None,
        clock: Clock | None = None,
    ) -> None:
        settings = settings or Settings()
        self.client = client
        self._r: Any = client  # redis-py's response types are unions; this client decodes
        self.namespace = namespace
        self.guardrails = settings.guardrails
        self._defaults = GlobalPolicy.defaults(settings.policy)
        self._default_data = self._defaults.model_dump(mode="json", exclude=set(META_FIELDS))
        self._seed = [
            item
            for path, value in _flatten(self._default_data).items()
            for item in (path, _leaf(value))
        ]
        self._history_limit = settings.policy.history_limit
        self._stream_maxlen = settings.bus.stream_maxlen
        self._bus = bus
        self._clock = clock or SystemClock()
        self._keys = [
            namespaced(namespace, "policy"),
            namespaced(namespace, "policy", "history"),
            stream_key(namespace, POLICY_UPDATED),
            stats_key(namespace),
        ]
        self._write = client.register_script(_WRITE_SCRIPT)

    @classmethod
    def connect(cls, settings: Settings, *, bus: EventBus | None = None) -> PolicyStore:
        """A store on the configured server; ``bus`` (optional) hands each write's event
        to its mirrors (the event itself is already on the stream)."""
        from components.redis import connect

        return cls(connect(settings), namespace=settings.namespace, settings=settings, bus=bus)

    # --- reading ------------------------------------------------------------------------
    def get(self) -> GlobalPolicy:
        """The current policy (the Settings defaults, version 0, before the first write).

        Raises
        ------
        TemporaryError
            Redis cannot be reached: callers must fail closed.
        """
        try:
            leaves = self._r.hgetall(self._keys[0])
        except redis.RedisError as exc:
            raise TemporaryError(f"cannot read the policy: {type(exc).__name__}: {exc}") from None
        return self._from_leaves(leaves)

    def version(self) -> int:
        """The current version alone (one cheap read; 0 before the first write)."""
        try:
            return int(self._r.hget(self._keys[0], "version") or 0)
        except redis.RedisError as exc:
            raise TemporaryError(f"cannot read the policy: {type(exc).__name__}: {exc}") from None

    def history(self, limit: int = 100) -> list[PolicyChange]:
        """The newest ``limit`` changes, newest first."""
        if limit <= 0:
            return []
        entries = self._r.lrange(self._keys[1], 0, limit - 1)
        return [PolicyChange.model_validate_json(entry) for entry in entries]

    def at_version(self, version: int) -> GlobalPolicy:
        """The policy as it was right after write ``version`` (0 = the defaults).

        Raises
        ------
        PolicyValidationError
            The version does not exist or is older than the history kept.
        """
        _, target = self._replay_to(version)
        return self._from_leaves(target)

    # --- writing ------------------------------------------------------------------------
    def patch(
        self,
        changes: Mapping[str, Any],
        *,
        by: str,
        reason: str,
        expected_version: int | None = None,
    ) -> GlobalPolicy:
        """Deep-merge ``changes`` into the policy in one atomic write.

        JSON Merge Patch rules: maps merge key by key, ``None`` removes a map key or resets
        a field to its default, anything else replaces. A patch that changes nothing
        writes nothing and returns the current policy.

        Raises
        ------
        PolicyValidationError
            A value is invalid or past a guardrail (the message names the field); nothing
            changed.
        PolicyConflictError
            ``expected_version`` is not the current version; nothing changed.
        """
        self._check_author(by, reason)
        check_patch_size(changes)
        return self._apply(self._ops(changes), by, reason, expected_version)

    def set_risk_mode(self, mode: RiskMode | str, *, by: str, reason: str) -> GlobalPolicy:
        """Patch only ``risk_mode``."""
        return self.patch({"risk_mode": str(mode)}, by=by, reason=reason)

    def rollback(self, version: int, *, by: str, reason: str) -> GlobalPolicy:
        """Write the policy of ``version`` again, as a new version (history is never
        rewritten). Guardrails in force now still apply.

        Raises
        ------
        PolicyValidationError
            The version is unknown or past the history kept, or its values cross a
            guardrail in force now.
        """
        self._check_author(by, reason)
        for _ in range(100):
            current, target = self._replay_to(version)
            self.guardrails.check(self._from_leaves(target))
            ops: list[tuple[str, str, str]] = [
                ("S", path, value) for path, value in target.items() if current.get(path) != value
            ]
            ops += [("D", path, "") for path in current if path not in target]
            try:
                return self._apply(
                    ops,
                    by,
                    f"rollback to version {version}: {reason}",
                    expected_version=int(current.get("version", 0)),
                )
            except PolicyConflictError:
                continue  # written meanwhile: replay again from the newer state
        raise TemporaryError("the policy kept changing during the rollback; try again")

    # --- internals ----------------------------------------------------------------------
    @staticmethod
    def _check_author(by: str, reason: str) -> None:
        if not by.strip() or not reason.strip():
            field = "by" if not by.strip() else "reason"
            raise PolicyValidationError(field, "every policy change needs who (by) and why")

    def _ops(self, changes: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """Validate ``changes`` and turn them into leaf operations for the script."""
        for key, value in changes.items():
            if key in META_FIELDS:
                raise PolicyValidationError(
                    key, "is maintained by the store; a patch cannot set it"
                )
            if key in MAP_FIELDS and isinstance(value, Mapping):
                for name in value:
                    if not isinstance(name, str) or not name or "." in name:
                        raise PolicyValidationError(
                            f"{key}.{name}", "keys must be non-empty text without '.'"
                        )
        # Every constraint is on one leaf, so validating the patch merged into the defaults
        # is validating it merged into any valid policy.
        merged = deep_merge(self._default_data, changes)
        for key, value in self._default_data.items():
            merged.setdefault(key, value)
        policy = validate_policy(merged)
        self.guardrails.check(policy)
        self._check_strategy_names(changes)
        data = policy.model_dump(mode="json")
        ops: list[tuple[str, str, str]] = []
        for key, value in changes.items():
            if key in MAP_FIELDS:
                if value is None:
                    ops.append(("P", key, ""))
                    continue
                for name, entry in value.items():
                    path = f"{key}.{name}"
                    ops.append(
                        ("D", path, "") if entry is None else ("S", path, _leaf(data[key][name]))
                    )
            elif key in MODEL_FIELDS:
                names = data[key] if value is None else value
                ops += [("S", f"{key}.{name}", _leaf(data[key][name])) for name in names]
            else:
                ops.append(("S", key, _leaf(data[key])))
        return ops

    def _check_strategy_names(self, changes: Mapping[str, Any]) -> None:
        """Refuse a patch naming a strategy that does not exist: not built in, not ``ml``,
        and no stored candidate of the Strategy Generator that can be built."""
        named: list[tuple[str, str]] = []
        for key in ("allowed_strategies", "blocked_strategies"):
            named += [(f"{key}.{i}", n) for i, n in enumerate(changes.get(key) or ())]
        states = changes.get("strategy_states") or {}
        named += [(f"strategy_states.{n}", n) for n, state in states.items() if state is not None]
        named = [(field, name) for field, name in named if name != ML_STRATEGY]
        if not named:
            return
        from components.evolution.store import EvolutionStore  # the research stack: lazily
        from components.strategies.registry import STRATEGIES

        resolver = EvolutionStore(self.client, namespace=self.namespace)
        for field, name in named:
            if resolver.resolve_strategy(name) is None:
                known = ", ".join([*sorted(STRATEGIES), ML_STRATEGY])
                raise PolicyValidationError(
                    field,
                    f"{name!r} is not a strategy: not built in ({known}) and no stored "
                    "candidate of `quantum-trader evolve` has that name",
                )

    def _apply(
        self,
        ops: Iterable[tuple[str, str, str]],
        by: str,
        reason: str,
        expected_version: int | None,
    ) -> GlobalPolicy:
        ops = list(ops)
        event_id = new_event_id()
        at = self._clock.now().isoformat()
        try:
            result = self._write(
                keys=self._keys,
                args=[
                    -1 if expected_version is None else expected_version,
                    by, reason, at, event_id, self._history_limit, self._stream_maxlen,
                    len(self._seed) // 2, *self._seed,
                    len(ops), *(item for op in ops for item in op),
                ],
            )  # fmt: skip
        except redis.RedisError as exc:
            raise TemporaryError(f"cannot write the policy: {type(exc).__name__}: {exc}") from None
        status, version = int(result[0]), int(result[1])
        if status == 0:
            raise PolicyConflictError(expected_version or 0, version)
        flat = result[2]
        policy = self._from_leaves(dict(zip(flat[::2], flat[1::2], strict=True)))
        if status == 1:
            log.info("policy v%d by %s: %s", version, by, reason)
            if self._bus is not None:  # the event is on the stream; tell the bus
                fields = entry_fields(event_id, POLICY_UPDATED, source=by, at=at, payload=result[3])
                event = decode_event(fields)
                self._bus.notify_written([event])
        return policy

    def _replay_to(self, version: int) -> tuple[dict[str, str], dict[str, str]]:
        """(current leaves, the leaves as they were after ``version``)."""
        current: dict[str, str] = self._r.hgetall(self._keys[0])
        latest = int(current.get("version", 0))
        if not 0 <= version <= latest:
            raise PolicyValidationError(
                "version", f"{version} does not exist (the policy is at version {latest})"
            )
        needed = latest - version
        entries = self._r.lrange(self._keys[1], 0, needed - 1) if needed else []
        if len(entries) < needed:
            oldest = latest - len(entries)
            raise PolicyValidationError(
                "version",
                f"{version} is older than the history kept (oldest: {oldest}; "
                "QT_POLICY_HISTORY_LIMIT sets how many are kept)",
            )
        target = {k: v for k, v in current.items() if k not in META_FIELDS}
        for raw in entries:  # newest first: undo each change
            for path, change in json.loads(raw)["diff"].items():
                if change["old"] is None and path.split(".", 1)[0] in MAP_FIELDS:
                    target.pop(path, None)
                else:
                    target[path] = _leaf(change["old"])
        return current, target

    def _from_leaves(self, leaves: Mapping[str, str]) -> GlobalPolicy:
        """The policy from its stored leaves.

        Raises
        ------
        DataError
            A stored leaf is not valid JSON or not a valid value: names the key and field.
        """
        if not leaves:
            return self._defaults
        data: dict[str, Any] = {key: dict(value) if isinstance(value, dict) else value
                                for key, value in self._default_data.items()}  # fmt: skip
        for path, raw in leaves.items():
            field, _, name = path.partition(".")
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise self._corrupt(path, f"{_clip(raw)} is not JSON ({exc.msg})") from None
            if name and not isinstance(data.get(field), dict):
                raise self._corrupt(path, f"{field!r} is not a policy field with entries")
            if name:
                data[field][name] = value
            else:
                data[field] = value
        try:
            return validate_policy(data)
        except PolicyValidationError as exc:
            raise self._corrupt(exc.field, str(exc).partition(": ")[2]) from None

    def _corrupt(self, path: str, problem: str) -> DataError:
        return DataError(
            f"the stored policy is corrupt: field {path!r} of Redis hash {self._keys[0]!r}: "
            f"{problem}; fix it with `quantum-trader policy patch` or "
            "`quantum-trader policy rollback`"
        )


def check_patch_size(changes: Mapping[str, Any]) -> None:
    """Refuse a patch whose JSON text is over :data:`MAX_PATCH_BYTES`.

    Raises
    ------
    PolicyValidationError
        Naming the field ``patch`` and the size.
    """
    size = len(json.dumps(changes, separators=(",", ":"), default=str).encode())
    if size > MAX_PATCH_BYTES:
        raise PolicyValidationError(
            "patch", f"{size} bytes is over the limit of {MAX_PATCH_BYTES} bytes (64 KiB)"
        )


def _clip(raw: str, width: int = 40) -> str:
    return repr(raw if len(raw) <= width else raw[:width] + "...")


def _flatten(data: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level fields and model sub-fields as leaves; map fields start empty."""
    leaves: dict[str, Any] = {}
    for key, value in data.items():
        if key in MAP_FIELDS:
            continue
        if key in MODEL_FIELDS:
            leaves.update({f"{key}.{name}": sub for name, sub in value.items()})
        else:
            leaves[key] = value
    return leaves
