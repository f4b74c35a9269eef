"""API key verification with an in-process cache.

Hot path: parse + checksum (no storage) → HMAC digest → dict lookup. A miss costs one indexed
read, shared by concurrent requests for the same key. Entries are re-read after ``ttl`` seconds
as a backstop to the change watcher; if the database is unreachable then, the cached answer keeps
serving, while a key never seen before gets 503 — never a false 401.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from xerotier.errors import ErrorCode
from xerotier.gateway.errors import GatewayError, invalid_key
from xerotier.projects.models import ApiKey
from xerotier.security import api_keys

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class KeyRecord:
    id: int
    external_id: str
    project_id: int
    endpoint_id: int | None
    expires_at: float | None  # epoch seconds
    revoked: bool
    networks: tuple[Network, ...] | None
    checked_at: float  # monotonic


def _record_from_row(row: Row[tuple[ApiKey]], now: float) -> KeyRecord:
    networks = None
    if row.allowed_cidrs:
        networks = tuple(ipaddress.ip_network(c, strict=False) for c in orjson.loads(row.allowed_cidrs))
    return KeyRecord(
        id=row.id,
        external_id=row.external_id,
        project_id=row.project_id,
        endpoint_id=row.endpoint_id,
        expires_at=row.expires_at.timestamp() if row.expires_at else None,
        revoked=row.revoked_at is not None,
        networks=networks,
        checked_at=now,
    )


Fetcher = Callable[[bytes], Awaitable[KeyRecord | None]]


def database_fetcher(engine: AsyncEngine) -> Fetcher:
    query = select(ApiKey.__table__).where(ApiKey.digest == bindparam("d"))

    async def fetch(digest: bytes) -> KeyRecord | None:
        async with engine.connect() as conn:
            row = (await conn.execute(query, {"d": digest})).first()
        return _record_from_row(row, time.monotonic()) if row is not None else None

    return fetch


class KeyCache:
    def __init__(self, *, pepper: bytes, fetch: Fetcher, ttl: float, max_size: int) -> None:
        self._keyed = hmac.new(pepper, digestmod=hashlib.sha256)
        self._fetch = fetch
        self._ttl = ttl
        self._max_size = max_size
        self._entries: dict[bytes, KeyRecord] = {}
        # Digests revoked in this process's lifetime: a lookup already in flight when the key was
        # revoked must not put it back as active. Revocations are rare, so this stays small.
        self._revoked: set[bytes] = set()
        self._inflight: dict[bytes, asyncio.Future[KeyRecord | None]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def authenticate(self, authorization: bytes | None) -> KeyRecord:
        """Return the key's record, or raise a 401/503 ``GatewayError``. Checks order per DESIGN §2."""
        if not authorization:
            raise invalid_key("Missing API key. Send it as 'Authorization: Bearer xero_<project>_<token>'.")
        scheme, _, value = authorization.partition(b" ")
        if scheme.lower() != b"bearer" or not value:
            raise invalid_key("Malformed Authorization header; expected 'Bearer <api key>'.")
        value = value.strip()
        hasher = self._keyed.copy()  # HMAC already keyed with the pepper: one update per request
        hasher.update(value)
        digest = hasher.digest()
        record = self._entries.get(digest)
        if record is None or (not record.revoked and time.monotonic() - record.checked_at >= self._ttl):
            # Not a fresh cache hit. Only a well-formed key can be in the store: check shape and
            # checksum before any read (a cached digest proves the key passed this check before).
            try:
                api_keys.parse(value.decode("ascii"))
            except (UnicodeDecodeError, api_keys.MalformedKeyError):
                raise invalid_key("Malformed API key.") from None
            record = await self._lookup(digest)
        if record is None:
            raise invalid_key("Unknown API key.")
        if record.revoked:
            raise invalid_key("This API key has been revoked.")
        if record.expires_at is not None and record.expires_at <= time.time():
            raise invalid_key("This API key has expired.")
        return record

    async def _lookup(self, digest: bytes) -> KeyRecord | None:
        record = self._entries.get(digest)
        now = time.monotonic()
        if record is not None and (record.revoked or now - record.checked_at < self._ttl):
            return record  # a revoked key never comes back, so it needs no re-check
        try:
            fresh = await self._single_flight(digest)
        except Exception as exc:
            if record is not None:
                log.warning("key re-check failed, serving cached answer: %s", exc)
                record.checked_at = now
                return record
            log.error("key lookup failed: %s", exc)
            raise GatewayError(
                503, ErrorCode.SERVICE_UNAVAILABLE, "The key store is temporarily unavailable; retry shortly."
            ) from None
        if fresh is None:
            self._entries.pop(digest, None)
            return None
        self._store(digest, fresh)
        return fresh

    async def _single_flight(self, digest: bytes) -> KeyRecord | None:
        """One database read per digest at a time. The read runs as its own task so a caller
        being cancelled (client gone) never cancels the others waiting for the same key."""
        task = self._inflight.get(digest)
        if task is None:
            task = asyncio.ensure_future(self._fetch(digest))
            self._inflight[digest] = task
            task.add_done_callback(lambda done: self._fetch_done(digest, done))
        return await asyncio.shield(task)

    def _fetch_done(self, digest: bytes, task: asyncio.Future[KeyRecord | None]) -> None:
        self._inflight.pop(digest, None)
        if not task.cancelled():
            task.exception()  # retrieved here, so a read nobody waits for any more logs no warning

    def _store(self, digest: bytes, record: KeyRecord) -> None:
        if digest in self._revoked:
            record.revoked = True
        if digest not in self._entries and len(self._entries) >= self._max_size:
            self._entries.pop(next(iter(self._entries)))  # oldest insertion
        self._entries[digest] = record

    def mark_revoked(self, digests: list[bytes]) -> None:
        """Called by the change watcher (other processes) or in-process right after revoking."""
        for digest in digests:
            self._revoked.add(digest)
            record = self._entries.get(digest)
            if record is not None:
                record.revoked = True
