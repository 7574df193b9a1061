from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from components.access import Role, TokenStore
from components.errors import ConfigurationError
from components.settings import Settings

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def tokens(settings: Settings) -> TokenStore:
    return TokenStore.connect(settings)


def test_create_returns_a_secret_that_authenticates_as_its_name_and_role(
    tokens: TokenStore,
) -> None:
    issued = tokens.create("alice", Role.OPERATOR, now=NOW)
    found = tokens.authenticate(issued.secret)
    assert found is not None
    assert (found.name, found.role, found.created_at) == ("alice", Role.OPERATOR, NOW)
    assert found.may_write()


def test_only_the_hash_of_the_secret_is_stored(
    tokens: TokenStore, client: redis.Redis, namespace: str
) -> None:
    issued = tokens.create("bob", "viewer", now=NOW)
    everything = ""
    for key in client.scan_iter(match=f"{namespace}:*"):
        everything += repr(client.hgetall(key))
    assert "bob" in everything
    assert issued.secret not in everything
    assert issued.secret[5:25] not in everything


def test_a_wrong_or_malformed_secret_authenticates_nobody(tokens: TokenStore) -> None:
    issued = tokens.create("alice", Role.VIEWER, now=NOW)
    assert tokens.authenticate(issued.secret + "x") is None
    assert tokens.authenticate("") is None
    assert tokens.authenticate("Bearer " + issued.secret) is None


def test_a_revoked_token_no_longer_authenticates(tokens: TokenStore) -> None:
    issued = tokens.create("alice", Role.OPERATOR, now=NOW)
    assert tokens.revoke("alice") is True
    assert tokens.authenticate(issued.secret) is None
    assert tokens.revoke("alice") is False
    assert tokens.list() == []


def test_a_name_is_taken_until_revoked_and_a_new_secret_replaces_the_old(
    tokens: TokenStore,
) -> None:
    first = tokens.create("alice", Role.VIEWER, now=NOW)
    with pytest.raises(ConfigurationError, match="exists"):
        tokens.create("alice", Role.OPERATOR, now=NOW)
    tokens.revoke("alice")
    second = tokens.create("alice", Role.OPERATOR, now=NOW)
    assert tokens.authenticate(first.secret) is None
    found = tokens.authenticate(second.secret)
    assert found is not None and found.role is Role.OPERATOR


def test_list_shows_every_token_by_name_without_secrets(tokens: TokenStore) -> None:
    tokens.create("zed", Role.VIEWER, now=NOW)
    tokens.create("amy", Role.OPERATOR, now=NOW)
    listed = tokens.list()
    assert [(t.name, t.role) for t in listed] == [("amy", Role.OPERATOR), ("zed", Role.VIEWER)]
    assert tokens.count() == 2


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 65, "a/b"])
def test_malformed_names_are_refused(tokens: TokenStore, name: str) -> None:
    with pytest.raises(ConfigurationError, match="token name"):
        tokens.create(name, Role.VIEWER, now=NOW)


def test_an_unknown_role_is_refused_naming_the_roles(tokens: TokenStore) -> None:
    with pytest.raises(ConfigurationError, match="viewer, operator"):
        tokens.create("alice", "admin", now=NOW)


def test_tokens_of_one_namespace_do_not_open_another(
    tokens: TokenStore, client: redis.Redis, namespace: str
) -> None:
    issued = tokens.create("alice", Role.OPERATOR, now=NOW)
    other = TokenStore(client, namespace=f"{namespace}-other")
    assert other.authenticate(issued.secret) is None
