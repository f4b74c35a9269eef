"""Secrets at rest: AES-256-GCM (NIST SP 800-38D) under a key ring.

Ciphertexts read ``v1.<key_id>.<base64url(nonce || ciphertext || tag)>``. The key id travels
with each value so the primary key can change while older values still decrypt; re-encrypting
under the new primary is then a background chore, not a flag day. A 96-bit random nonce per
value is safe far beyond the number of values this product stores. The associated data binds a
ciphertext to its purpose so a value cannot be moved to another column.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
NONCE_BYTES = 12


class DecryptionError(ValueError):
    """The value is malformed, names an unknown key, or fails authentication."""


class KeyRing:
    def __init__(self, keys: Mapping[str, bytes], primary: str) -> None:
        if primary not in keys:
            raise ValueError("primary key id is not in the ring")
        for kid, key in keys.items():
            if "." in kid or not kid:
                raise ValueError(f"invalid key id {kid!r}")
            if len(key) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes")
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self.primary = primary

    def encrypt(self, plaintext: str, *, aad: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.primary].encrypt(nonce, plaintext.encode(), aad)
        blob = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{VERSION}.{self.primary}.{blob}"

    def decrypt(self, value: str, *, aad: bytes) -> str:
        try:
            version, kid, blob = value.split(".", 2)
        except ValueError as exc:
            raise DecryptionError("malformed ciphertext") from exc
        cipher = self._ciphers.get(kid)
        if version != VERSION or cipher is None:
            raise DecryptionError(f"unknown ciphertext version or key id {kid!r}")
        try:
            raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad).decode()
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("ciphertext failed authentication") from exc


def parse_key_spec(spec: str) -> dict[str, bytes]:
    """Parse ``kid:base64key,kid2:base64key`` (the first is the primary) into a mapping."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kid, sep, b64 = item.partition(":")
        if not sep:
            raise ValueError("each encryption key must read <id>:<base64 of 32 bytes>")
        if kid in keys:
            raise ValueError(f"encryption key id {kid!r} appears twice")
        keys[kid] = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
    return keys
