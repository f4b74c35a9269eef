"""No full API key is ever stored or logged: only prefixes and keyed digests."""

from __future__ import annotations

import asyncio

from tests.conftest import _asyncpg_dsn
from tests.e2e.conftest import Stack


async def _postgres_dump(url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        ]
        rows = []
        for table in tables:
            rows += [r[0] for r in await conn.fetch(f'SELECT t::text FROM "{table}" t')]
        return "\n".join(rows)
    finally:
        await conn.close()


def test_database_and_logs_never_contain_a_key(stack: Stack) -> None:
    key = stack.create_key("alpha", "at-rest-check")
    stack.client(key).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert len(stack.keys) >= 5
    secrets = [k for k in stack.keys.values() if k.startswith("xero_")]
    tokens = [k.rsplit("_", 1)[1] for k in secrets]

    if stack.xt.database_url:
        dumped = asyncio.run(_postgres_dump(stack.xt.database_url))
        assert "xero_alpha_" in dumped  # the dump does include key prefixes, so it is searchable
        blobs = [dumped.encode()]
    else:
        files = [p for p in stack.xt.data_dir.iterdir() if p.name.startswith("xerotier.db")]
        assert files
        blobs = [p.read_bytes() for p in files]
    blobs += [p.read_bytes() for p in stack.xt.data_dir.glob("serve-*.log")]
    for blob in blobs:
        for token in tokens:
            assert token.encode() not in blob
            assert token[10:].encode() not in blob  # not even the part after the displayed prefix
