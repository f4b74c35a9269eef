"""Password hashing with Argon2id (RFC 9106), via argon2-cffi.

Parameters are argon2-cffi's RFC 9106 "low memory" profile (t=3, m=64 MiB, p=4), above the
OWASP minimums. Hashing runs in a worker thread (the C code releases the GIL) behind a small
pool of 4 threads, so sign-in storms cannot exhaust memory or stall the event loop. ``verify`` of an
unknown user runs against a dummy hash so the answer takes the same time either way.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_CONCURRENT_HASHES = 4
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# A bounded pool, not a semaphore: it limits memory (64 MiB per hash) whatever the event loop.
_pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_HASHES, thread_name_prefix="argon2")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("xerotier-dummy-password-for-timing")


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


def _verify_sync(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``. ``stored=None`` (no such user) costs the same."""
    return await asyncio.get_running_loop().run_in_executor(_pool, _verify_sync, stored, password)


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with other parameters: rehash after a successful sign-in."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True
