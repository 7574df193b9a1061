"""/api/policy: read, patch (JSON Merge Patch, ``If-Match``), history, rollback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from components.policy import GlobalPolicy
from components.policy.model import META_FIELDS
from deployments.api.auth import Caller, Operator, Svc
from deployments.api.bodies import JsonObject, invalid, openapi_body, parse

router = APIRouter(prefix="/api/policy", tags=["policy"])


class PolicyPatch(BaseModel):
    """A JSON Merge Patch of the policy, plus why (``by`` is the token's name)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {
        "max_positions": 4, "reason": "fewer bets"}})  # fmt: skip

    reason: str = Field(min_length=1, max_length=1_000, description="Why; kept in the history.")


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, description="The version to restore (as a new version).")
    reason: str = Field(min_length=1, max_length=1_000)


def _policy_response(policy: GlobalPolicy, response: Response) -> dict[str, Any]:
    response.headers["ETag"] = f'"{policy.version}"'
    return policy.model_dump(mode="json")


def _expected_version(if_match: str | None) -> int | None:
    """``If-Match: "7"`` (or ``7``, or ``W/"7"``) -> 7; ``*`` or none -> no condition."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise invalid(("header", "If-Match"), f"{if_match!r} is not a policy version (the ETag)")
    return int(text)


@router.get("", summary="The current policy (its version is the ETag)")
def get_policy(svc: Svc, _: Caller, response: Response) -> dict[str, Any]:
    return _policy_response(svc.policy.get(), response)


@router.patch(
    "",
    summary="Deep-merge a JSON Merge Patch into the policy",
    openapi_extra=openapi_body(PolicyPatch),
    responses={412: {"description": "If-Match names a version that is no longer current"}},
)
def patch_policy(
    svc: Svc,
    token: Operator,
    body: JsonObject,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> dict[str, Any]:
    """Maps merge key by key, ``null`` removes a key or resets a field; ``reason`` is
    required and ``by`` is the token's name. With ``If-Match: "<version>"`` the patch is
    refused with 412 unless the policy is still at that version. A bad value is refused
    with 422 naming the field, and nothing is written."""
    patch = parse(PolicyPatch, body)
    if "by" in body:
        raise invalid(("body", "by"), "is the token's name; it cannot be given")
    changes = {k: v for k, v in body.items() if k != "reason"}
    policy = svc.policy.patch(
        changes, by=token.name, reason=patch.reason, expected_version=_expected_version(if_match)
    )
    return _policy_response(policy, response)


@router.get("/history", summary="Who changed the policy, when, why and what (newest first)")
def policy_history(
    svc: Svc, _: Caller, limit: Annotated[int, Query(ge=1, le=10_000)] = 20
) -> list[dict[str, Any]]:
    return [change.model_dump(mode="json") for change in svc.policy.history(limit)]


@router.post("/rollback", summary="Write an earlier version again, as a new version",
             openapi_extra=openapi_body(Rollback))  # fmt: skip
def rollback_policy(
    svc: Svc, token: Operator, body: JsonObject, response: Response
) -> dict[str, Any]:
    request = parse(Rollback, body)
    policy = svc.policy.rollback(request.version, by=token.name, reason=request.reason)
    return _policy_response(policy, response)


@router.get("/{field}", summary="One field of the policy, e.g. risk_mode or opp_rankings")
def policy_field(svc: Svc, _: Caller, field: str) -> dict[str, Any]:
    if field not in GlobalPolicy.model_fields:
        known = ", ".join(f for f in GlobalPolicy.model_fields if f not in META_FIELDS)
        raise HTTPException(404, f"the policy has no field {field!r} (fields: {known})")
    policy = svc.policy.get()
    return {
        "field": field,
        "value": policy.model_dump(mode="json")[field],
        "version": policy.version,
    }
