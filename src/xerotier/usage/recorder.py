"""Usage recording off the hot path.

Requests append a record to an in-memory list (no I/O, no lock: one event loop). A background
task writes batches with one multi-row INSERT and, per batch, one ``last_used_at`` update per key
— never a write per request. ``close()`` drains everything, so a graceful shutdown (SIGTERM)
loses nothing. If the database is away, records are kept and retried, up to ``max_pending``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, bindparam, insert, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from xerotier.projects.models import ApiKey
from xerotier.usage.models import UsageEvent

log = logging.getLogger(__name__)


@dataclass(slots=True)
class UsageRecord:
    created_at: float  # epoch seconds
    project_id: int
    endpoint_id: int | None
    api_key_id: int
    operation: str
    status: int
    error_code: str | None
    latency_ms: float
    ttft_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    client_ip: str | None
    request_id: str


_LAST_USED = (
    update(ApiKey)
    .where(
        and_(
            ApiKey.id == bindparam("key_id"),
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < bindparam("used_at")),
        )
    )
    .values(last_used_at=bindparam("used_at"), last_used_ip=bindparam("used_ip"))
    .execution_options(synchronize_session=False)
)


class UsageRecorder:
    def __init__(
        self, *, engine: AsyncEngine, flush_interval: float, batch_size: int, max_pending: int = 1_000_000
    ) -> None:
        self._engine = engine
        self._interval = flush_interval
        self._batch_size = batch_size
        self._max_pending = max_pending
        self._pending: list[UsageRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0
        self.dropped = 0

    def record(self, item: UsageRecord) -> None:
        self._pending.append(item)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-recorder")

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        while self._pending:
            batch = self._pending[: self._batch_size]
            del self._pending[: len(batch)]
            try:
                await self._write(batch)
            except Exception as exc:
                log.error("usage flush failed (%d records kept for retry): %s", len(batch), exc)
                self._pending[:0] = batch
                overflow = len(self._pending) - self._max_pending
                if overflow > 0:
                    del self._pending[:overflow]
                    self.dropped += overflow
                return
            self.written += len(batch)

    async def _write(self, batch: list[UsageRecord]) -> None:
        rows = []
        last_used: dict[int, tuple[float, str | None]] = {}
        for r in batch:
            rows.append(
                {
                    "created_at": datetime.fromtimestamp(r.created_at, UTC),
                    "project_id": r.project_id,
                    "endpoint_id": r.endpoint_id,
                    "api_key_id": r.api_key_id,
                    "operation": r.operation,
                    "status": r.status,
                    "error_code": r.error_code,
                    "latency_ms": r.latency_ms,
                    "ttft_ms": r.ttft_ms,
                    "prompt_tokens": r.prompt_tokens,
                    "completion_tokens": r.completion_tokens,
                    "client_ip": r.client_ip,
                    "request_id": r.request_id,
                }
            )
            seen = last_used.get(r.api_key_id)
            if seen is None or seen[0] < r.created_at:
                last_used[r.api_key_id] = (r.created_at, r.client_ip)
        async with self._engine.begin() as conn:
            await conn.execute(insert(UsageEvent), rows)
            await conn.execute(
                _LAST_USED,
                [
                    {"key_id": k, "used_at": datetime.fromtimestamp(t, UTC), "used_ip": ip}
                    for k, (t, ip) in last_used.items()
                ],
            )

    async def close(self, *, attempts: int = 5) -> None:
        """Stop the loop and drain; retried a few times so a blip at shutdown loses nothing."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        for attempt in range(attempts):
            await self.flush()
            if not self._pending:
                return
            await asyncio.sleep(0.2 * (attempt + 1))
        log.error("usage drain gave up with %d records unwritten", len(self._pending))
