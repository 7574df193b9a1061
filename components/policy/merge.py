"""Deep merge and diff of plain JSON-like data, the semantics of ``PolicyStore.patch``.

The merge follows JSON Merge Patch (RFC 7386): objects merge key by key, recursively; any
other value replaces; ``None`` removes the key (for a top-level policy field that means
"back to its default").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``base`` with ``patch`` merged in; neither input is changed.

    >>> deep_merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": None, "z": 3}})
    {'a': {'x': 1, 'z': 3}, 'b': 1}
    """
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        elif isinstance(value, Mapping):
            merged[key] = deep_merge({}, value)  # drops the Nones inside a new map too
        else:
            merged[key] = value
    return merged


def diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"dotted.path": {"old": ..., "new": ...}}`` for every leaf that differs.

    Maps are compared key by key; lists and scalars as whole values.

    >>> diff({"a": {"x": 1}, "b": [1]}, {"a": {"x": 2}, "b": [1]})
    {'a.x': {'old': 1, 'new': 2}}
    """
    changes: dict[str, Any] = {}
    for key in sorted(set(old) | set(new), key=str):
        path = f"{prefix}{key}"
        before, after = old.get(key), new.get(key)
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            changes.update(diff(before, after, prefix=f"{path}."))
        elif before != after:
            changes[path] = {"old": before, "new": after}
    return changes
