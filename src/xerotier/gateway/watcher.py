"""Polls the change counter and applies what moved: revoked keys and the routing table.

One primary-key read per interval per process; when the value moves, one read for the digests
of keys revoked since the last value and one reload of projects and endpoints. This is how a
``xerotier keys revoke`` in another process reaches a running gateway within the interval. The
scale-out issue adds a Redis broadcast in front of it; this poll stays as the backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from xerotier.gateway.auth import KeyCache
from xerotier.gateway.egress import Network
from xerotier.gateway.routing import RoutingTable, load_routing_table
from xerotier.projects import changes
from xerotier.projects.models import ApiKey
from xerotier.security.crypto import KeyRing

log = logging.getLogger(__name__)


class ChangeWatcher:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        key_cache: KeyCache,
        key_ring: KeyRing,
        interval: float,
        on_routing: Callable[[RoutingTable], None],
        denied_networks: Sequence[Network] = (),
    ) -> None:
        self._denied = list(denied_networks)
        self._engine = engine
        self._keys = key_cache
        self._ring = key_ring
        self._interval = interval
        self._on_routing = on_routing
        self._seen: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._refresh_lock = asyncio.Lock()

    async def prime(self) -> None:
        """Load the routing table before serving; failures propagate (start-up should see them)."""
        async with self._engine.connect() as conn:
            self._seen = await changes.read(conn)
            self._on_routing(await load_routing_table(conn, self._ring, self._denied))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="change-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.poll()
            except Exception as exc:  # the database may be briefly away: keep serving from memory
                log.warning("change poll failed: %s", exc)

    async def poll(self, *, force_reload: bool = False) -> None:
        async with self._refresh_lock, self._engine.connect() as conn:
            value = await changes.read(conn)
            if value == self._seen and not force_reload:
                return
            if self._seen is not None and value != self._seen:
                rows = await conn.execute(select(ApiKey.digest).where(ApiKey.revoked_seq > self._seen))
                self._keys.mark_revoked([row.digest for row in rows])
            self._on_routing(await load_routing_table(conn, self._ring, self._denied))
            self._seen = value
