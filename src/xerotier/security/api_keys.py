"""API key format, checksum and digest.

A key reads ``xero_<project_slug>_<token>``. The token is 43 base62 characters carrying
256 bits from :mod:`secrets` followed by a 6-character base62 CRC32 of everything before
it (the scheme GitHub uses for its tokens), so a leaked string is recognisable offline and a
typo is rejected without touching storage. The alphabet is ``[A-Za-z0-9]`` so the key parses
unambiguously (slugs never contain ``_``) and a double-click selects it whole.

Only ``digest()`` — HMAC-SHA256 under a server-side pepper — is ever stored. Keys are
uniformly random, so a keyed fast hash is the right tool; a password hash would only slow the
hot path without adding security.
"""

from __future__ import annotations

import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

PREFIX = "xero_"
RANDOM_BYTES = 32  # 256 bits
RANDOM_CHARS = 43  # ceil(256 / log2(62))
CHECKSUM_CHARS = 6  # 62**6 > 2**32
TOKEN_CHARS = RANDOM_CHARS + CHECKSUM_CHARS
DISPLAY_TOKEN_CHARS = 6

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")  # use fullmatch
_TOKEN_RE = re.compile(rf"[A-Za-z0-9]{{{TOKEN_CHARS}}}")  # use fullmatch


class MalformedKeyError(ValueError):
    """The string is not a well-formed Xerotier key (shape or checksum)."""


@dataclass(frozen=True, slots=True)
class ParsedKey:
    slug: str
    token: str

    @property
    def display_prefix(self) -> str:
        return f"{PREFIX}{self.slug}_{self.token[:DISPLAY_TOKEN_CHARS]}"


def _base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rem = divmod(value, 62)
        chars.append(ALPHABET[rem])
    if value:
        raise ValueError("value does not fit the width")
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_CHARS)


def generate(project_slug: str) -> str:
    """Return a new full key for the project. Show it once; store only ``digest()``."""
    if not SLUG_RE.fullmatch(project_slug):
        raise ValueError(f"invalid project slug: {project_slug!r}")
    random_part = _base62(int.from_bytes(secrets.token_bytes(RANDOM_BYTES), "big"), RANDOM_CHARS)
    body = f"{PREFIX}{project_slug}_{random_part}"
    return body + _checksum(body)


def parse(key: str) -> ParsedKey:
    """Check shape and checksum; raise :class:`MalformedKeyError` otherwise."""
    if not key.startswith(PREFIX):
        raise MalformedKeyError("missing xero_ prefix")
    slug, sep, token = key[len(PREFIX) :].rpartition("_")
    if not sep or not SLUG_RE.fullmatch(slug) or not _TOKEN_RE.fullmatch(token):
        raise MalformedKeyError("malformed key")
    body = key[:-CHECKSUM_CHARS]
    if not hmac.compare_digest(_checksum(body), token[RANDOM_CHARS:]):
        raise MalformedKeyError("checksum mismatch")
    return ParsedKey(slug=slug, token=token)


def digest(pepper: bytes, key: str) -> bytes:
    """Keyed digest stored in the database and used as the cache key."""
    return hmac.digest(pepper, key.encode(), "sha256")
