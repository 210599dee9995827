"""The port that checks a JSON Web Token and hands back its claims."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any


class TokenVerifier(ABC):
    """Verifies a bearer JWT.

    Contract:
    - `verify` returns the claims only for a token whose signature checks against a trusted key (a
      JWKS fetched from a URL, refreshed when a token names a key id it does not know and cached between
      refreshes, or a shared secret), whose `exp` / `nbf` hold (with a small leeway) and, when
      configured, whose `aud` / `iss` match.
    - Anything else raises `domain.errors.AuthenticationError` with a message saying why (expired, bad
      signature, unknown key id, wrong audience, malformed); nothing of the JWT library escapes.
    - A JWKS that cannot be fetched raises `AuthenticationError` too (the caller is not let in), while keys
      fetched before stay trusted until they are rotated out.
    """

    @abstractmethod
    async def verify(self, token: str) -> Mapping[str, Any]:
        """The verified token's claims."""


def looks_like_jwt(token: str) -> bool:
    """Three base64url segments separated by dots; virtual keys (`sk-...`) never look like this."""
    return token.count(".") == 2 and not token.startswith("sk-")
