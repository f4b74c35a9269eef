"""Keys derived once at start-up from the settings: the API-key pepper and the key ring."""

from __future__ import annotations

from dataclasses import dataclass

from xerotier.errors import ConfigurationError
from xerotier.security import derive
from xerotier.security.crypto import KeyRing, parse_key_spec
from xerotier.settings import Settings

DERIVED_KEY_ID = "s0"


@dataclass(frozen=True, slots=True)
class ServerSecrets:
    api_key_pepper: bytes
    key_ring: KeyRing
    csrf_key: bytes


def load_server_secrets(settings: Settings) -> ServerSecrets:
    secret = settings.resolve_secret_key()
    keys = {DERIVED_KEY_ID: derive.derive_key(secret, derive.DEFAULT_ENCRYPTION_KEY)}
    primary = DERIVED_KEY_ID
    if settings.encryption_keys:
        try:
            extra = parse_key_spec(settings.encryption_keys)
        except ValueError as exc:
            raise ConfigurationError(f"XEROTIER_ENCRYPTION_KEYS: {exc}") from exc
        if DERIVED_KEY_ID in extra:
            raise ConfigurationError(
                f"XEROTIER_ENCRYPTION_KEYS must not use the reserved id {DERIVED_KEY_ID!r}"
            )
        if extra:
            primary = next(iter(extra))
            keys.update(extra)
    try:
        ring = KeyRing(keys, primary)
    except ValueError as exc:
        raise ConfigurationError(f"XEROTIER_ENCRYPTION_KEYS: {exc}") from exc
    return ServerSecrets(
        api_key_pepper=derive.derive_key(secret, derive.API_KEY_PEPPER),
        key_ring=ring,
        csrf_key=derive.derive_key(secret, derive.CSRF_KEY),
    )
