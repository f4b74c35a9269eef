"""Hostile and broken input to the dashboard: a clear 4xx, never a 500, and nothing changes."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import DATABASES
from tests.support.dashboard import PASSWORD, Browser, Dashboard, database_url_for
from tests.support.routes import routes

ALICE = "alice@example.com"


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, make_postgres_database: Callable[[], str]) -> str | None:
    return database_url_for(request.param, make_postgres_database)


async def without_audit(dash: Dashboard) -> dict[str, Any]:
    """The database minus the audit trail (failed sign-ins are rightly recorded there)."""
    state = await dash.snapshot()
    state.pop("audit_events")
    return state


def assert_clear_client_error(response: httpx.Response, *expected: int) -> None:
    assert response.status_code in (expected or (400,)), (response.status_code, response.text[:500])
    assert "Traceback" not in response.text
    if response.headers.get("content-type", "").startswith("application/json"):
        error = response.json()["error"]
        assert (error["message"] and error["type"] == "invalid_request_error") or error[
            "type"
        ] == "not_found_error"
    else:
        assert "<h1>" in response.text


async def raw_post(browser: Browser, path: str, content: bytes, content_type: str) -> httpx.Response:
    """A body exactly as given; the token travels in the header so only the body is at fault."""
    return await browser.client.post(
        path,
        content=content,
        headers={"content-type": content_type, "x-csrf-token": browser.csrf, "accept": "text/html"},
    )


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"\xff\xfe\x00=%%%&&==&email", "application/x-www-form-urlencoded"),
        (b"email=%FF%FE%00&password=%C0%AF", "application/x-www-form-urlencoded"),
        (b'{"email": "alice@example.com", "password": "x"}', "application/json"),
        (
            b'--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\nbroken',
            "multipart/form-data; boundary=xyz",
        ),
        (b"<xml/>", "text/xml"),
        (b"", "application/x-www-form-urlencoded"),
    ],
    ids=["garbage-form", "bad-utf8", "json", "truncated-multipart", "xml", "empty"],
)
async def test_malformed_sign_in_bodies_get_a_clear_400(
    dashboard: Dashboard, content: bytes, content_type: str
) -> None:
    await dashboard.create_user(ALICE, password=None)
    browser = await dashboard.browser()
    await browser.load_token()
    before = await without_audit(dashboard)
    response = await raw_post(browser, "/auth/login", content, content_type)
    assert_clear_client_error(response, 400, 401)
    assert not await browser.is_signed_in()
    assert await without_audit(dashboard) == before


@pytest.mark.parametrize(
    ("path", "fields", "missing"),
    [
        ("/auth/login", {"email": ALICE}, "password"),
        ("/auth/login", {"password": PASSWORD}, "email"),
        ("/auth/register", {"email": "new@example.com"}, "password"),
        ("/auth/forgot-password", {}, "email"),
        ("/auth/reset-password", {"password": "a brand new passphrase 77"}, "token"),
        ("/auth/setup", {"token": "t", "password": "a brand new passphrase 77"}, "email"),
        ("/account/password", {"new_password": "a brand new passphrase 77"}, "current_password"),
        ("/projects", {"name": "No slug"}, "slug"),
    ],
)
async def test_missing_fields_are_named_in_a_400(
    dashboard: Dashboard, path: str, fields: dict[str, str], missing: str
) -> None:
    alice = await dashboard.create_user(ALICE, password=None)
    browser, _ = await dashboard.session_for(alice)
    before = await dashboard.snapshot()
    response = await browser.submit(path, fields)
    assert_clear_client_error(response, 400)
    assert missing in response.text
    assert await dashboard.snapshot() == before
    assert await dashboard.mails() == []


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/auth/login", "email"),
        ("/auth/login", "password"),
        ("/auth/register", "email"),
        ("/auth/register", "password"),
        ("/auth/forgot-password", "email"),
    ],
)
async def test_over_long_fields_are_refused_and_change_nothing(
    dashboard: Dashboard, path: str, field: str
) -> None:
    await dashboard.create_user(ALICE, password=None)
    browser = await dashboard.browser()
    await browser.load_token()
    fields = {"email": ALICE, "password": "a brand new passphrase 77"}
    if path == "/auth/forgot-password":
        del fields["password"]
    fields[field] = ("x" * 4990 + "@example.com") if field == "email" else "p" * 5000
    before = await dashboard.snapshot()
    response = await browser.submit(path, fields)
    assert_clear_client_error(response, 400)
    assert field in response.text
    assert await dashboard.snapshot() == before
    assert await dashboard.mails() == []


async def test_a_long_invalid_email_at_registration_is_refused(dashboard: Dashboard) -> None:
    browser = await dashboard.browser()
    await browser.load_token()
    for email in ("a" * 4000 + "@example.com", "not an email", "@example.com", "alice@", "a@b"):
        response = await browser.submit(
            "/auth/register", {"email": email, "password": "a brand new passphrase 77"}
        )
        assert_clear_client_error(response, 400)
    assert await dashboard.count("users") == 0
    assert await dashboard.mails() == []


@pytest.mark.parametrize(
    "email",
    ["alice@example.com\x00", "alice@example.com\x1b"],
    ids=["nul", "escape"],
)
async def test_control_characters_in_an_email_are_refused_not_stored(
    dashboard: Dashboard, email: str
) -> None:
    """Not an address anyone can receive mail at, but a look-alike of alice's in every list that shows
    it — and PostgreSQL cannot even compare a NUL (the query fails)."""
    await dashboard.create_user(ALICE)
    browser = await dashboard.browser()
    await browser.load_token()
    before = await without_audit(dashboard)

    login = await browser.submit("/auth/login", {"email": email, "password": PASSWORD})
    assert login.status_code in (400, 401), login.text[:300]
    forgot = await browser.submit("/auth/forgot-password", {"email": email})
    assert forgot.status_code in (200, 400), forgot.text[:300]
    register = await browser.submit(
        "/auth/register", {"email": email, "password": "a brand new passphrase 77"}
    )
    assert register.status_code == 400, "an address with control characters was accepted for a new account"

    assert not await browser.is_signed_in()
    assert await without_audit(dashboard) == before
    assert await dashboard.mails() == []


@pytest.mark.parametrize(
    ("email", "valid"),
    [("ålice@exämple.com", True), ("alice@example.com' OR '1'='1", False), ("<script>@x.io", True)],
    ids=["unicode", "sql-ish", "markup"],
)
async def test_odd_but_printable_emails_are_handled_as_data(
    dashboard: Dashboard, email: str, valid: bool
) -> None:
    await dashboard.create_user(ALICE)
    browser = await dashboard.browser()
    await browser.load_token()
    login = await browser.submit("/auth/login", {"email": email, "password": PASSWORD})
    assert login.status_code == 401
    assert "<script>@" not in login.text  # echoed escaped
    register = await browser.submit(
        "/auth/register", {"email": email, "password": "a brand new passphrase 77"}
    )
    assert register.status_code == (200 if valid else 400)
    assert not await browser.is_signed_in()
    assert await dashboard.count("users") == (2 if valid else 1)


@pytest.mark.parametrize("session_id", ["999999", "0", "-1", "abc", "1.5", "%00"])
async def test_unknown_or_malformed_session_ids_are_404_or_400(dashboard: Dashboard, session_id: str) -> None:
    alice = await dashboard.create_user(ALICE, password=None)
    browser, _ = await dashboard.session_for(alice)
    before = await dashboard.snapshot()
    response = await browser.api("DELETE", f"/api/account/sessions/{session_id}")
    assert_clear_client_error(response, 404, 400)
    assert response.headers["content-type"].startswith("application/json")
    if session_id.isdigit() and int(session_id) > 0:  # a well-formed id that is not yours
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    page = await browser.submit(f"/account/sessions/{session_id}/revoke")
    assert page.status_code in (303, 400, 404), (page.status_code, page.text[:300])
    assert await dashboard.snapshot() == before
    assert await browser.is_signed_in()


async def test_out_of_range_ids_in_any_path_are_a_client_error(dashboard: Dashboard) -> None:
    """Every route taking an integer id, found by walking the app: an id no database column can hold
    is a 4xx, not a crash."""
    owner = await dashboard.create_user(ALICE, password=None)
    project = await dashboard.create_project(owner, "alpha")
    browser, _ = await dashboard.session_for(owner, raise_app_exceptions=False)
    values = {"project_id": project.id, "slug": project.endpoint, "key_id": project.key_id}
    targets = [t for t in routes(dashboard.web, ("GET", "POST", "PUT", "PATCH", "DELETE")) if t.int_params]
    assert any(t.template == "/api/account/sessions/{session_id}" for t in targets)

    crashes = []
    for target, huge_id in itertools.product(targets, [str(2**31), str(2**63), "9" * 23]):
        huge = {name: huge_id for name in target.int_params}
        path = target.fill({**values, **huge}, default="x")
        names, is_form = target.body_fields()
        body = {name: "member" if name == "role" else "x" for name in names}
        response = await browser.client.request(
            target.method,
            path,
            headers={"x-csrf-token": browser.csrf, "accept": "application/json"},
            **({"data": body or None} if is_form else {"json": body}),
        )
        if response.status_code >= 500:
            crashes.append(f"{target.label} with id {huge_id} → {response.status_code}")
    assert not crashes, "\n".join(crashes)
    assert await browser.is_signed_in()


async def test_a_huge_form_body_is_refused_without_harm(dashboard: Dashboard) -> None:
    await dashboard.create_user(ALICE, password=None)
    browser = await dashboard.browser()
    await browser.load_token()
    before = await dashboard.snapshot()
    big = b"email=" + b"a" * (2 * 1024 * 1024) + b"&password=x"
    without_header = await browser.client.post(
        "/auth/login",
        content=big + f"&csrf_token={browser.csrf}".encode(),
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
    )
    assert without_header.status_code in (403, 413)
    with_header = await raw_post(browser, "/auth/login", big, "application/x-www-form-urlencoded")
    assert_clear_client_error(with_header, 400, 413)
    assert await dashboard.snapshot() == before
