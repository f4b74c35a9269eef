"""External identifiers: a readable prefix plus CSPRNG base62 (about 95 bits)."""

from __future__ import annotations

import secrets

from xerotier.security.api_keys import ALPHABET

ID_CHARS = 16


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(ID_CHARS))


def project_id() -> str:
    return new_id("proj_")


def api_key_id() -> str:
    return new_id("key_")
