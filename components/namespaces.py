"""Namespaces: what a name may be, the one prefix its keys live under, and a Redis ACL
user that can touch nothing else.

Every key of namespace ``ns`` is ``ns:<...>`` (:func:`components.redis.namespaced`),
shadow accounts included (``ns:shadow:<strategy>:<...>``). A name is letters, digits,
``-`` and ``_``: no ``.``, ``:`` or glob character, so no namespace is a prefix of
another's keys and ``ns:*`` matches exactly the keys of ``ns``.

On a shared server the prefix is a convention; an ACL user per namespace makes it real:
:func:`create_namespace_user` makes one whose keys and Pub/Sub channels are limited to
``ns:*``, with every command but the administrative and dangerous ones and those that
list other namespaces' key names.

>>> check_namespace("paper-1")
'paper-1'
>>> create_namespace_user(admin_client, "paper-1").url("redis://127.0.0.1:6379/0")
'redis://qt-paper-1:<password>@127.0.0.1:6379/0'
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from components.errors import ConfigurationError, TemporaryError

if TYPE_CHECKING:  # Settings validate names with this module: keep its imports light
    import redis

NAMESPACE_RULE = "letters, digits, '-' and '_' only, 1 to 64 characters"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Everything the system does (strings, hashes, lists, streams, scripts, Pub/Sub) and what a
# client runs on connecting; nothing that reaches past the user's keys (FLUSHALL, KEYS,
# CONFIG, ACL, FUNCTION, SCRIPT FLUSH, ...) nor lists other namespaces' key names (SCAN and
# RANDOMKEY are not limited by key patterns): deleting a namespace, as `demo` does, takes
# the server's own user.
_COMMANDS = (
    "+@all", "-@admin", "-@dangerous", "-function", "-script|flush", "-scan", "-randomkey",
    "+info",
)  # fmt: skip


def check_namespace(name: str) -> str:
    """``name`` if it is a valid namespace.

    Raises
    ------
    ConfigurationError
        It is not: the message names the value and the rule.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(f"namespace {name!r} is invalid: {NAMESPACE_RULE}")
    return name


def key_pattern(namespace: str) -> str:
    """The glob matching every key (and channel) of ``namespace``, and nothing else."""
    return f"{check_namespace(namespace)}:*"


def acl_username(namespace: str) -> str:
    """The Redis ACL user of ``namespace``."""
    return f"qt-{check_namespace(namespace)}"


@dataclass(frozen=True)
class NamespaceUser:
    """A Redis ACL user limited to one namespace; ``password`` is a secret."""

    namespace: str
    username: str
    password: str

    def url(self, server_url: str) -> str:
        """``server_url`` (the server's address: redis://, rediss:// or unix://) with this
        user's credentials in it, and any others taken out.

        >>> user.url("redis://:admin-secret@10.0.0.5:6379/0")
        'redis://qt-paper-1:<password>@10.0.0.5:6379/0'
        """
        parts = urlsplit(server_url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ConfigurationError(
                "a namespace user needs a redis://, rediss:// or unix:// server URL, "
                f"not {parts.scheme or 'a schemeless'}:// one"
            )
        netloc = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}@"
        host = parts.hostname or ""
        netloc += f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        query = "&".join(
            q
            for q in parts.query.split("&")
            if q and q.split("=", 1)[0] not in ("password", "username")
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"NamespaceUser(namespace={self.namespace!r}, username={self.username!r})"


def create_namespace_user(
    client: redis.Redis, namespace: str, *, password: str | None = None
) -> NamespaceUser:
    """Create (or reset) the ACL user of ``namespace`` on the server of ``client``, which
    must be allowed to run ``ACL SETUSER``. A new password is generated unless given; the
    user's earlier passwords stop working.

    Raises
    ------
    ConfigurationError
        ``namespace`` is invalid, or ``client`` may not manage ACL users.
    TemporaryError
        The server cannot be reached.
    """
    user = NamespaceUser(
        namespace=check_namespace(namespace),
        username=acl_username(namespace),
        password=password or secrets.token_urlsafe(32),
    )
    import redis

    pattern = key_pattern(namespace)
    r: Any = client
    try:
        r.execute_command(
            "ACL", "SETUSER", user.username, "reset", "on", f">{user.password}",
            f"~{pattern}", f"&{pattern}", *_COMMANDS,
        )  # fmt: skip
    except redis.ResponseError as exc:
        raise ConfigurationError(
            f"cannot create the ACL user {user.username!r}: {exc} (the Redis URL must name "
            "a user allowed to run ACL SETUSER, e.g. the default user)"
        ) from None
    except redis.RedisError as exc:
        raise TemporaryError(f"cannot reach Redis to create {user.username!r}: {exc}") from None
    return user


def delete_namespace_user(client: redis.Redis, namespace: str) -> bool:
    """Delete the ACL user of ``namespace``; False when there was none."""
    r: Any = client
    return bool(r.execute_command("ACL", "DELUSER", acl_username(namespace)))
