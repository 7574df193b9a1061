"""Tokens and roles: 401 without a token (everywhere but /api/health), 403 for a viewer's
write, the token's name as ``by``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from components.access import TokenStore
from components.settings import Settings

READS = [
    "/api/policy",
    "/api/policy/risk_mode",
    "/api/policy/history",
    "/api/ess",
    "/api/positions",
    "/api/orders",
    "/api/fills",
    "/api/report",
    "/api/events",
    "/api/deployments",
    "/api/equity",
    "/api/charts/equity.png",
    "/api/whoami",
    "/metrics",
    "/docs",
    "/openapi.json",
    "/docs/assets/swagger-ui-bundle.js",
    "/",
]
WRITES = [
    ("PATCH", "/api/policy", {"max_positions": 4, "reason": "r"}),
    ("POST", "/api/policy/rollback", {"version": 0, "reason": "r"}),
    ("POST", "/api/ess/halt", {"reason": "r"}),
    ("POST", "/api/ess/resume", {"reason": "r"}),
    ("POST", "/api/deployments/msc-evaluation/run", {}),
]


@pytest.mark.parametrize("path", READS)
def test_every_read_answers_401_without_a_token(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_every_write_answers_401_without_a_token(
    api: TestClient, method: str, path: str, body: dict[str, object]
) -> None:
    assert api.request(method, path, json=body).status_code == 401


def test_the_event_stream_answers_401_without_a_token(api: TestClient) -> None:
    assert api.get("/api/events/stream").status_code == 401


def test_health_needs_no_token_and_shows_no_internals(api: TestClient) -> None:
    response = api.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "UNKNOWN"}


@pytest.mark.parametrize("path", READS)
def test_a_viewer_reads_everything(
    api: TestClient, viewer_headers: dict[str, str], path: str
) -> None:
    assert api.get(path, headers=viewer_headers).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_viewer_writing_gets_403_and_nothing_changes(
    api: TestClient,
    viewer_headers: dict[str, str],
    method: str,
    path: str,
    body: dict[str, object],
) -> None:
    before = api.get("/api/policy", headers=viewer_headers).json()
    ess = api.get("/api/ess", headers=viewer_headers).json()
    response = api.request(method, path, json=body, headers=viewer_headers)
    assert response.status_code == 403
    assert "viewer" in response.json()["detail"]
    assert api.get("/api/policy", headers=viewer_headers).json() == before
    assert api.get("/api/ess", headers=viewer_headers).json() == ess


def test_a_revoked_token_gets_401_from_the_next_request(
    api: TestClient, settings: Settings, operator_headers: dict[str, str]
) -> None:
    assert api.get("/api/policy", headers=operator_headers).status_code == 200
    TokenStore.connect(settings).revoke("alice")
    assert api.get("/api/policy", headers=operator_headers).status_code == 401


def test_a_malformed_authorization_header_is_401(api: TestClient) -> None:
    for header in ("Bearer", "Basic abc", "Bearer qt_nope", "qt_nope"):
        assert api.get("/api/policy", headers={"Authorization": header}).status_code == 401


def test_sign_in_sets_a_cookie_that_reads_but_never_writes(
    api: TestClient, settings: Settings
) -> None:
    from datetime import UTC, datetime

    issued = TokenStore.connect(settings).create("ops", "operator", now=datetime.now(UTC))
    assert api.post("/api/session", json={"token": "qt_wrong"}).status_code == 401
    response = api.post("/api/session", json={"token": issued.secret})
    assert response.status_code == 200
    assert response.json() == {"name": "ops", "role": "operator"}
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert api.get("/api/whoami").json() == {"name": "ops", "role": "operator"}
    assert api.get("/").status_code == 200
    # a cross-site page could make the browser send the cookie: writes need the header
    assert api.post("/api/ess/halt", json={"reason": "csrf"}).status_code == 401
    assert api.get("/api/ess").json()["state"] == "ACTIVE"
    assert api.delete("/api/session").status_code == 200
    assert api.get("/api/whoami").status_code == 401


def test_the_dashboard_asks_for_a_token_with_401(api: TestClient) -> None:
    response = api.get("/")
    assert response.status_code == 401
    assert "Sign in" in response.text
