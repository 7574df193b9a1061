"""Who is calling: a bearer token (``Authorization: Bearer qt_...``) on every route but
``/api/health``, or, for reads only, the session cookie the dashboard's sign-in sets.

The cookie holds the same secret (HttpOnly, SameSite=Strict), is checked against the
token store on every request (a revoked token stops working at once), and is never
accepted for a write: a page on another site cannot make a signed-in browser change
anything.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from components.access import ApiToken
from deployments.api.services import Services

COOKIE = "qt_session"
READ_METHODS = frozenset({"GET", "HEAD"})

bearer = HTTPBearer(
    auto_error=False,
    description="An API token: quantum-trader api token create --role viewer|operator --name N",
)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def token_of(request: Request, bearer_secret: str | None = None) -> ApiToken | None:
    """The valid token a request carries (bearer header, or the cookie on a read), or None."""
    secret = bearer_secret
    if secret is None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        secret = value.strip() if scheme.lower() == "bearer" else None
    if not secret and request.method in READ_METHODS:
        secret = request.cookies.get(COOKIE)
    if not secret:
        return None
    return services(request).tokens.authenticate(secret)


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiToken:
    """The token of this request; 401 without a valid one."""
    secret = credentials.credentials if credentials is not None else None
    if secret is None and not (request.method in READ_METHODS and request.cookies.get(COOKIE)):
        raise unauthorized(
            "a bearer token is needed (Authorization: Bearer <token>); "
            "create one with: quantum-trader api token create --role viewer --name <you>"
        )
    token = token_of(request, secret)
    if token is None:
        raise unauthorized("the token is unknown or revoked")
    request.state.token = token
    return token


def operator(token: Annotated[ApiToken, Depends(caller)]) -> ApiToken:
    """The token of a write; 403 for a viewer's."""
    if not token.may_write():
        raise HTTPException(
            403, f"token {token.name!r} is a viewer token: this needs an operator token"
        )
    return token


Caller = Annotated[ApiToken, Depends(caller)]
Operator = Annotated[ApiToken, Depends(operator)]
Svc = Annotated[Services, Depends(services)]
