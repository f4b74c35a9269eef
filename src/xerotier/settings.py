"""Typed settings read from ``XEROTIER_*`` environment variables.

Production refuses to start with a missing or placeholder secret key; development generates
one into the data directory (mode 0600) the first time it runs.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from xerotier.errors import ConfigurationError

SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)
MIN_SECRET_KEY_LENGTH = 32
_PLACEHOLDERS = frozenset({"", "changeme", "change-me", "secret", "please-change-me", "xxx", "placeholder"})


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XEROTIER_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("./data")
    database_url: str | None = None
    secret_key: str | None = Field(default=None, repr=False)
    # Extra AES-GCM keys, ``id:base64,id2:base64``; the first is the primary for new values.
    encryption_keys: str | None = Field(default=None, repr=False)

    host: str = "127.0.0.1"
    port: int = 8000
    shutdown_timeout: int = 30  # seconds in-flight requests get on SIGTERM

    # Dashboard
    # Base URL used in email links, e.g. https://xerotier.example.com. Never taken from the request's
    # Host header (that would let anyone mint reset links pointing elsewhere).
    public_url: str | None = None
    # Proxies (IPs/CIDRs, comma-separated) whose X-Forwarded-For/-Proto are believed.
    trusted_proxies: str = ""
    mail_backend: str = "console"  # console | smtp
    mail_from: str = "Xerotier <no-reply@localhost>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_tls: bool = False

    # Inference API
    max_body_bytes: int = 32 * 1024 * 1024
    upstream_connect_timeout: float = 10.0
    upstream_read_timeout: float = 300.0
    upstream_pool_size: int = 256
    # Never connect here (SSRF guard): link-local / cloud metadata by default. Comma-separated CIDRs.
    upstream_denied_networks: str = "169.254.0.0/16,fe80::/10,fd00:ec2::254/128"
    max_upstream_body_bytes: int = 64 * 1024 * 1024

    # Caches and background tasks
    key_cache_ttl: float = 60.0
    key_cache_size: int = 100_000
    change_poll_interval: float = 0.25
    usage_flush_interval: float = 0.5
    usage_batch_size: int = 1000

    @field_validator("max_body_bytes", "upstream_pool_size", "key_cache_size", "usage_batch_size")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        if self.is_production:
            raise ConfigurationError("XEROTIER_PUBLIC_URL is required in production (used in email links)")
        return f"http://{self.host}:{self.port}"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "xerotier.db"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.sqlite_path.resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def resolve_secret_key(self) -> str:
        """Return the secret key, generating a development one if needed."""
        key = self.secret_key
        if key is not None and key.strip().lower() not in _PLACEHOLDERS:
            if len(key) < MIN_SECRET_KEY_LENGTH:
                raise ConfigurationError(
                    f"XEROTIER_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters"
                )
            return key
        if self.is_production:
            raise ConfigurationError(
                "XEROTIER_SECRET_KEY is missing or a placeholder; production needs a random secret "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return _load_or_create_dev_key(self.data_dir / SECRET_KEY_FILE)


def ensure_data_dir(path: Path) -> None:
    """The data directory holds the database and the development key: owner-only access."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _load_or_create_dev_key(path: Path) -> str:
    ensure_data_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(
                f"{path} is empty or too short; delete it to generate a new one "
                "(existing API keys will stop working)"
            ) from None
        return key
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
