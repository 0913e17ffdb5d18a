"""The authenticated user that Starlette's `request.user` / `request.auth` expose, built from verified claims."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.authentication import BaseUser

__all__ = ["JWTUser"]


class JWTUser(BaseUser):
    """A user proven by a token: `identity` is the `sub` claim, and `claims` holds every verified claim.

    >>> request.user.identity        # "user-123"
    >>> request.user.claims["email"]
    """

    __slots__ = ("claims",)

    def __init__(self, claims: Mapping[str, Any]) -> None:
        self.claims = claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def identity(self) -> str:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else ""

    @property
    def display_name(self) -> str:
        for name in ("name", "preferred_username", "email"):
            value = self.claims.get(name)
            if isinstance(value, str):
                return value
        return self.identity

    def __repr__(self) -> str:
        return f"JWTUser(identity={self.identity!r})"
