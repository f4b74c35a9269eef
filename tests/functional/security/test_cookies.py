"""Cookie attributes: ``__Host-`` prefix, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain."""

from __future__ import annotations

import httpx

from tests.support.dashboard import Dashboard
from xerotier.web import cookies


def set_cookies(response: httpx.Response, name: str) -> list[dict[str, str | bool]]:
    """Each Set-Cookie for ``name``, as attribute → value (True for flags), names lower-cased."""
    found = []
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        cookie_name, _, value = first.partition("=")
        if cookie_name != name:
            continue
        parsed: dict[str, str | bool] = {"value": value}
        for attribute in attributes:
            key, sep, attr_value = attribute.partition("=")
            parsed[key.strip().lower()] = attr_value.strip() if sep else True
        found.append(parsed)
    return found


def assert_host_cookie(attributes: dict[str, str | bool], name: str) -> None:
    assert name.startswith("__Host-")
    assert attributes.get("secure") is True
    assert attributes.get("httponly") is True
    assert str(attributes.get("samesite", "")).lower() == "lax"
    assert attributes.get("path") == "/"
    assert "domain" not in attributes


async def test_the_session_cookie_is_host_prefixed_secure_httponly_lax(dashboard: Dashboard) -> None:
    await dashboard.create_user("alice@example.com")
    browser = await dashboard.browser()
    response = await dashboard.sign_in(browser, "alice@example.com")
    assert response.status_code == 303

    [session] = set_cookies(response, cookies.SESSION)
    assert_host_cookie(session, cookies.SESSION)
    assert session["value"]
    assert "max-age" not in session and "expires" not in session  # ends with the browser; server decides

    [cleared] = set_cookies(response, cookies.PRESESSION)  # the pre-session cookie is dropped at sign-in
    assert_host_cookie(cleared, cookies.PRESESSION)
    assert cleared["max-age"] == "0"

    logout = await browser.submit("/auth/logout", token=await browser.load_token())
    [gone] = set_cookies(logout, cookies.SESSION)
    assert_host_cookie(gone, cookies.SESSION)
    assert gone["value"] == "" and gone["max-age"] == "0"


async def test_the_pre_session_cookie_has_the_same_attributes(dashboard: Dashboard) -> None:
    browser = await dashboard.browser()
    response = await browser.get("/auth/login")
    [presession] = set_cookies(response, cookies.PRESESSION)
    assert_host_cookie(presession, cookies.PRESESSION)
    assert len(str(presession["value"])) >= 43  # 256 random bits

    again = await browser.get("/auth/register")
    assert set_cookies(again, cookies.PRESESSION) == []  # set once, not on every page


async def test_a_dead_session_cookie_is_cleared_with_the_same_attributes(dashboard: Dashboard) -> None:
    browser = await dashboard.browser()
    browser.set_cookie(cookies.SESSION, "no-such-session")
    response = await browser.get("/auth/login")
    [cleared] = set_cookies(response, cookies.SESSION)
    assert_host_cookie(cleared, cookies.SESSION)
    assert cleared["max-age"] == "0"
