"""Argon2 parameters move forward on sign-in; operators set passwords only through stdin."""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import select, update

from tests.support.dashboard import PASSWORD, Dashboard
from xerotier.accounts.models import User


async def test_sign_in_rehashes_a_hash_made_with_old_parameters(dashboard: Dashboard) -> None:
    await dashboard.create_user("old@example.com")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    async with dashboard.db() as db:
        await db.execute(update(User).where(User.email == "old@example.com").values(password_hash=weak))

    browser = await dashboard.signed_in("old@example.com")
    assert await browser.is_signed_in()
    stored = (await dashboard.user("old@example.com")).password_hash
    assert stored is not None and stored != weak
    assert stored.startswith("$argon2id$") and "m=65536,t=3,p=4" in stored
    # …and the rehashed password still signs in
    assert await (await dashboard.signed_in("old@example.com")).is_signed_in()


async def test_cli_creates_a_user_with_a_password_from_stdin(dashboard: Dashboard) -> None:
    done = await dashboard.cli(
        "users", "create", "--email", "ops@example.com", "--admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert done.returncode == 0, done.stderr
    assert "created user ops@example.com (admin)" in done.stdout
    assert await (await dashboard.signed_in("ops@example.com")).is_signed_in()

    weak = await dashboard.cli(
        "users", "create", "--email", "weak@example.com", "--password-stdin", stdin="password1234\n"
    )
    assert weak.returncode == 1
    assert weak.stderr.startswith("error: ") and "common" in weak.stderr
    async with dashboard.db() as db:
        assert (
            await db.scalar(select(User).where(User.email == "weak@example.com")) is None
        )  # nothing half-made

    empty = await dashboard.cli("users", "create", "--email", "e@example.com", "--password-stdin", stdin="")
    assert empty.returncode == 1 and "no password" in empty.stderr
