"""Encryption of what the gateway keeps at rest, over the `cryptography` package."""
