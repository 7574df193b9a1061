"""/api/ess, /api/positions, /api/orders, /api/fills, /api/report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from components.engine import marked_account
from deployments.api.auth import Caller, Operator, Svc
from deployments.api.bodies import OptionalJsonObject, openapi_body, parse

router = APIRouter(prefix="/api", tags=["trading"])


class EssChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, min_length=1, max_length=1_000)


@router.get("/ess", summary="The Emergency Stop's state and why")
def ess_status(svc: Svc, _: Caller) -> dict[str, Any]:
    return svc.ess.status().model_dump(mode="json")


@router.post("/ess/halt", summary="Stop every new order at once (only cancels pass)",
             openapi_extra=openapi_body(EssChange, required=False))  # fmt: skip
def ess_halt(svc: Svc, token: Operator, body: OptionalJsonObject) -> dict[str, Any]:
    reason = parse(EssChange, body).reason or "halted through the API"
    return svc.ess.halt(reason, by=token.name).model_dump(mode="json")


@router.post("/ess/resume", summary="Leave HALTED or REDUCING: trading starts again",
             openapi_extra=openapi_body(EssChange, required=False))  # fmt: skip
def ess_resume(svc: Svc, token: Operator, body: OptionalJsonObject) -> dict[str, Any]:
    reason = parse(EssChange, body).reason or "resumed through the API"
    return svc.ess.resume(by=token.name, reason=reason).model_dump(mode="json")


@router.get("/positions", summary="Open positions, cash and equity, marked at the last close")
def positions(svc: Svc, _: Caller) -> dict[str, Any]:
    state = marked_account(
        svc.ledger,
        market=lambda: svc.market,
        timeframe=svc.settings.engine.timeframe,
        fills=0,
    )
    return state.model_dump(mode="json", exclude={"fills", "open_orders"})


@router.get("/orders", summary="Orders waiting for their fill")
def orders(svc: Svc, _: Caller) -> list[dict[str, Any]]:
    return [order.model_dump(mode="json") for order in svc.ledger.open_orders()]


@router.get("/fills", summary="The newest fills, oldest first")
def fills(
    svc: Svc, _: Caller, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> list[dict[str, Any]]:
    return [fill.model_dump(mode="json") for fill in svc.ledger.fills(limit)]


@router.get("/report", summary="Per-strategy, per-model and system metrics from every event")
def report(svc: Svc, _: Caller) -> dict[str, Any]:
    result: dict[str, Any] = svc.analytics().report(svc.clock.now()).model_dump(mode="json")
    return result
