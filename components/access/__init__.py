"""Who may use the HTTP API: bearer tokens with a role, stored only as hashes.

tokens = TokenStore.connect(settings)
issued = tokens.create("alice", Role.OPERATOR, now=now)   # issued.secret is shown once
tokens.authenticate(issued.secret)                        # -> ApiToken(name="alice", ...)
tokens.revoke("alice")
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.access.config import ApiConfig
    from components.access.tokens import ApiToken, IssuedToken, Role, TokenStore
    from components.access.urls import api_base_url

__all__ = ["ApiConfig", "ApiToken", "IssuedToken", "Role", "TokenStore", "api_base_url"]

__getattr__ = lazy_exports(__name__, ("config", "tokens", "urls"))
