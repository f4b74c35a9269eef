"""Opaque random tokens for cookies and email links, stored only as SHA-256 digests.

256 bits from :mod:`secrets` make guessing hopeless, so a fast unkeyed hash suffices for storage:
a database leak does not reveal usable tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def keyed(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 of the parts (hex): used to derive CSRF tokens bound to a session."""
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()
