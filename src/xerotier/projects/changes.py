"""The change counter: every change that cached gateway state depends on bumps it.

Gateways poll this one row (a primary-key read) to learn, within a poll interval and without
a read per request, that keys were revoked or endpoints changed.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from xerotier.projects.models import ChangeCounter

CHANGES = "changes"


async def bump(session: AsyncSession) -> int:
    """Increment inside the caller's transaction and return the new value."""
    value = await session.scalar(
        update(ChangeCounter)
        .where(ChangeCounter.name == CHANGES)
        .values(value=ChangeCounter.value + 1)
        .returning(ChangeCounter.value)
    )
    if value is None:
        raise RuntimeError("change counter row is missing; run `xerotier db upgrade`")
    return int(value)


async def read(conn: AsyncConnection) -> int:
    value = await conn.scalar(select(ChangeCounter.value).where(ChangeCounter.name == CHANGES))
    return int(value or 0)
