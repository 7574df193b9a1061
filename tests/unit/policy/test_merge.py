from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from components.policy import deep_merge, diff

json_leaf = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5), st.booleans())
json_tree = st.recursive(
    json_leaf,
    lambda children: st.dictionaries(st.text(min_size=1, max_size=4), children, max_size=4),
    max_leaves=12,
)
json_object = st.dictionaries(st.text(min_size=1, max_size=4), json_tree, max_size=5)


def test_maps_merge_key_by_key_and_other_values_replace() -> None:
    base = {"risk": 1, "states": {"a": "live", "b": "shadow"}, "universe": ["X", "Y"]}
    merged = deep_merge(base, {"states": {"b": "live", "c": "shadow"}, "universe": ["Z"]})
    assert merged == {
        "risk": 1,
        "states": {"a": "live", "b": "live", "c": "shadow"},
        "universe": ["Z"],
    }


def test_none_removes_a_key() -> None:
    assert deep_merge({"m": {"a": 1, "b": 2}}, {"m": {"a": None}}) == {"m": {"b": 2}}


def test_merge_changes_neither_input() -> None:
    base = {"m": {"a": 1}}
    patch = {"m": {"b": 2}}
    deep_merge(base, patch)
    assert base == {"m": {"a": 1}} and patch == {"m": {"b": 2}}


def test_diff_names_dotted_paths_of_changed_leaves() -> None:
    old = {"max_positions": 5, "states": {"a": "live"}, "universe": ["X"]}
    new = {"max_positions": 4, "states": {"a": "live", "b": "shadow"}, "universe": ["X"]}
    assert diff(old, new) == {
        "max_positions": {"old": 5, "new": 4},
        "states.b": {"old": None, "new": "shadow"},
    }


@given(json_object)
def test_merging_an_empty_patch_is_identity(base: dict[str, Any]) -> None:
    assert deep_merge(base, {}) == base
    assert diff(base, base) == {}


@given(json_object, json_object)
def test_merging_a_patch_twice_equals_merging_it_once(
    base: dict[str, Any], patch: dict[str, Any]
) -> None:
    once = deep_merge(base, patch)
    assert deep_merge(once, patch) == once
