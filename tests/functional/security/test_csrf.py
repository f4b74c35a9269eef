"""CSRF: every unsafe method of every dashboard route, found by walking the live application.

A route added tomorrow is covered without anyone editing this file: the enumeration is the point.
Each request is made as the owner of a real project with real ids in the path, so only the token
stands between the request and its effect; the whole database and the outbox must be unchanged
after every refusal.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from tests.support.dashboard import PASSWORD, Browser, Dashboard, ProjectWorld
from tests.support.processes import Upstream
from tests.support.routes import UNSAFE, Target, opaque_mounts, routes
from xerotier.accounts import auth, email_tokens
from xerotier.accounts.models import TokenPurpose, User
from xerotier.web.session_middleware import CSRF_EXEMPT

# Routes allowed to skip CSRF, each with the reason a reviewer accepted. Must match CSRF_EXEMPT.
REVIEWED_EXEMPTIONS: dict[str, str] = {}
# Mounted sub-applications whose routes cannot be listed; each must be reviewed by hand.
REVIEWED_MOUNTS = {"/static": "StaticFiles: GET and HEAD only (POST answers 405)"}
# Unsafe routes that exist today: the walk must find at least these (a broken walk must not pass).
KNOWN = {
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/register"),
    ("POST", "/auth/verify"),
    ("POST", "/auth/resend-verification"),
    ("POST", "/auth/forgot-password"),
    ("POST", "/auth/reset-password"),
    ("POST", "/auth/setup"),
    ("POST", "/account/password"),
    ("POST", "/account/sessions/{session_id}/revoke"),
    ("DELETE", "/api/account/sessions/{session_id}"),
    ("POST", "/projects"),
}
NEW_PASSWORD = "a brand new passphrase 77"


def unsafe_targets(web: FastAPI) -> list[Target]:
    return routes(web, UNSAFE)


@dataclass
class World:
    dash: Dashboard
    owner: User
    attacker: User
    member: User
    unverified: User
    project: ProjectWorld
    counter: int = 0

    async def path_values(self, *, fresh_project: bool = False) -> dict[str, str]:
        """Real ids for path parameters; the session is a fresh live one of the owner's.

        ``fresh_project``: a new project (endpoint, key, member, invitation) for this request alone,
        for requests that really happen and would use up the shared one."""
        _browser, row = await self.dash.session_for(self.owner, ip="198.51.100.99")
        project = self.project
        if fresh_project:
            self.counter += 1
            project = await self.dash.create_project(
                self.owner,
                f"project-{self.counter}",
                member=self.member,
                invite=f"i{self.counter}@example.com",
            )
        values = {
            "session_id": str(row.id),
            "project_id": project.id,
            "key_id": project.key_id,
            "slug": project.endpoint,
            "endpoint": project.endpoint,
            "endpoint_slug": project.endpoint,
        }
        if project.member_id is not None:
            values["user_id"] = values["member_id"] = str(project.member_id)
        if project.invitation_id is not None:
            values["invitation_id"] = str(project.invitation_id)
        return values

    async def body_for(self, target: Target) -> dict[str, Any]:
        """A body that would succeed: real tokens, the owner's password, fresh names."""
        self.counter += 1
        n = self.counter
        names, is_form = target.body_fields()
        async with self.dash.db() as db:
            now = self.dash.clock()
            values: dict[str, Any] = {
                "email": f"someone-{n}@example.com",
                "password": NEW_PASSWORD,
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "name": f"Name {n}",
                "slug": f"fresh-{n}",
                "role": "member",
                "next": "/account",
                "environment": "development",
                "expires_in": "never" if is_form else None,
                "endpoint": "" if is_form else None,
                "allowed_ips": "" if is_form else [],
                "upstream_url": "http://127.0.0.1:9/v1",
                "upstream_model": "" if is_form else None,
                "upstream_key": "" if is_form else None,
                "clear_upstream_key": "",
                "rpm": "60",
                "tpm": "",
                "rpm_limit": 60,
                "tpm_limit": None,
                "active": True,
            }
            if target.template == "/auth/login":
                values["email"] = self.owner.email
                values["password"] = PASSWORD
            elif target.template == "/auth/forgot-password":
                values["email"] = self.owner.email
            elif target.template == "/auth/reset-password":
                values["token"] = await email_tokens.issue(
                    db, user_id=self.owner.id, purpose=TokenPurpose.RESET_PASSWORD, now=now
                )
            elif target.template == "/auth/verify":
                values["token"] = await email_tokens.issue(
                    db, user_id=self.unverified.id, purpose=TokenPurpose.VERIFY_EMAIL, now=now
                )
            elif target.template == "/auth/setup":
                values["token"] = await auth.issue_first_admin_token(db, now=now)
        return {name: values.get(name, f"value-{n}") for name in names}


async def build_world(dash: Dashboard) -> World:
    owner = await dash.create_user("owner@example.com")
    attacker = await dash.create_user("mallory@example.com", password=None)
    member = await dash.create_user("member@example.com", password=None)
    unverified = await dash.create_user("unverified@example.com", password=None, verified=False)
    project = await dash.create_project(owner, "alpha", member=member, invite="invited@example.com")
    return World(dash, owner, attacker, member, unverified, project)


def fill(target: Target, values: Mapping[str, str]) -> str:
    known = {**{name: "1" for name in target.int_params}, **values}
    return target.fill(known, default=values["project_id"])


async def send(
    browser: Browser,
    target: Target,
    path: str,
    body: Mapping[str, Any],
    *,
    header: str | None = None,
    field: str | None = None,
    query: str | None = None,
) -> httpx.Response:
    """The request a page (form) or the dashboard's JavaScript (header) would make."""
    headers = {"accept": "application/json" if target.is_api else "text/html,application/xhtml+xml"}
    if header is not None:
        headers["x-csrf-token"] = header
    if query is not None:
        path += ("&" if "?" in path else "?") + urlencode({"csrf_token": query})
    _names, is_form = target.body_fields()
    if field is not None or is_form:
        data = dict(body)
        if field is not None:
            data["csrf_token"] = field
        return await browser.client.request(target.method, path, data=data or None, headers=headers)
    return await browser.client.request(target.method, path, json=dict(body), headers=headers)


def describe(response: httpx.Response) -> str:
    title = re.search(r"<title>(.*?)</title>", response.text, re.S)
    summary = title.group(1).strip() if title else response.text[:120]
    return f"{response.status_code} {summary!r}"


def refused_for_csrf(response: httpx.Response) -> bool:
    return response.status_code == 403 and "csrf" in response.text.lower()


async def bad_tokens(dash: Dashboard, world: World, victim: Browser, *, signed_in: bool) -> dict[str, str]:
    attacker, _ = await dash.session_for(world.attacker)
    stranger = await dash.browser(ip="198.51.100.5")
    await stranger.load_token()
    tokens = {
        "empty": "",
        "wrong": secrets.token_hex(32),
        "truncated": victim.csrf[:-1],
        "attacker's session": attacker.csrf,
        "another browser's pre-session": stranger.csrf,
    }
    if signed_in:
        other, _ = await dash.session_for(world.owner)
        tokens["the same user's other session"] = other.csrf
    assert victim.csrf not in tokens.values()
    return tokens


def test_the_walk_finds_every_known_unsafe_route(dashboard: Dashboard) -> None:
    found = {(t.method, t.template) for t in unsafe_targets(dashboard.web)}
    assert found >= KNOWN, f"the route walk missed {KNOWN - found}"


def test_unwalkable_mounts_and_exemptions_are_reviewed(dashboard: Dashboard) -> None:
    assert set(opaque_mounts(dashboard.web)) <= set(REVIEWED_MOUNTS), (
        "a mounted sub-application cannot be enumerated; check its unsafe methods for CSRF and list it"
    )
    assert set(CSRF_EXEMPT) <= set(REVIEWED_EXEMPTIONS), f"unreviewed CSRF exemptions: {CSRF_EXEMPT}"


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in-owner", "anonymous-visitor"])
async def test_every_unsafe_route_refuses_missing_wrong_and_foreign_tokens(
    dashboard: Dashboard, signed_in: bool
) -> None:
    world = await build_world(dashboard)
    victim = await dashboard.browser()
    await victim.load_token()
    pre_sign_in_token = victim.csrf
    if signed_in:
        response = await dashboard.sign_in(victim, world.owner.email)
        assert response.status_code == 303, response.text
        await victim.load_token()
    tokens = await bad_tokens(dashboard, world, victim, signed_in=signed_in)
    if signed_in:
        tokens["the same browser's pre-sign-in token"] = pre_sign_in_token
    no_cookies = await dashboard.browser(ip="198.51.100.6")

    failures: list[str] = []
    targets = unsafe_targets(dashboard.web)
    for target in targets:
        path = fill(target, await world.path_values())
        body = await world.body_for(target)
        before, mails_before = await dashboard.snapshot(), len(await dashboard.mails())

        attempts: list[tuple[str, Browser, dict[str, Any]]] = [("no token", victim, {})]
        for name, token in tokens.items():
            attempts.append((f"{name} in X-CSRF-Token", victim, {"header": token}))
            attempts.append((f"{name} in the csrf_token field", victim, {"field": token}))
        attempts.append(
            ("wrong header, right field", victim, {"header": tokens["wrong"], "field": victim.csrf})
        )
        attempts.append(("the right token in the query string", victim, {"query": victim.csrf}))
        attempts.append(("a browser without cookies", no_cookies, {"field": tokens["attacker's session"]}))

        for case, browser, channel in attempts:
            response = await send(browser, target, path, body, **channel)
            if not refused_for_csrf(response):
                failures.append(f"{target.label} [{case}] → {describe(response)}")
            elif response.headers.get("location"):
                failures.append(f"{target.label} [{case}] refused but redirects")
        if await dashboard.snapshot() != before:
            failures.append(f"{target.label}: the database changed although every request was refused")
        if len(await dashboard.mails()) != mails_before:
            failures.append(f"{target.label}: mail was sent although every request was refused")

    assert not failures, "\n".join(failures)
    assert signed_in is False or await victim.is_signed_in()


def _success_order(target: Target) -> int:
    # Password changes must come after sign-in (it uses the old password); logout ends the session.
    return {"/account/password": 1, "/auth/reset-password": 2, "/auth/logout": 3}.get(target.template, 0)


# What a valid token gets from today's routes (a future route only has to get past CSRF).
EXPECTED_SUCCESS = {
    ("POST", "/auth/login"): 303,
    ("POST", "/auth/logout"): 303,
    ("POST", "/auth/register"): 200,
    ("POST", "/auth/verify"): 200,
    ("POST", "/auth/resend-verification"): 200,
    ("POST", "/auth/forgot-password"): 200,
    ("POST", "/auth/reset-password"): 200,
    ("POST", "/auth/setup"): 303,  # no administrator in this world yet: the set-up link works
    ("POST", "/account/password"): 200,
    ("POST", "/account/sessions/{session_id}/revoke"): 303,
    ("DELETE", "/api/account/sessions/{session_id}"): 204,
    ("POST", "/projects"): 303,
}


async def test_the_right_token_lets_every_unsafe_route_through(dashboard: Dashboard) -> None:
    """The control experiment: the refusals above are the token's doing, not the request's."""
    world = await build_world(dashboard)
    failures: list[str] = []
    for target in sorted(unsafe_targets(dashboard.web), key=_success_order):
        browser, _row = await dashboard.session_for(world.owner)
        path = fill(target, await world.path_values(fresh_project=True))
        body = await world.body_for(target)
        channel = {"header": browser.csrf} if target.is_api else {"field": browser.csrf}
        response = await send(browser, target, path, body, **channel)
        expected = EXPECTED_SUCCESS.get((target.method, target.template))
        if refused_for_csrf(response):
            failures.append(f"{target.label} refused with the right token: {response.text[:200]!r}")
        elif expected is not None and response.status_code != expected:
            failures.append(f"{target.label} → {describe(response)}, expected {expected}")
        elif response.status_code >= 500:
            failures.append(f"{target.label} → {describe(response)}")
    assert not failures, "\n".join(failures)


async def test_json_api_takes_the_token_from_the_header_only(dashboard: Dashboard) -> None:
    owner = await dashboard.create_user("owner@example.com")
    browser, _ = await dashboard.session_for(owner)
    _other, second = await dashboard.session_for(owner)
    _third, third = await dashboard.session_for(owner)

    in_body = await browser.api(
        "DELETE", f"/api/account/sessions/{second.id}", json={"csrf_token": browser.csrf}, token=None
    )
    assert in_body.status_code == 403
    assert in_body.json()["error"]["code"] == "csrf_failed"

    ok = await browser.api("DELETE", f"/api/account/sessions/{second.id}")
    assert ok.status_code == 204, ok.text
    listed = await browser.client.get("/api/account/sessions")
    assert {s["id"] for s in listed.json()} == {third.id, (await _current_id(browser))}


async def _current_id(browser: Browser) -> int:
    listed = (await browser.client.get("/api/account/sessions")).json()
    return next(s["id"] for s in listed if s["current"])


async def test_forms_take_the_token_from_the_hidden_field(dashboard: Dashboard) -> None:
    owner = await dashboard.create_user("owner@example.com")
    browser, _ = await dashboard.session_for(owner)
    other, row = await dashboard.session_for(owner)

    page = await browser.get("/account")
    assert f'name="csrf_token" value="{browser.csrf}"' in page.text
    response = await browser.submit(f"/account/sessions/{row.id}/revoke")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    assert not await other.is_signed_in()


async def test_the_token_rotates_with_the_session(dashboard: Dashboard) -> None:
    owner = await dashboard.create_user("owner@example.com")
    browser = await dashboard.browser()
    anonymous_token = await browser.load_token()

    assert (await dashboard.sign_in(browser, owner.email)).status_code == 303
    first_session_token = await browser.load_token()
    assert first_session_token != anonymous_token

    # The token of the anonymous page does not carry over into the session.
    stale = await browser.api("DELETE", "/api/account/sessions/1", token=anonymous_token)
    assert refused_for_csrf(stale)

    logout = await browser.submit("/auth/logout", token=first_session_token)
    assert logout.status_code == 303
    after_logout = await browser.load_token()
    assert after_logout not in (first_session_token, anonymous_token)

    assert (await dashboard.sign_in(browser, owner.email)).status_code == 303
    second_session_token = await browser.load_token()
    assert second_session_token not in (first_session_token, anonymous_token, after_logout)
    replay = await browser.submit(
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=first_session_token,
    )
    assert refused_for_csrf(replay)


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/auth/login", {"email": "mallory@example.com", "password": PASSWORD}),
        ("/auth/register", {"email": "victim-made@example.com", "password": NEW_PASSWORD}),
        ("/auth/forgot-password", {"email": "owner@example.com"}),
        ("/auth/reset-password", {"token": "will-be-replaced", "password": NEW_PASSWORD}),
    ],
    ids=["login", "register", "forgot-password", "reset-password"],
)
async def test_pre_session_forms_refuse_a_token_from_another_browser(
    dashboard: Dashboard, path: str, fields: dict[str, str]
) -> None:
    """Login CSRF and friends: the attacker's own (valid for them) token does not work for the victim."""
    owner = await dashboard.create_user("owner@example.com")
    await dashboard.create_user("mallory@example.com")
    if path == "/auth/reset-password":
        async with dashboard.db() as db:
            fields = {
                **fields,
                "token": await email_tokens.issue(
                    db, user_id=owner.id, purpose=TokenPurpose.RESET_PASSWORD, now=dashboard.clock()
                ),
            }
    attacker = await dashboard.browser(ip="198.51.100.66")
    attacker_token = await attacker.load_token()
    victim = await dashboard.browser()
    await victim.load_token()
    assert victim.csrf != attacker_token
    before = await dashboard.snapshot()

    response = await victim.submit(path, fields, token=attacker_token)
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert response.headers.get("location") is None
    assert not await victim.is_signed_in()
    assert await dashboard.snapshot() == before
    assert await dashboard.mails() == []

    # The same form with the victim's own token goes through (the refusal was about the token).
    response = await victim.submit(path, fields)
    assert not refused_for_csrf(response)


async def test_the_inference_api_needs_no_csrf_token(dashboard: Dashboard, upstream: Upstream) -> None:
    owner = await dashboard.create_user("owner@example.com")
    project = await dashboard.create_project(owner, "alpha", upstream_url=upstream.base_url)
    browser, _ = await dashboard.session_for(owner)  # session cookies present, no token sent
    response = await browser.client.post(
        f"/{project.id}/{project.endpoint}/v1/chat/completions",
        headers={"authorization": f"Bearer {project.key}"},
        json={"model": "x", "messages": [{"role": "user", "content": "hello"}]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
