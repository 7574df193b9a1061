"""Request bodies: JSON whatever the Content-Type says (``curl -d`` sends form encoding),
strict JSON (no NaN or Infinity), bounded in size, and refused with a 422 that names the
field, FastAPI's way, before anything is written."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

MAX_BODY_BYTES = 256 * 1024
M = TypeVar("M", bound=BaseModel)


def invalid(
    loc: tuple[str | int, ...], msg: str, kind: str = "value_error"
) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


async def read_json(request: Request, *, required: bool) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise HTTPException(413, f"the body is {len(raw):,} bytes; at most {MAX_BODY_BYTES:,}")
    if not raw.strip():
        if required:
            raise invalid(("body",), "a JSON object is required", "missing")
        return {}
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise invalid(("body", exc.pos), f"invalid JSON: {exc.msg}", "json_invalid") from None
    except ValueError as exc:
        raise invalid(("body",), str(exc), "json_invalid") from None
    if not isinstance(data, dict):
        raise invalid(("body",), f"must be a JSON object, not {type(data).__name__}", "dict_type")
    return data


async def json_object(request: Request) -> dict[str, Any]:
    return await read_json(request, required=True)


async def optional_json_object(request: Request) -> dict[str, Any]:
    return await read_json(request, required=False)


JsonObject = Annotated[dict[str, Any], Depends(json_object)]
OptionalJsonObject = Annotated[dict[str, Any], Depends(optional_json_object)]


def parse(model: type[M], data: dict[str, Any]) -> M:
    """``data`` as ``model``, or a 422 naming each bad field (``["body", field]``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {"loc": ("body", *error["loc"]), "msg": error["msg"], "type": error["type"]}
                for error in exc.errors(include_url=False)
            ]
        ) from None


def openapi_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the request body (the routes read the raw
    body themselves, so FastAPI cannot infer it)."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
