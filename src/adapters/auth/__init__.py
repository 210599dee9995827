"""Verifying callers beyond virtual keys: JSON Web Tokens from an identity provider.

Import `adapters.auth.jwt_verifier` only when JWT auth is enabled: PyJWT pulls in `cryptography`, which
is not light.
"""
