"""API tokens: a name, a role and the SHA-256 of a random secret, kept in Redis.

Keys (under the namespace ``ns``)::

    ns:api:tokens        hash: token name -> ApiToken JSON (name, role, created_at, hash)
    ns:api:token_hashes  hash: SHA-256 of the secret (hex) -> token name

The secret itself is never stored: :meth:`TokenStore.create` returns it once, and
:meth:`TokenStore.authenticate` looks its hash up. Secrets carry 256 random bits, so a
plain SHA-256 is enough (a slow password hash protects guessable passwords, not these).
Creating a name that exists is refused; revoking removes both entries at once, so a
revoked secret fails from the next request on.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from components.errors import ConfigurationError, TemporaryError
from components.redis import namespaced
from components.settings import Settings

SECRET_PREFIX = "qt_"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"

# KEYS: tokens hash, hashes hash. ARGV: name, record JSON, hash.
_CREATE_SCRIPT = r"""
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
return 1
"""
# KEYS: tokens hash, hashes hash. ARGV: name, hash.
_REVOKE_SCRIPT = r"""
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"""


class Role(StrEnum):
    """``viewer`` reads; ``operator`` also writes, halts and starts runs."""

    VIEWER = "viewer"
    OPERATOR = "operator"


class ApiToken(BaseModel):
    """A token as stored: everything but the secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    role: Role
    created_at: AwareDatetime
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)

    def may_write(self) -> bool:
        return self.role is Role.OPERATOR


class IssuedToken(BaseModel):
    """What :meth:`TokenStore.create` hands back: the stored token and its secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: ApiToken
    secret: str = Field(repr=False)


def secret_hash(secret: str) -> str:
    """The SHA-256 (hex) a secret is stored and looked up by."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """Create, list, revoke and check API tokens (see the module docstring).

    >>> store = TokenStore.connect(settings)
    >>> store.create("alice", Role.VIEWER, now=now).secret
    'qt_...'
    """

    def __init__(self, client: redis.Redis, *, namespace: str) -> None:
        self._r: Any = client  # a decoding client (connect() makes one)
        self.namespace = namespace
        self._keys = [
            namespaced(namespace, "api", "tokens"),
            namespaced(namespace, "api", "token_hashes"),
        ]
        self._create = client.register_script(_CREATE_SCRIPT)
        self._revoke = client.register_script(_REVOKE_SCRIPT)

    @classmethod
    def connect(cls, settings: Settings) -> TokenStore:
        from components.redis import connect

        return cls(connect(settings), namespace=settings.namespace)

    def create(self, name: str, role: Role | str, *, now: datetime) -> IssuedToken:
        """Issue a new token; its secret is in the result and nowhere else.

        Raises
        ------
        ConfigurationError
            The name is malformed or already taken, or the role is unknown.
        """
        role = _role(role)
        if not _valid_name(name):
            raise ConfigurationError(
                f"token name {name!r} must be 1-64 letters, digits, '_', '.', '@' or '-', "
                "starting with a letter or digit"
            )
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(name=name, role=role, created_at=now, hash=secret_hash(secret))
        created = self._call(
            lambda: self._create(keys=self._keys, args=[name, token.model_dump_json(), token.hash])
        )
        if not int(created):
            raise ConfigurationError(
                f"a token named {name!r} exists; revoke it first (api token revoke {name})"
            )
        return IssuedToken(token=token, secret=secret)

    def list(self) -> list[ApiToken]:
        """Every token, by name."""
        raw = self._call(lambda: self._r.hgetall(self._keys[0]))
        return sorted((ApiToken.model_validate_json(v) for v in raw.values()), key=lambda t: t.name)

    def count(self) -> int:
        return int(self._call(lambda: self._r.hlen(self._keys[0])))

    def revoke(self, name: str) -> bool:
        """Remove the token ``name``; False if there was none."""
        raw = self._call(lambda: self._r.hget(self._keys[0], name))
        if raw is None:
            return False
        token = ApiToken.model_validate_json(raw)
        return bool(int(self._call(lambda: self._revoke(keys=self._keys, args=[name, token.hash]))))

    def authenticate(self, secret: str) -> ApiToken | None:
        """The token whose secret this is, or None (unknown, revoked or malformed)."""
        if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
            return None
        digest = secret_hash(secret)
        name = self._call(lambda: self._r.hget(self._keys[1], digest))
        if name is None:
            return None
        raw = self._call(lambda: self._r.hget(self._keys[0], name))
        if raw is None:
            return None
        token = ApiToken.model_validate_json(raw)
        # The index and the record are written together; a record whose hash differs
        # (revoked and re-created meanwhile) does not belong to this secret.
        return token if secrets.compare_digest(token.hash, digest) else None

    @staticmethod
    def _call(action: Any) -> Any:
        try:
            return action()
        except redis.RedisError as exc:
            raise TemporaryError(f"cannot reach the token store: {type(exc).__name__}") from None


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ConfigurationError(f"role {role!r} is unknown; use one of: {known}") from None


def _valid_name(name: str) -> bool:
    return re.fullmatch(NAME_PATTERN, name) is not None
