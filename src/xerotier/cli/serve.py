from __future__ import annotations

import asyncio
import logging
import logging.config
import os
import signal
import sys
from types import FrameType
from typing import Any

import click
import uvicorn

from xerotier.accounts import auth
from xerotier.cli.context import ensure_schema, fail
from xerotier.clock import utcnow
from xerotier.db import create_engine, session_factory
from xerotier.errors import ConfigurationError
from xerotier.settings import Settings

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {"alembic": {"level": "WARNING"}, "uvicorn.access": {"level": "WARNING"}},
}


@click.command()
@click.option("--host", default=None, help="Interface to bind (default XEROTIER_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default XEROTIER_PORT or 8000).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="PEM certificate (chain) to serve HTTPS directly.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="PEM private key for --tls-cert.",
)
def serve(
    host: str | None, port: int | None, workers: int, tls_cert: str | None, tls_key: str | None
) -> None:
    """Serve the inference API and the dashboard."""
    if (tls_cert is None) != (tls_key is None):
        fail("--tls-cert and --tls-key go together")
    logging.config.dictConfig(LOGGING)
    settings = Settings()
    try:
        settings.resolve_secret_key()  # fail fast, and create the development key once, before forking

        async def prepare() -> None:
            engine = create_engine(settings.effective_database_url)
            try:
                await ensure_schema(engine, settings)
            finally:
                await engine.dispose()

        asyncio.run(prepare())
        link = asyncio.run(_first_run_link(settings, host or settings.host, port or settings.port))
        if link:
            click.echo(
                f"No user exists yet. Create the first administrator (valid 24 h, works once):\n  {link}",
                err=True,
            )
    except ConfigurationError as exc:
        fail(exc.message)
    except OSError as exc:
        fail(f"cannot use the database: {exc}")
    # Workers build their settings from the environment: make --host/--port visible to them (the
    # development public URL used in email links is derived from these).
    os.environ["XEROTIER_HOST"] = host or settings.host
    os.environ["XEROTIER_PORT"] = str(port or settings.port)
    # uvicorn re-raises the signal it shut down on; landing it here makes a drained shutdown exit 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    uvicorn.run(
        "xerotier.app:create_app_from_env",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        log_config=LOGGING,  # applied in every worker process too
        server_header=False,
        # Forwarded headers are handled by TransportMiddleware, for XEROTIER_TRUSTED_PROXIES only;
        # uvicorn's own handling would trust 127.0.0.1 by default.
        proxy_headers=False,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
    )


async def _first_run_link(settings: Settings, host: str, port: int) -> str | None:
    engine = create_engine(settings.effective_database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            if not await auth.first_admin_needed(session):
                return None
            token = await auth.issue_first_admin_token(session, now=utcnow())
    finally:
        await engine.dispose()
    base = settings.public_url.rstrip("/") if settings.public_url else f"http://{host}:{port}"
    return f"{base}/auth/setup?token={token}"


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)
