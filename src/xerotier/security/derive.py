"""Sub-key derivation from the server secret (HKDF-SHA256, RFC 5869).

Each purpose gets its own key so that, say, the API-key pepper never doubles as an
encryption key. The labels are part of the on-disk contract: changing one invalidates
every value derived under it.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

API_KEY_PEPPER = b"xerotier/api-key-digest/v1"
DEFAULT_ENCRYPTION_KEY = b"xerotier/aes-gcm/s0"
CSRF_KEY = b"xerotier/csrf/v1"


def derive_key(secret: str, label: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label).derive(secret.encode())
