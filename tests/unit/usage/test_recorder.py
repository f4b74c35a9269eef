"""UsageRecorder against a real SQLite database created by the real migrations."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from xerotier import migrate
from xerotier.accounts.service import create_user
from xerotier.audit.store import CLI_ACTOR
from xerotier.db import create_engine, session_factory
from xerotier.projects.keys import create_api_key
from xerotier.projects.models import ApiKey
from xerotier.projects.service import create_endpoint, create_project
from xerotier.security.crypto import KeyRing
from xerotier.usage.models import UsageEvent
from xerotier.usage.recorder import UsageRecord, UsageRecorder

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC).timestamp()


@dataclass
class World:
    engine: AsyncEngine
    project_id: int
    endpoint_id: int
    key_ids: list[int]


def _url(path: Path) -> str:
    return "sqlite+aiosqlite:///" + str(path)


async def _build(path: Path) -> AsyncEngine:
    engine = create_engine(_url(path))
    await migrate.upgrade(engine)
    return engine


async def _populate(engine: AsyncEngine) -> World:
    now = datetime.now(UTC)
    ring = KeyRing({"k": os.urandom(32)}, "k")
    async with session_factory(engine)() as session, session.begin():
        user = await create_user(
            session, email="owner@example.com", admin=False, verified=True, now=now, actor=CLI_ACTOR
        )
        project = await create_project(
            session, name="Demo", slug="demo", owner=user, now=now, actor=CLI_ACTOR
        )
        endpoint = await create_endpoint(
            session,
            project=project,
            slug="chat",
            upstream_url="http://127.0.0.1:9001/v1",
            upstream_model=None,
            upstream_key=None,
            rpm_limit=None,
            tpm_limit=None,
            key_ring=ring,
            now=now,
            actor=CLI_ACTOR,
        )
        key_ids = []
        for name in ("one", "two"):
            created = await create_api_key(
                session,
                project=project,
                name=name,
                environment="development",
                endpoint=None,
                expires_in=None,
                allowed_cidrs=[],
                pepper=b"pepper" * 6,
                created_by_user_id=user.id,
                now=now,
                actor=CLI_ACTOR,
            )
            key_ids.append(created.record.id)
        return World(engine=engine, project_id=project.id, endpoint_id=endpoint.id, key_ids=key_ids)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = await _build(tmp_path / "xerotier.db")
    try:
        yield await _populate(engine)
    finally:
        await engine.dispose()


def _record(
    world: World, i: int, *, key: int = 0, at: float | None = None, ip: str | None = None
) -> UsageRecord:
    return UsageRecord(
        created_at=T0 + i if at is None else at,
        project_id=world.project_id,
        endpoint_id=world.endpoint_id,
        api_key_id=world.key_ids[key],
        operation="chat.completions",
        status=200,
        error_code=None,
        latency_ms=12.5 + i,
        ttft_ms=3.25,
        prompt_tokens=10 + i,
        completion_tokens=20 + i,
        client_ip=ip if ip is not None else f"10.0.0.{i % 250}",
        request_id=f"req_{i:024x}",
    )


async def _rows(engine: AsyncEngine) -> list[UsageEvent]:
    async with session_factory(engine)() as session:
        return list((await session.scalars(select(UsageEvent).order_by(UsageEvent.id))).all())


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(UsageEvent)) or 0)


async def _key(engine: AsyncEngine, key_id: int) -> ApiKey:
    async with session_factory(engine)() as session:
        key = await session.get(ApiKey, key_id)
        assert key is not None
        return key


def _recorder(
    engine: AsyncEngine, *, flush_interval: float = 3600.0, batch_size: int = 10, max_pending: int = 1_000_000
) -> UsageRecorder:
    return UsageRecorder(
        engine=engine, flush_interval=flush_interval, batch_size=batch_size, max_pending=max_pending
    )


# -- writing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 10, 25])
async def test_flush_writes_exactly_the_recorded_rows(world: World, count: int) -> None:
    recorder = _recorder(world.engine, batch_size=10)
    for i in range(count):
        recorder.record(_record(world, i))
    assert recorder.pending == count
    assert await _count(world.engine) == 0  # recording does no I/O

    await recorder.flush()
    assert recorder.pending == 0
    assert recorder.written == count
    assert recorder.dropped == 0
    rows = await _rows(world.engine)
    assert len(rows) == count
    assert [r.request_id for r in rows] == [f"req_{i:024x}" for i in range(count)]

    await recorder.flush()  # nothing left: no duplicates
    assert await _count(world.engine) == count


async def test_rows_carry_every_field(world: World) -> None:
    recorder = _recorder(world.engine)
    recorder.record(_record(world, 3))
    recorder.record(
        UsageRecord(
            created_at=T0 + 0.5,
            project_id=world.project_id,
            endpoint_id=None,
            api_key_id=world.key_ids[1],
            operation="models",
            status=429,
            error_code="rate_limit_exceeded",
            latency_ms=0.75,
            ttft_ms=None,
            prompt_tokens=0,
            completion_tokens=0,
            client_ip=None,
            request_id="req_x",
        )
    )
    await recorder.flush()
    first, second = await _rows(world.engine)
    assert first.created_at == datetime.fromtimestamp(T0 + 3, UTC)
    assert (first.project_id, first.endpoint_id, first.api_key_id) == (
        world.project_id,
        world.endpoint_id,
        world.key_ids[0],
    )
    assert (first.operation, first.status, first.error_code) == ("chat.completions", 200, None)
    assert (first.latency_ms, first.ttft_ms) == (15.5, 3.25)
    assert (first.prompt_tokens, first.completion_tokens) == (13, 23)
    assert (first.client_ip, first.request_id) == ("10.0.0.3", f"req_{3:024x}")
    assert (second.endpoint_id, second.status, second.error_code) == (None, 429, "rate_limit_exceeded")
    assert (second.ttft_ms, second.client_ip) == (None, None)


async def test_last_used_is_the_newest_record_per_key(world: World) -> None:
    recorder = _recorder(world.engine, batch_size=100)
    recorder.record(_record(world, 0, key=0, at=T0 + 10, ip="10.0.0.1"))
    recorder.record(_record(world, 1, key=0, at=T0 + 50, ip="10.0.0.2"))  # newest for key 0
    recorder.record(_record(world, 2, key=0, at=T0 + 20, ip="10.0.0.3"))
    recorder.record(_record(world, 3, key=1, at=T0 + 5, ip="2001:db8::1"))
    await recorder.flush()

    first, second = await _key(world.engine, world.key_ids[0]), await _key(world.engine, world.key_ids[1])
    assert first.last_used_at == datetime.fromtimestamp(T0 + 50, UTC)
    assert first.last_used_ip == "10.0.0.2"
    assert second.last_used_at == datetime.fromtimestamp(T0 + 5, UTC)
    assert second.last_used_ip == "2001:db8::1"


async def test_an_older_batch_does_not_move_last_used_back(world: World) -> None:
    recorder = _recorder(world.engine)
    recorder.record(_record(world, 0, at=T0 + 100, ip="10.0.0.9"))
    await recorder.flush()
    recorder.record(_record(world, 1, at=T0 + 40, ip="10.0.0.8"))  # arrives late, happened earlier
    await recorder.flush()
    key = await _key(world.engine, world.key_ids[0])
    assert key.last_used_at == datetime.fromtimestamp(T0 + 100, UTC)
    assert key.last_used_ip == "10.0.0.9"

    recorder.record(_record(world, 2, at=T0 + 200, ip="10.0.0.7"))
    await recorder.flush()
    key = await _key(world.engine, world.key_ids[0])
    assert key.last_used_at == datetime.fromtimestamp(T0 + 200, UTC)
    assert key.last_used_ip == "10.0.0.7"
    assert await _count(world.engine) == 3


async def test_keys_without_usage_keep_no_last_used(world: World) -> None:
    recorder = _recorder(world.engine)
    recorder.record(_record(world, 0, key=0))
    await recorder.flush()
    untouched = await _key(world.engine, world.key_ids[1])
    assert untouched.last_used_at is None
    assert untouched.last_used_ip is None


# -- background task and shutdown --------------------------------------------------------------


async def test_close_drains_pending_records(world: World) -> None:
    recorder = _recorder(world.engine, flush_interval=3600.0, batch_size=1000)
    recorder.start()
    for i in range(37):
        recorder.record(_record(world, i))
    await recorder.close()
    assert recorder.pending == 0
    assert recorder.written == 37
    assert await _count(world.engine) == 37


async def test_close_without_start_drains_too(world: World) -> None:
    recorder = _recorder(world.engine)
    for i in range(5):
        recorder.record(_record(world, i))
    await recorder.close()
    assert await _count(world.engine) == 5


async def test_a_full_batch_wakes_the_writer_before_the_interval(world: World) -> None:
    recorder = _recorder(world.engine, flush_interval=3600.0, batch_size=5)
    recorder.start()
    try:
        for i in range(5):
            recorder.record(_record(world, i))
        async with asyncio.timeout(10):
            while recorder.written < 5:
                await asyncio.sleep(0.01)
        assert await _count(world.engine) == 5
    finally:
        await recorder.close()


async def test_the_interval_flushes_a_partial_batch(world: World) -> None:
    recorder = _recorder(world.engine, flush_interval=0.05, batch_size=1000)
    recorder.start()
    try:
        recorder.record(_record(world, 0))
        async with asyncio.timeout(10):
            while recorder.written < 1:
                await asyncio.sleep(0.01)
    finally:
        await recorder.close()
    assert await _count(world.engine) == 1


# -- database away -----------------------------------------------------------------------------


async def test_flush_against_an_unreachable_database_keeps_records(tmp_path: Path, world: World) -> None:
    engine = create_engine(_url(tmp_path / "missing-dir" / "xerotier.db"))
    try:
        recorder = _recorder(engine, batch_size=2)
        for i in range(5):
            recorder.record(_record(world, i))
        for _ in range(3):
            await recorder.flush()
            assert recorder.pending == 5
            assert recorder.written == 0
            assert recorder.dropped == 0
        await recorder.close(attempts=1)
        assert recorder.pending == 5
        assert recorder.dropped == 0
    finally:
        await engine.dispose()


async def test_records_kept_during_an_outage_are_written_when_the_database_returns(tmp_path: Path) -> None:
    path = tmp_path / "later" / "xerotier.db"
    recorder_engine = create_engine(_url(path))
    try:
        recorder = _recorder(recorder_engine, batch_size=3)
        placeholder = World(engine=recorder_engine, project_id=1, endpoint_id=1, key_ids=[1, 2])
        for i in range(7):
            recorder.record(_record(placeholder, i))
        await recorder.flush()
        assert (recorder.pending, recorder.written) == (7, 0)

        path.parent.mkdir()
        setup_engine = await _build(path)
        try:
            world = await _populate(setup_engine)
            assert (world.project_id, world.endpoint_id, world.key_ids) == (1, 1, [1, 2])
            await recorder.flush()
            assert (recorder.pending, recorder.written, recorder.dropped) == (0, 7, 0)
            assert [r.request_id for r in await _rows(setup_engine)] == [f"req_{i:024x}" for i in range(7)]
        finally:
            await setup_engine.dispose()
    finally:
        await recorder_engine.dispose()


async def test_pending_records_are_bounded_and_the_excess_counted_as_dropped(
    tmp_path: Path, world: World
) -> None:
    engine = create_engine(_url(tmp_path / "missing-dir" / "xerotier.db"))
    try:
        recorder = _recorder(engine, batch_size=100, max_pending=3)
        for i in range(5):
            recorder.record(_record(world, i))
        await recorder.flush()
        assert recorder.pending == 3
        assert recorder.dropped == 2
    finally:
        await engine.dispose()
