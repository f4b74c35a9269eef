"""Usage recording off the hot path.

Requests append a record to an in-memory list (no I/O, no lock: one event loop). A background
task writes batches with one ``executemany`` INSERT (SQLite) or one binary COPY (PostgreSQL)
and, per batch, one ``last_used_at`` update per key — never a write per request. ``close()``
drains everything, so a graceful shutdown (SIGTERM) loses nothing. If the database is away,
records are kept and retried, up to ``max_pending``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, bindparam, or_, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from xerotier.projects.models import ApiKey

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


_COLUMNS = (
    "created_at",
    "project_id",
    "endpoint_id",
    "api_key_id",
    "operation",
    "status",
    "error_code",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "client_ip",
    "request_id",
)


def _driver_insert(dialect: Dialect) -> tuple[str, Callable[[float], object]]:
    """The INSERT in the driver's own parameter style, and how to write a timestamp for it the way
    ``db.UTCDateTime`` does (naive UTC; SQLite stores SQLAlchemy's text format)."""
    n = len(_COLUMNS)
    marks = {
        "qmark": ["?"] * n,
        "numeric_dollar": [f"${i}" for i in range(1, n + 1)],
        "numeric": [f":{i}" for i in range(1, n + 1)],
        "format": ["%s"] * n,
    }.get(dialect.paramstyle)
    if marks is None:
        raise RuntimeError(f"unsupported parameter style {dialect.paramstyle}")
    sql = f"INSERT INTO usage_events ({', '.join(_COLUMNS)}) VALUES ({', '.join(marks)})"  # noqa: S608
    if dialect.name == "sqlite":
        return sql, _sqlite_stamper()
    return sql, lambda t: datetime.fromtimestamp(t, UTC).replace(tzinfo=None)


def _sqlite_stamper() -> Callable[[float], str]:
    """``datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")``, formatting the date and
    time only when the second changes: a batch's rows fall within a second or two, and the full
    formatting was the costliest part of a flush on the event loop (see docs/performance.md)."""
    last_second = -1
    prefix = ""

    def stamp(t: float) -> str:
        nonlocal last_second, prefix
        second = int(t)
        micros = round((t - second) * 1e6)  # rounded half to even, as datetime does
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != last_second:
            last_second, prefix = second, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        return f"{prefix}.{micros:06d}"

    return stamp


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
        self._insert: str | None = None
        self._stamp: Callable[[float], object] = float

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
        last_used: dict[int, tuple[float, str | None]] = {}
        for r in batch:
            seen = last_used.get(r.api_key_id)
            if seen is None or seen[0] < r.created_at:
                last_used[r.api_key_id] = (r.created_at, r.client_ip)
        async with self._engine.begin() as conn:
            if self._insert is None:
                self._insert, self._stamp = _driver_insert(conn.dialect)
            stamp = self._stamp
            # Plain tuples straight to the driver's executemany: no per-row bind processing on the
            # event loop (SQLAlchemy's costs ~11 us a row there; see docs/performance.md).
            rows = [
                (
                    stamp(r.created_at),
                    r.project_id,
                    r.endpoint_id,
                    r.api_key_id,
                    r.operation,
                    r.status,
                    r.error_code,
                    r.latency_ms,
                    r.ttft_ms,
                    r.prompt_tokens,
                    r.completion_tokens,
                    r.client_ip,
                    r.request_id,
                )
                for r in batch
            ]
            last_used_rows = [
                {"key_id": k, "used_at": datetime.fromtimestamp(t, UTC), "used_ip": ip}
                for k, (t, ip) in last_used.items()
            ]
            if conn.dialect.name == "postgresql":
                # Binary COPY on the same asyncpg connection, inside this transaction (the update
                # runs first, which starts it): a third of executemany's event-loop CPU per row and
                # less than half the server's (docs/performance.md, "Usage writes").
                await conn.execute(_LAST_USED, last_used_rows)
                driver = (await conn.get_raw_connection()).driver_connection
                if driver is None:
                    raise RuntimeError("no driver connection for the usage COPY")
                await driver.copy_records_to_table("usage_events", records=rows, columns=_COLUMNS)
            else:
                await conn.exec_driver_sql(self._insert, rows)
                await conn.execute(_LAST_USED, last_used_rows)

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
