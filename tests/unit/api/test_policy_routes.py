"""PATCH /api/policy and friends: the PolicyStore's rules, over HTTP."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from components.policy import PolicyStore
from components.settings import Settings


def test_a_patch_as_curl_sends_it_writes_the_next_version_by_the_token_name(
    api: TestClient, settings: Settings, operator_headers: dict[str, str]
) -> None:
    # curl -d sends application/x-www-form-urlencoded: the body is still read as JSON
    response = api.patch(
        "/api/policy",
        content=b'{"max_positions": 4, "reason": "test"}',
        headers=operator_headers | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["max_positions"] == 4
    assert response.json()["version"] == 1
    assert response.headers["ETag"] == '"1"'
    [change] = PolicyStore.connect(settings).history(5)
    assert (change.version, change.by, change.reason) == (1, "alice", "test")
    assert change.diff == {"max_positions": {"old": 5, "new": 4}}


def test_if_match_with_a_stale_version_is_412_and_nothing_changes(
    api: TestClient, settings: Settings, operator_headers: dict[str, str]
) -> None:
    store = PolicyStore.connect(settings)
    store.patch({"max_positions": 3}, by="ops", reason="first")
    store.patch({"max_positions": 2}, by="ops", reason="second")
    stale = api.patch(
        "/api/policy",
        json={"max_positions": 4, "reason": "late"},
        headers=operator_headers | {"If-Match": '"1"'},
    )
    assert stale.status_code == 412
    assert stale.json()["version"] == 2
    assert store.get().max_positions == 2
    fresh = api.patch(
        "/api/policy",
        json={"max_positions": 4, "reason": "current"},
        headers=operator_headers
        | {"If-Match": api.get("/api/policy", headers=operator_headers).headers["ETag"]},
    )
    assert fresh.status_code == 200
    assert fresh.json()["version"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_risk_per_trade": 0.5, "reason": "r"}, "max_risk_per_trade"),
        ({"max_positions": "many", "reason": "r"}, "max_positions"),
        ({"no_such_field": 1, "reason": "r"}, "no_such_field"),
        ({"max_positions": 4}, "reason"),
        ({"max_positions": 4, "reason": ""}, "reason"),
        ({"max_positions": 4, "reason": "r", "by": "mallory"}, "by"),
        ({"risk_mode": "YOLO", "reason": "r"}, "risk_mode"),
    ],
)
def test_a_bad_body_is_422_naming_the_field_and_nothing_is_written(
    api: TestClient,
    settings: Settings,
    operator_headers: dict[str, str],
    body: dict[str, object],
    field: str,
) -> None:
    response = api.patch("/api/policy", json=body, headers=operator_headers)
    assert response.status_code == 422, response.text
    locations = [error["loc"] for error in response.json()["detail"]]
    assert any(loc[:2] == ["body", field] for loc in locations), locations
    assert PolicyStore.connect(settings).version() == 0


@pytest.mark.parametrize(
    "raw", [b"", b"[1, 2]", b"{not json", b'{"max_positions": NaN, "reason": "r"}']
)
def test_a_body_that_is_not_a_json_object_is_422(
    api: TestClient, settings: Settings, operator_headers: dict[str, str], raw: bytes
) -> None:
    response = api.patch("/api/policy", content=raw, headers=operator_headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert PolicyStore.connect(settings).version() == 0


def test_a_huge_body_is_refused_with_413(api: TestClient, operator_headers: dict[str, str]) -> None:
    body = json.dumps({"reason": "r", "opp_rankings": {f"S{i}/USDT": 0.5 for i in range(20_000)}})
    assert api.patch("/api/policy", content=body, headers=operator_headers).status_code == 413


def test_one_field_history_and_rollback(
    api: TestClient, settings: Settings, operator_headers: dict[str, str]
) -> None:
    api.patch("/api/policy", json={"risk_mode": "DEFENSIVE", "reason": "storm"},
              headers=operator_headers)  # fmt: skip
    field = api.get("/api/policy/risk_mode", headers=operator_headers).json()
    assert field == {"field": "risk_mode", "value": "DEFENSIVE", "version": 1}
    assert api.get("/api/policy/nope", headers=operator_headers).status_code == 404
    history = api.get("/api/policy/history?limit=5", headers=operator_headers).json()
    assert [(h["version"], h["by"]) for h in history] == [(1, "alice")]
    rolled = api.post(
        "/api/policy/rollback", json={"version": 0, "reason": "calm"}, headers=operator_headers
    )
    assert rolled.status_code == 200
    assert rolled.json()["risk_mode"] == "NORMAL"
    assert PolicyStore.connect(settings).history(1)[0].by == "alice"
    unknown = api.post(
        "/api/policy/rollback", json={"version": 99, "reason": "x"}, headers=operator_headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "version"]
