"""/api/health (open), /api/deployments (+ runs through Prefect), /metrics, /api/equity,
/api/charts/..., the dashboard's sign-in (/api/session) and the dashboard itself (/)."""

from __future__ import annotations

import logging
import os
from importlib import resources
from typing import Annotated, Any

import redis
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from components.analytics.charts import (
    NO_FILLS,
    account_equity_curve,
    equity_and_drawdown_figure,
    figure_png,
)
from components.analytics.metrics import drawdown_series
from components.errors import QuantumTraderError
from components.monitoring.metrics import CONTENT_TYPE, render
from deployments.api.auth import COOKIE, Caller, Operator, Svc, services, token_of, unauthorized
from deployments.api.bodies import JsonObject, OptionalJsonObject, openapi_body, parse

router = APIRouter(tags=["system"])
log = logging.getLogger(__name__)

PNG = "image/png"


# --- health (no token) -----------------------------------------------------------------------
@router.get("/api/health", summary="Is the system healthy? (no token needed, no internals)")
def health(request: Request) -> JSONResponse:
    try:
        record = services(request).health.get()
    except (redis.RedisError, QuantumTraderError):
        return JSONResponse({"status": "UNAVAILABLE"}, status_code=503)
    return JSONResponse({"status": record.status.value if record else "UNKNOWN"})


# --- deployments ------------------------------------------------------------------------------
class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Flow parameters; the deployment's defaults otherwise."
    )


@router.get("/api/deployments", summary="Every deployment of prefect.yaml, with its last success")
def deployments(svc: Svc, _: Caller) -> list[dict[str, Any]]:
    from deployments.specs import load_specs

    successes = svc.telemetry.last_successes()
    return [
        {
            "name": spec.name,
            "description": spec.description,
            "tags": spec.tags,
            "schedules": [s.model_dump(exclude_none=True) for s in spec.schedules],
            "triggers": len(spec.triggers),
            "last_success": successes[spec.name].isoformat() if spec.name in successes else None,
        }
        for spec in load_specs()
    ]


@router.post(
    "/api/deployments/{name}/run",
    status_code=202,
    summary="Start a run of a deployment through Prefect (e.g. msc-evaluation)",
    openapi_extra=openapi_body(RunRequest, required=False),
)
def run_deployment(
    name: str, svc: Svc, token: Operator, body: OptionalJsonObject
) -> dict[str, Any]:
    """The run is tagged ``by:<token name>``; Prefect runs it on whatever serves the
    deployment (``up``, ``serve`` or a worker)."""
    from deployments.specs import load_specs

    request = parse(RunRequest, body)
    names = [spec.name for spec in load_specs()]
    if name not in names:
        raise HTTPException(404, f"no deployment {name!r} (deployments: {', '.join(names)})")
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        raise HTTPException(
            503, "no Prefect server is configured: set PREFECT_API_URL (quantum-trader up does)"
        )
    from deployments.api.prefect_runs import start_run

    run = start_run(api_url, name, parameters=request.parameters, by=token.name)
    log.info("deployment %s run %s started by %s", name, run["flow_run_name"], token.name)
    return run


# --- metrics ----------------------------------------------------------------------------------
@router.get("/metrics", summary="Prometheus metrics (text exposition format)",
            response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})  # fmt: skip
def metrics(request: Request, _: Caller) -> Response:
    collector = request.app.state.metrics
    return Response(render(collector), media_type=CONTENT_TYPE)


# --- equity and charts ------------------------------------------------------------------------
def _curve(svc: Any) -> Any:
    return account_equity_curve(
        svc.telemetry.equity_history(),
        svc.ledger.fills(),
        svc.settings.paper.initial_cash,
    )


@router.get("/api/equity", summary="The account's equity and drawdown over time")
def equity(
    svc: Svc, _: Caller, points: Annotated[int, Query(ge=2, le=20_000)] = 2_000
) -> dict[str, Any]:
    """Per engine cycle (marked to market) when the engine has recorded it, otherwise at
    each fill (realised); empty, with ``note``, before the first fill. ``drawdown`` is
    the fraction below the running peak (0 at a peak)."""
    curve = _curve(svc)
    if len(curve) > points:  # keep the shape: every n-th point, and always the last
        step = -(-len(curve) // points)
        curve = curve.iloc[::-1].iloc[::step].iloc[::-1]
    drawdown = drawdown_series(curve)
    return {
        "initial_cash": svc.settings.paper.initial_cash,
        "points": [
            {"at": at.isoformat(), "equity": float(value), "drawdown": abs(float(dd))}
            for at, value, dd in zip(
                curve.index, curve.to_numpy(), drawdown.to_numpy(), strict=True
            )
        ],
        "note": None if len(curve) else NO_FILLS,
    }


@router.get("/api/charts/equity.png", summary="The account's equity and drawdown, as a PNG",
            response_class=Response, responses={200: {"content": {PNG: {}}}})  # fmt: skip
def equity_chart(svc: Svc, _: Caller) -> Response:
    png = figure_png(
        equity_and_drawdown_figure(
            _curve(svc), title=f"Equity and drawdown ({svc.namespace})", empty=NO_FILLS
        )
    )
    return Response(png, media_type=PNG, headers={"Cache-Control": "no-store"})


@router.get("/api/charts/{chart_id}.png", summary="A chart a flow stored (report, backtest)",
            response_class=Response, responses={200: {"content": {PNG: {}}}})  # fmt: skip
def stored_chart(chart_id: str, svc: Svc, _: Caller) -> Response:
    png = svc.charts.get(chart_id)
    if png is None:
        raise HTTPException(404, f"no chart {chart_id!r} (charts are kept 30 days)")
    return Response(png, media_type=PNG, headers={"Cache-Control": "private, max-age=86400"})


# --- the dashboard and its sign-in ------------------------------------------------------------
class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200, description="An API token.")


@router.post("/api/session", summary="Sign the browser in (an HttpOnly cookie, for reads)",
             openapi_extra=openapi_body(SignIn))  # fmt: skip
def sign_in(request: Request, body: JsonObject) -> JSONResponse:
    secret = parse(SignIn, body).token.strip()
    token = services(request).tokens.authenticate(secret)
    if token is None:
        raise unauthorized("the token is unknown or revoked")
    response = JSONResponse({"name": token.name, "role": token.role.value})
    response.set_cookie(COOKIE, secret, httponly=True, samesite="strict", path="/")
    return response


@router.delete("/api/session", summary="Sign the browser out")
def sign_out(request: Request) -> JSONResponse:
    # The one write the cookie may make: forgetting itself (harmless if forged).
    cookie = request.cookies.get(COOKIE)
    if token_of(request) is None and not (cookie and services(request).tokens.authenticate(cookie)):
        raise unauthorized("not signed in")
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/api/whoami", summary="The token this request carries")
def whoami(token: Caller) -> dict[str, str]:
    return {"name": token.name, "role": token.role.value}


def dashboard_html() -> str:
    return resources.files("deployments.api").joinpath("dashboard.html").read_text()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request) -> HTMLResponse:
    """The live dashboard. Without a token the same page answers 401 and asks for one."""
    headers = {"Cache-Control": "no-store"}
    if token_of(request) is None:
        return HTMLResponse(dashboard_html(), 401, headers | {"WWW-Authenticate": "Bearer"})
    return HTMLResponse(dashboard_html(), headers=headers)
