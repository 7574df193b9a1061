"""The HTTP API of Quantum Trader: ``create_app(settings)`` builds the FastAPI application.

Every route but ``/api/health`` needs a token (see :mod:`deployments.api.auth`); writes
need an ``operator`` token and record its name as ``by``. Routes call the components the
command line calls. Errors keep the component's words: a policy value past a guardrail is
a 422 naming the field, a stale ``If-Match`` a 412, Redis unreachable a 503.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from components.errors import (
    PolicyConflictError,
    PolicyValidationError,
    QuantumTraderError,
    TemporaryError,
)
from components.market import Clock
from components.monitoring.metrics import MetricsCollector
from components.settings import Settings
from deployments.api import routes_events, routes_policy, routes_system, routes_trading
from deployments.api.auth import Caller
from deployments.api.services import Services

log = logging.getLogger(__name__)

DESCRIPTION = """Read and steer Quantum Trader over HTTP.

Every route but `/api/health` needs a bearer token
(`quantum-trader api token create --role viewer|operator --name <you>`); writes need an
`operator` token, whose name is recorded as `by`. Use **Authorize** above to try routes.
"""
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """The API of ``settings``' namespace (connects to Redis now)."""
    services = Services.connect(settings, clock=clock)
    app = FastAPI(
        title="Quantum Trader",
        description=DESCRIPTION,
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind a token
    )
    app.state.services = services
    app.state.metrics = MetricsCollector(
        services.client,
        namespace=settings.namespace,
        policy=services.policy,
        ess=services.ess,
        ledger=services.ledger,
        bus=services.bus,
        clock=services.clock,
    )
    for module in (routes_policy, routes_trading, routes_events, routes_system):
        app.include_router(module.router)
    _add_docs(app)
    _add_error_handlers(app)
    return app


def _add_docs(app: FastAPI) -> None:
    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: Caller) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(_: Caller) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Quantum Trader API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon.png",
        )

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str, _: Caller) -> FileResponse:
        # Swagger UI's files ship with fastapi-offline: the machine may be offline.
        if name not in DOCS_ASSETS:
            raise HTTPException(404, f"no asset {name!r}")
        path = resources.files("fastapi_offline").joinpath("static", name)
        return FileResponse(str(path), media_type=DOCS_ASSETS[name])


def _detail(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"detail": [{"loc": loc, "msg": msg, "type": kind}]}


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PolicyValidationError)
    def policy_invalid(request: Request, exc: PolicyValidationError) -> JSONResponse:
        loc: list[str | int] = ["body", *exc.field.split(".")]
        return JSONResponse(_detail(loc, str(exc), "policy_invalid"), status_code=422)

    @app.exception_handler(PolicyConflictError)
    def policy_conflict(request: Request, exc: PolicyConflictError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "version": exc.actual},
            status_code=412,
            headers={"ETag": f'"{exc.actual}"'},
        )

    @app.exception_handler(TemporaryError)
    def unavailable(request: Request, exc: TemporaryError) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(QuantumTraderError)
    def refused(request: Request, exc: QuantumTraderError) -> JSONResponse:
        return JSONResponse(_detail(["query"], str(exc), "value_error"), status_code=422)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)


def app_from_environment() -> FastAPI:
    """For ``uvicorn deployments.api.app:app_from_environment --factory``."""
    from components.settings import load_settings

    return create_app(load_settings())
