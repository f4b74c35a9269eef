"""Dashboard sessions over HTTP: fixation, rotation, idle and absolute expiry, and every way a
session ends (password change, revocation, admin reset, logout). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest

from tests.conftest import DATABASES
from tests.support.dashboard import PASSWORD, USER_AGENT, Browser, Dashboard, database_url_for
from xerotier.web import cookies

NEW_PASSWORD = "a brand new passphrase 77"


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, make_postgres_database: Callable[[], str]) -> str | None:
    return database_url_for(request.param, make_postgres_database)


async def with_cookie(dash: Dashboard, value: str, **options: str) -> Browser:
    """Another client presenting exactly this session cookie value (a replay, or a stolen copy)."""
    browser = await dash.browser(**options)
    browser.set_cookie(cookies.SESSION, value)
    return browser


async def assert_signed_out(dash: Dashboard, cookie_value: str) -> None:
    """A page sends the holder to sign in; the JSON API answers 401."""
    api = await with_cookie(dash, cookie_value)
    response = await api.client.get("/api/account/sessions", headers={"accept": "application/json"})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "authentication_error"

    page = await with_cookie(dash, cookie_value)
    response = await page.get("/account")
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/auth/login")
    assert f"{cookies.SESSION}=;" in response.headers.get("set-cookie", ""), "the dead cookie is not cleared"


async def assert_signed_in(dash: Dashboard, cookie_value: str) -> None:
    browser = await with_cookie(dash, cookie_value)
    response = await browser.get("/account")
    assert response.status_code == 200, response.headers


async def test_sign_in_issues_a_fresh_session_id_and_never_adopts_a_planted_one(dashboard: Dashboard) -> None:
    await dashboard.create_user("alice@example.com")
    planted = "attacker-chosen-session-id-0123456789abcdefghij"
    browser = await dashboard.browser()
    browser.set_cookie(cookies.SESSION, planted)

    page = await browser.get("/auth/login")
    assert page.status_code == 200
    assert "Sign in" in page.text  # the planted id signs nobody in

    browser.set_cookie(cookies.SESSION, planted)  # still there when the form is posted
    response = await browser.submit("/auth/login", {"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 303
    issued = browser.session_cookie
    assert issued is not None
    assert issued != planted
    assert await browser.is_signed_in()
    await assert_signed_out(dashboard, planted)

    # Signing in again while signed in gives yet another id and ends the previous session.
    await browser.load_token()
    again = await browser.submit("/auth/login", {"email": "alice@example.com", "password": PASSWORD})
    assert again.status_code == 303
    assert browser.session_cookie not in (None, issued, planted)
    await assert_signed_out(dashboard, issued)


async def test_an_attackers_own_session_planted_in_a_browser_never_becomes_the_victims(
    dashboard: Dashboard,
) -> None:
    await dashboard.create_user("alice@example.com")
    mallory = await dashboard.create_user("mallory@example.com", password=None)
    attacker, _ = await dashboard.session_for(mallory, ip="198.51.100.66")
    attacker_cookie = attacker.session_cookie
    assert attacker_cookie

    victim = await with_cookie(dashboard, attacker_cookie)
    await victim.load_token()
    response = await victim.submit("/auth/login", {"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 303
    assert victim.session_cookie not in (None, attacker_cookie)
    assert "alice@example.com" in (await victim.get("/account")).text

    page = await attacker.get("/account")
    assert "alice@example.com" not in page.text


async def test_session_ids_are_long_random_and_stored_only_as_a_hash(dashboard: Dashboard) -> None:
    await dashboard.create_user("alice@example.com")
    first = await dashboard.signed_in("alice@example.com")
    second = await dashboard.signed_in("alice@example.com")
    values = [first.session_cookie, second.session_cookie]
    assert all(v and re.fullmatch(r"[A-Za-z0-9_-]{43,}", v) for v in values), values  # >= 256 bits
    assert values[0] != values[1]
    state = repr(await dashboard.snapshot())
    for value in values:
        assert value not in state
        assert hashlib.sha256(value.encode()).hexdigest() in state


async def test_activity_keeps_a_session_alive_and_an_hour_of_idleness_ends_it(dashboard: Dashboard) -> None:
    await dashboard.create_user("alice@example.com")
    browser = await dashboard.signed_in("alice@example.com")
    cookie = browser.session_cookie
    assert cookie

    for _ in range(3):  # three hours in all, never more than 59 minutes apart
        dashboard.clock.advance(minutes=59)
        await assert_signed_in(dashboard, cookie)

    dashboard.clock.advance(minutes=61)
    await assert_signed_out(dashboard, cookie)


async def test_a_session_ends_eight_hours_after_sign_in_whatever_the_activity(dashboard: Dashboard) -> None:
    await dashboard.create_user("alice@example.com")
    browser = await dashboard.signed_in("alice@example.com")
    cookie = browser.session_cookie
    assert cookie

    for _ in range(15):  # 30 minutes apart: 0:30 … 7:30
        dashboard.clock.advance(minutes=30)
        await assert_signed_in(dashboard, cookie)
    dashboard.clock.advance(minutes=29)  # 7:59
    await assert_signed_in(dashboard, cookie)
    dashboard.clock.advance(minutes=1)  # 8:00
    await assert_signed_out(dashboard, cookie)


async def test_a_password_change_ends_every_other_session_and_keeps_this_one(dashboard: Dashboard) -> None:
    alice = await dashboard.create_user("alice@example.com")
    current = await dashboard.signed_in("alice@example.com")
    laptop, _ = await dashboard.session_for(alice, ip="198.51.100.20")
    phone, _ = await dashboard.session_for(alice, ip="198.51.100.21")
    bob = await dashboard.create_user("bob@example.com", password=None)
    bystander, _ = await dashboard.session_for(bob)

    wrong = await current.submit(
        "/account/password", {"current_password": "not the password at all", "new_password": NEW_PASSWORD}
    )
    assert wrong.status_code == 400
    assert await laptop.is_signed_in() and await phone.is_signed_in()

    before = current.session_cookie
    response = await current.submit(
        "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert "Other sessions were signed out" in response.text

    # This browser stays signed in under a new session id; the old id is dead.
    assert current.session_cookie and current.session_cookie != before
    assert await current.is_signed_in()
    stale = await dashboard.browser()
    stale.set_cookie(cookies.SESSION, before or "")
    assert not await stale.is_signed_in()
    assert not await laptop.is_signed_in()
    assert not await phone.is_signed_in()
    assert await bystander.is_signed_in()
    assert (await dashboard.last_mail("alice@example.com", "password was changed")).to == "alice@example.com"

    stored = (await dashboard.user("alice@example.com")).password_hash
    assert stored is not None and stored != alice.password_hash, "the new password was not saved"
    old = await dashboard.sign_in(await dashboard.browser(), "alice@example.com", PASSWORD)
    assert old.status_code == 401, "the old password still signs in after the change"
    new = await dashboard.sign_in(await dashboard.browser(), "alice@example.com", NEW_PASSWORD)
    assert new.status_code == 303


async def test_revoking_a_session_ends_it_on_its_next_request(dashboard: Dashboard) -> None:
    alice = await dashboard.create_user("alice@example.com", password=None)
    me, _ = await dashboard.session_for(alice)
    laptop, laptop_row = await dashboard.session_for(alice, ip="198.51.100.20")
    phone, phone_row = await dashboard.session_for(alice, ip="198.51.100.21")

    response = await me.submit(f"/account/sessions/{laptop_row.id}/revoke")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    page = await laptop.get("/account")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/login")

    response = await me.api("DELETE", f"/api/account/sessions/{phone_row.id}")
    assert response.status_code == 204, response.text
    response = await phone.client.get("/api/account/sessions", headers={"accept": "application/json"})
    assert response.status_code == 401

    again = await me.api("DELETE", f"/api/account/sessions/{phone_row.id}")
    assert again.status_code == 404
    assert await me.is_signed_in()


async def test_revoking_your_own_session_signs_you_out(dashboard: Dashboard) -> None:
    alice = await dashboard.create_user("alice@example.com", password=None)
    me, row = await dashboard.session_for(alice)
    cookie = me.session_cookie
    assert cookie
    response = await me.submit(f"/account/sessions/{row.id}/revoke")
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login"
    await assert_signed_out(dashboard, cookie)


async def test_nobody_can_revoke_someone_elses_session(dashboard: Dashboard) -> None:
    alice = await dashboard.create_user("alice@example.com", password=None)
    mallory = await dashboard.create_user("mallory@example.com", password=None)
    victim, victim_row = await dashboard.session_for(alice)
    attacker, _ = await dashboard.session_for(mallory, ip="198.51.100.66")
    before = await dashboard.snapshot()

    response = await attacker.api("DELETE", f"/api/account/sessions/{victim_row.id}")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    await attacker.submit(f"/account/sessions/{victim_row.id}/revoke")

    assert await victim.is_signed_in()
    assert await dashboard.snapshot() == before


async def test_an_admin_reset_from_the_cli_ends_every_session(dashboard: Dashboard) -> None:
    alice = await dashboard.create_user("alice@example.com")
    first = await dashboard.signed_in("alice@example.com")
    second, _ = await dashboard.session_for(alice, ip="198.51.100.20")
    bob = await dashboard.create_user("bob@example.com", password=None)
    bystander, _ = await dashboard.session_for(bob)

    result = await dashboard.cli(
        "users", "set-password", "--email", "alice@example.com", "--password-stdin", stdin=NEW_PASSWORD + "\n"
    )
    assert result.returncode == 0, result.stderr
    assert "2 session(s) ended" in result.stdout

    assert not await first.is_signed_in()
    assert not await second.is_signed_in()
    assert await bystander.is_signed_in()
    response = await dashboard.sign_in(await dashboard.browser(), "alice@example.com", NEW_PASSWORD)
    assert response.status_code == 303


async def test_logout_ends_the_session_on_the_server(dashboard: Dashboard) -> None:
    await dashboard.create_user("alice@example.com")
    browser = await dashboard.signed_in("alice@example.com")
    cookie = browser.session_cookie
    assert cookie

    response = await browser.submit("/auth/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login"
    assert f"{cookies.SESSION}=;" in response.headers["set-cookie"]
    assert browser.session_cookie is None

    await assert_signed_out(dashboard, cookie)  # a copy of the old cookie is worthless
    rows = await dashboard.session_rows((await dashboard.user("alice@example.com")).id)
    assert [r.revoked_at for r in rows] == [dashboard.clock.now]


async def test_the_account_page_lists_sessions_and_marks_this_one(dashboard: Dashboard) -> None:
    alice = await dashboard.create_user("alice@example.com")
    me = await dashboard.signed_in("alice@example.com")  # 09:00 from 203.0.113.7
    dashboard.clock.advance(minutes=5)
    other, other_row = await dashboard.session_for(alice, ip="198.51.100.20", user_agent="curl/8.5.0")
    dashboard.clock.advance(minutes=15)
    assert (await other.get("/account")).status_code == 200  # active at 09:20

    page = await me.get("/account")
    assert page.status_code == 200
    rows = dict(re.findall(r'<tr data-session="(\d+)">(.*?)</tr>', page.text, re.S))
    assert len(rows) == 2
    cells = {
        sid: [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]
        for sid, html in rows.items()
    }
    mine = cells[next(s for s in rows if s != str(other_row.id))]
    theirs = cells[str(other_row.id)]

    badge = re.compile(r"<span[^>]*>\s*this session\s*</span>")
    assert " ".join(mine[0]).startswith(USER_AGENT.split()[0]) and "this session" in " ".join(mine[0])
    assert mine[1] == ["203.0.113.7"]
    assert " ".join(mine[2]) == "2030-01-07 09:00 UTC"
    assert " ".join(theirs[0]) == "curl/8.5.0"
    assert not badge.search(rows[str(other_row.id)])
    assert theirs[1] == ["198.51.100.20"]
    assert " ".join(theirs[2]) == "2030-01-07 09:05 UTC"
    assert " ".join(theirs[3]) == "2030-01-07 09:20 UTC"
    assert len(badge.findall(page.text)) == 1

    listed = (await me.client.get("/api/account/sessions")).json()
    assert sorted(s["current"] for s in listed) == [False, True]
    assert {s["ip"] for s in listed} == {"203.0.113.7", "198.51.100.20"}
