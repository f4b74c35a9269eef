"""``create_app(settings)``: the only place that wires collaborators together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import ASGIApp

from xerotier import migrate
from xerotier.db import create_engine, session_factory
from xerotier.errors import ConfigurationError
from xerotier.gateway.app import GatewayApp
from xerotier.gateway.auth import KeyCache, database_fetcher
from xerotier.gateway.upstream import create_session
from xerotier.gateway.watcher import ChangeWatcher
from xerotier.ratelimit.memory import MemoryRateLimiter
from xerotier.server_secrets import ServerSecrets, load_server_secrets
from xerotier.settings import Settings
from xerotier.usage.recorder import UsageRecorder
from xerotier.web import health
from xerotier.web.errors import http_exception
from xerotier.web.request_id import RequestIdMiddleware

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Runtime:
    """Process-wide collaborators, reachable from request handlers as ``app.state.runtime``."""

    settings: Settings
    secrets: ServerSecrets
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keys: KeyCache
    recorder: UsageRecorder
    watcher: ChangeWatcher
    gateway: GatewayApp


def create_app(settings: Settings | None = None) -> ASGIApp:
    settings = settings or Settings()
    server_secrets = load_server_secrets(settings)
    engine = create_engine(settings.effective_database_url)
    keys = KeyCache(
        pepper=server_secrets.api_key_pepper,
        fetch=database_fetcher(engine),
        ttl=settings.key_cache_ttl,
        max_size=settings.key_cache_size,
    )
    recorder = UsageRecorder(
        engine=engine, flush_interval=settings.usage_flush_interval, batch_size=settings.usage_batch_size
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not await migrate.is_up_to_date(engine):
            raise ConfigurationError("the database schema is not up to date; run `xerotier db upgrade`")
        await watcher.prime()
        gateway.http = create_session(
            pool_size=settings.upstream_pool_size,
            connect_timeout=settings.upstream_connect_timeout,
            read_timeout=settings.upstream_read_timeout,
        )
        recorder.start()
        watcher.start()
        log.info("xerotier ready (%s database)", "SQLite" if settings.is_sqlite else "external")
        try:
            yield
        finally:
            await watcher.stop()
            await recorder.close()
            log.info("usage drained: %d records written, %d dropped", recorder.written, recorder.dropped)
            await gateway.http.close()
            await engine.dispose()

    web = Starlette(
        routes=[Route("/healthz", health.healthz), Route("/readyz", health.readyz)],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_exception},
    )
    gateway = GatewayApp(
        fallback=RequestIdMiddleware(web),
        keys=keys,
        limiter=MemoryRateLimiter(),
        recorder=recorder,
        http=None,
        max_body_bytes=settings.max_body_bytes,
    )
    watcher = ChangeWatcher(
        engine=engine,
        key_cache=keys,
        key_ring=server_secrets.key_ring,
        interval=settings.change_poll_interval,
        on_routing=gateway.set_routing,
    )

    async def force_refresh() -> None:
        await watcher.poll(force_reload=True)

    gateway.refresh_routing = force_refresh
    web.state.runtime = Runtime(
        settings=settings,
        secrets=server_secrets,
        engine=engine,
        sessions=session_factory(engine),
        keys=keys,
        recorder=recorder,
        watcher=watcher,
        gateway=gateway,
    )
    return gateway


def create_app_from_env() -> ASGIApp:
    """Factory for ``uvicorn --factory`` and ``xerotier serve`` workers."""
    return create_app(Settings())
