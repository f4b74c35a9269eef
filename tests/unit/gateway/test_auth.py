"""KeyCache: reject before any lookup, cache hits, single flight, and never a false 401 on an outage.

The fetch function is the cache's collaborator (the database in production); here it is a small
in-test key store that counts its calls and can be paused or made to fail.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from xerotier.errors import ErrorCode
from xerotier.gateway.auth import KeyCache, KeyRecord
from xerotier.gateway.errors import GatewayError
from xerotier.security import api_keys

PEPPER = b"unit-test-pepper-0123456789abcdef"


class KeyStore:
    def __init__(self) -> None:
        self.records: dict[bytes, KeyRecord] = {}
        self.calls: list[bytes] = []
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None
        self._next_id = 1

    def add(self, *, revoked: bool = False, expires_at: float | None = None) -> tuple[str, KeyRecord]:
        key = api_keys.generate("proj")
        record = KeyRecord(
            id=self._next_id,
            external_id=f"key_{self._next_id}",
            project_id=7,
            endpoint_id=None,
            expires_at=expires_at,
            revoked=revoked,
            networks=None,
            checked_at=time.monotonic(),
        )
        self._next_id += 1
        self.records[api_keys.digest(PEPPER, key)] = record
        return key, record

    async def fetch(self, digest: bytes) -> KeyRecord | None:
        self.calls.append(digest)
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        record = self.records.get(digest)
        if record is None:
            return None
        # A fresh object per read, like a database row.
        return KeyRecord(
            id=record.id,
            external_id=record.external_id,
            project_id=record.project_id,
            endpoint_id=record.endpoint_id,
            expires_at=record.expires_at,
            revoked=record.revoked,
            networks=record.networks,
            checked_at=time.monotonic(),
        )


@pytest.fixture
def store() -> KeyStore:
    return KeyStore()


def _cache(store: KeyStore, *, ttl: float = 60.0, max_size: int = 1000) -> KeyCache:
    return KeyCache(pepper=PEPPER, fetch=store.fetch, ttl=ttl, max_size=max_size)


def _bearer(key: str) -> bytes:
    return b"Bearer " + key.encode()


async def _expect_401(cache: KeyCache, header: bytes | None) -> GatewayError:
    with pytest.raises(GatewayError) as exc:
        await cache.authenticate(header)
    assert exc.value.status == 401
    assert exc.value.code == ErrorCode.INVALID_API_KEY
    return exc.value


# -- rejected before any lookup ----------------------------------------------------------------


def _bad_headers() -> list[bytes | None]:
    key = api_keys.generate("proj")
    typo = key[:-1] + ("A" if key[-1] != "A" else "B")
    return [
        None,
        b"",
        b"Bearer",
        b"Bearer ",
        b"Bearer    ",
        b"Basic dXNlcjpwYXNz",
        key.encode(),  # no scheme
        b"Token " + key.encode(),
        b"Bearer sk-1234567890",
        b"Bearer xero_proj_short",
        _bearer(typo),  # checksum mismatch
        _bearer(key.replace("xero_", "xera_")),
        b"Bearer " + key.encode()[:-3] + "\u00e9".encode(),
        b"Bearer \xff\xfe\xfd",
        b"Bearer " + key.upper().encode(),
    ]


@pytest.mark.parametrize("header", _bad_headers())
async def test_malformed_missing_or_non_bearer_headers_are_401_without_a_lookup(
    store: KeyStore, header: bytes | None
) -> None:
    cache = _cache(store)
    await _expect_401(cache, header)
    assert store.calls == []


@pytest.mark.parametrize("scheme", [b"Bearer", b"bearer", b"BEARER"])
async def test_the_bearer_scheme_is_case_insensitive(store: KeyStore, scheme: bytes) -> None:
    key, record = store.add()
    assert (await _cache(store).authenticate(scheme + b" " + key.encode())).id == record.id


async def test_surrounding_whitespace_around_the_key_is_tolerated(store: KeyStore) -> None:
    key, record = store.add()
    assert (await _cache(store).authenticate(b"Bearer  " + key.encode() + b" ")).id == record.id


# -- answers from the store --------------------------------------------------------------------


async def test_unknown_key_is_401(store: KeyStore) -> None:
    cache = _cache(store)
    error = await _expect_401(cache, _bearer(api_keys.generate("proj")))
    assert "Unknown" in error.message
    assert len(store.calls) == 1
    assert len(cache) == 0


async def test_known_key_authenticates(store: KeyStore) -> None:
    key, record = store.add()
    result = await _cache(store).authenticate(_bearer(key))
    assert (result.id, result.project_id, result.external_id) == (record.id, 7, record.external_id)
    assert store.calls == [api_keys.digest(PEPPER, key)]


async def test_revoked_key_is_401(store: KeyStore) -> None:
    key, _ = store.add(revoked=True)
    cache = _cache(store)
    error = await _expect_401(cache, _bearer(key))
    assert "revoked" in error.message
    await _expect_401(cache, _bearer(key))  # and stays refused


async def test_expired_key_is_401(store: KeyStore) -> None:
    key, _ = store.add(expires_at=time.time() - 1)
    error = await _expect_401(_cache(store), _bearer(key))
    assert "expired" in error.message


async def test_key_expiring_later_is_accepted(store: KeyStore) -> None:
    key, record = store.add(expires_at=time.time() + 3600)
    assert (await _cache(store).authenticate(_bearer(key))).id == record.id


async def test_a_cached_key_expires_without_a_new_lookup(store: KeyStore) -> None:
    key, _ = store.add(expires_at=time.time() + 0.2)
    cache = _cache(store)
    await cache.authenticate(_bearer(key))
    await asyncio.sleep(0.25)
    await _expect_401(cache, _bearer(key))
    assert len(store.calls) == 1


# -- caching -----------------------------------------------------------------------------------


async def test_a_hit_is_served_from_the_cache(store: KeyStore) -> None:
    key, record = store.add()
    cache = _cache(store)
    for _ in range(5):
        assert (await cache.authenticate(_bearer(key))).id == record.id
    assert len(store.calls) == 1
    assert len(cache) == 1


async def test_entries_are_rechecked_after_the_ttl(store: KeyStore) -> None:
    key, _ = store.add()
    cache = _cache(store, ttl=0.0)
    await cache.authenticate(_bearer(key))
    store.records[api_keys.digest(PEPPER, key)].revoked = True  # revoked in the database
    await _expect_401(cache, _bearer(key))
    assert len(store.calls) == 2


async def test_a_key_deleted_from_the_store_is_forgotten_after_the_ttl(store: KeyStore) -> None:
    key, _ = store.add()
    cache = _cache(store, ttl=0.0)
    await cache.authenticate(_bearer(key))
    del store.records[api_keys.digest(PEPPER, key)]
    await _expect_401(cache, _bearer(key))
    assert len(cache) == 0


async def test_mark_revoked_makes_a_cached_key_fail_without_a_lookup(store: KeyStore) -> None:
    key, _ = store.add()
    other_key, other = store.add()
    cache = _cache(store)
    await cache.authenticate(_bearer(key))
    await cache.authenticate(_bearer(other_key))
    cache.mark_revoked([api_keys.digest(PEPPER, key), b"\x00" * 32])  # unknown digests are ignored
    error = await _expect_401(cache, _bearer(key))
    assert "revoked" in error.message
    assert (await cache.authenticate(_bearer(other_key))).id == other.id
    assert len(store.calls) == 2


async def test_a_revoked_cached_key_is_never_rechecked(store: KeyStore) -> None:
    key, _ = store.add()
    cache = _cache(store, ttl=0.0)
    await cache.authenticate(_bearer(key))
    cache.mark_revoked([api_keys.digest(PEPPER, key)])
    calls = len(store.calls)
    for _ in range(3):
        await _expect_401(cache, _bearer(key))
    assert len(store.calls) == calls


async def test_max_size_bounds_the_cache_and_evicts_the_oldest(store: KeyStore) -> None:
    keys = [store.add()[0] for _ in range(4)]
    cache = _cache(store, max_size=3)
    for key in keys:
        await cache.authenticate(_bearer(key))
    assert len(cache) == 3
    assert len(store.calls) == 4

    await cache.authenticate(_bearer(keys[3]))  # newest: still cached
    assert len(store.calls) == 4
    await cache.authenticate(_bearer(keys[0]))  # oldest: evicted, fetched again
    assert len(store.calls) == 5
    assert len(cache) == 3


async def test_refreshing_a_cached_key_does_not_evict_another(store: KeyStore) -> None:
    keys = [store.add()[0] for _ in range(3)]
    cache = _cache(store, ttl=0.0, max_size=3)
    for key in keys:
        await cache.authenticate(_bearer(key))
    await cache.authenticate(_bearer(keys[1]))  # re-fetched after the TTL, same digest
    assert len(cache) == 3


# -- single flight -----------------------------------------------------------------------------


async def test_concurrent_misses_for_one_key_fetch_once(store: KeyStore) -> None:
    key, record = store.add()
    cache = _cache(store)
    store.gate = asyncio.Event()
    tasks = [asyncio.create_task(cache.authenticate(_bearer(key))) for _ in range(20)]
    while not store.calls:
        await asyncio.sleep(0)
    for _ in range(5):
        await asyncio.sleep(0)  # let every task reach the lookup
    store.gate.set()
    results = await asyncio.gather(*tasks)
    assert len(store.calls) == 1
    assert {r.id for r in results} == {record.id}


async def test_concurrent_misses_for_different_keys_fetch_each(store: KeyStore) -> None:
    keys = [store.add()[0] for _ in range(3)]
    cache = _cache(store)
    store.gate = asyncio.Event()
    tasks = [asyncio.create_task(cache.authenticate(_bearer(k))) for k in keys for _ in range(3)]
    while len(store.calls) < 3:
        await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(*tasks)
    assert sorted(store.calls) == sorted(api_keys.digest(PEPPER, k) for k in keys)


async def test_concurrent_misses_for_an_unknown_key_all_get_401(store: KeyStore) -> None:
    cache = _cache(store)
    store.gate = asyncio.Event()
    header = _bearer(api_keys.generate("proj"))
    tasks = [asyncio.create_task(cache.authenticate(header)) for _ in range(5)]
    while not store.calls:
        await asyncio.sleep(0)
    store.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, GatewayError) and r.status == 401 for r in results)
    assert len(store.calls) == 1


async def test_a_cancelled_leader_does_not_fail_the_other_waiters(store: KeyStore) -> None:
    # A client that goes away while its key is being looked up must not take other requests
    # for the same key down with it.
    key, record = store.add()
    cache = _cache(store)
    store.gate = asyncio.Event()
    leader = asyncio.create_task(cache.authenticate(_bearer(key)))
    while not store.calls:
        await asyncio.sleep(0)
    follower = asyncio.create_task(cache.authenticate(_bearer(key)))
    for _ in range(5):
        await asyncio.sleep(0)
    leader.cancel()
    await asyncio.gather(leader, return_exceptions=True)
    store.gate.set()
    [result] = await asyncio.gather(follower, return_exceptions=True)
    assert isinstance(result, KeyRecord), repr(result)
    assert result.id == record.id


# -- outages -----------------------------------------------------------------------------------


async def test_store_failure_with_nothing_cached_is_503_not_401(store: KeyStore) -> None:
    key, _ = store.add()
    store.error = ConnectionError("database is away")
    cache = _cache(store)
    with pytest.raises(GatewayError) as exc:
        await cache.authenticate(_bearer(key))
    assert exc.value.status == 503
    assert exc.value.code == ErrorCode.SERVICE_UNAVAILABLE


async def test_concurrent_waiters_all_get_503_on_failure(store: KeyStore) -> None:
    key, _ = store.add()
    store.error = OSError("database is away")
    store.gate = asyncio.Event()
    cache = _cache(store)
    tasks = [asyncio.create_task(cache.authenticate(_bearer(key))) for _ in range(4)]
    while not store.calls:
        await asyncio.sleep(0)
    for _ in range(5):
        await asyncio.sleep(0)
    store.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, GatewayError) and r.status == 503 for r in results), results
    assert len(store.calls) == 1


async def test_a_failure_is_not_remembered(store: KeyStore) -> None:
    key, record = store.add()
    store.error = ConnectionError("blip")
    cache = _cache(store)
    with pytest.raises(GatewayError):
        await cache.authenticate(_bearer(key))
    store.error = None
    assert (await cache.authenticate(_bearer(key))).id == record.id
    assert len(store.calls) == 2


async def test_store_failure_after_the_ttl_keeps_serving_the_cached_record(store: KeyStore) -> None:
    key, record = store.add()
    cache = _cache(store, ttl=0.0)
    await cache.authenticate(_bearer(key))
    store.error = ConnectionError("database is away")
    for _ in range(3):
        assert (await cache.authenticate(_bearer(key))).id == record.id
    assert len(store.calls) == 4  # it did try again each time


async def test_a_cached_revocation_survives_a_store_failure(store: KeyStore) -> None:
    key, _ = store.add()
    cache = _cache(store, ttl=0.0)
    await cache.authenticate(_bearer(key))
    cache.mark_revoked([api_keys.digest(PEPPER, key)])
    store.error = ConnectionError("database is away")
    await _expect_401(cache, _bearer(key))
