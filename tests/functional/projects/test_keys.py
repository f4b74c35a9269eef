"""API keys from the dashboard: shown once, stored as a digest, revoked immediately, owners only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import DATABASES
from tests.functional.projects.conftest import (
    KEY_RE,
    Harness,
    add_endpoint,
    add_key,
    call_gateway,
)
from xerotier.audit.models import AuditAction, AuditEvent
from xerotier.projects.models import ApiKey


def _database_bytes(h: Harness) -> bytes:
    path = Path(h.settings.sqlite_path)
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_key_created_on_the_page_is_shown_once_and_never_stored(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await add_endpoint(owner, pid)

    response = await owner.post(
        f"/projects/{pid}/keys",
        {
            "name": "billing",
            "environment": "production",
            "expires_in": "30d",
            "endpoint": "chat",
            "allowed_ips": "10.0.0.0/8\n192.0.2.7, 2001:db8::/32",
        },
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    secret = KEY_RE.search(html)
    assert secret is not None
    key = secret.group(0)
    assert f'<code id="new-key" class="secret" aria-labelledby="new-key-label">{key}</code>' in html
    assert '<button type="button" data-copy="new-key">Copy</button>' in html
    assert "will not be shown again" in html
    assert html.count(key) == 1  # not in the code sample, not in a link

    page = await owner.get(f"/projects/{pid}")
    assert key not in page.text
    record = (await owner.api("GET", f"/api/projects/{pid}/keys")).json()[0]
    assert record["prefix"] in page.text and key.startswith(record["prefix"])
    assert record["environment"] == "production"
    assert record["endpoint"] == "chat"
    assert record["allowed_ips"] == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]
    expected_expiry = harness.clock.now + timedelta(days=30)
    assert record["expires_at"] == expected_expiry.isoformat().replace("+00:00", "Z")
    assert "key" not in record

    token = key.rsplit("_", 1)[1]
    stored = _database_bytes(harness)
    assert key.encode() not in stored and token.encode() not in stored
    async with harness.sessions() as session:
        audit = (await session.scalars(select(AuditEvent.details))).all()
    assert not any(token in (d or "") for d in audit)


async def test_key_created_by_api_returns_the_key_once(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    response = await owner.api(
        "POST", f"/api/projects/{pid}/keys", {"name": "ci", "environment": "staging", "expires_in": "7d"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert KEY_RE.fullmatch(body["key"])
    assert body["status"] == "active" and body["environment"] == "staging"
    assert body["endpoint"] is None and body["allowed_ips"] == []
    listed = await owner.api("GET", f"/api/projects/{pid}/keys/{body['id']}")
    assert listed.status_code == 200
    assert "key" not in listed.json()
    assert body["key"] not in (await owner.get(f"/projects/{pid}")).text
    assert body["key"].encode() not in _database_bytes(harness)


async def test_revoke_on_the_page_is_refused_by_the_gateway_at_once(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await add_endpoint(owner, pid)
    key_id, key = await add_key(owner, pid)
    # The gateway has verified (and cached) the key; no poll will tell it about the revocation.
    assert (await call_gateway(harness, pid, key, "chat/v1/models")).status_code == 200

    page = await owner.get(f"/projects/{pid}")
    assert f'action="/projects/{pid}/keys/{key_id}/revoke" data-confirm="Revoke the key svc' in page.text
    response = await owner.post(f"/projects/{pid}/keys/{key_id}/revoke")
    assert response.status_code == 303
    assert response.headers["location"] == f"/projects/{pid}?done=key-revoked#keys"

    refused = await call_gateway(harness, pid, key)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
    assert refused.json()["error"]["code"] == "invalid_api_key"
    page = await owner.get(response.headers["location"])
    assert "API key revoked" in page.text
    assert f'action="/projects/{pid}/keys/{key_id}/revoke"' not in page.text
    assert '<span class="badge off">revoked</span>' in page.text


@pytest.mark.parametrize("database", DATABASES)
async def test_revoke_by_api_is_immediate_and_idempotent(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await add_endpoint(owner, pid)
    created = (await owner.api("POST", f"/api/projects/{pid}/keys", {"name": "worker"})).json()
    assert (await call_gateway(harness, pid, created["key"], "chat/v1/models")).status_code == 200

    first = await owner.api("DELETE", f"/api/projects/{pid}/keys/{created['id']}")
    assert first.status_code == 204 and first.content == b""
    refused = await call_gateway(harness, pid, created["key"])
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]

    again = await owner.api("DELETE", f"/api/projects/{pid}/keys/{created['id']}")
    assert again.status_code == 204
    shown = (await owner.api("GET", f"/api/projects/{pid}/keys/{created['id']}")).json()
    assert shown["status"] == "revoked" and shown["revoked_at"] is not None
    async with harness.sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions.count(AuditAction.API_KEY_REVOKE) == 1


async def test_revoking_an_unknown_key_or_a_key_of_another_project_is_404(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    alpha = await harness.project(owner, "alpha")
    beta = await harness.project(owner, "beta", "Beta")
    beta_key, _ = await add_key(owner, beta)

    assert (await owner.api("DELETE", f"/api/projects/{alpha}/keys/key_doesnotexist0000")).status_code == 404
    crossed = await owner.api("DELETE", f"/api/projects/{alpha}/keys/{beta_key}")
    assert crossed.status_code == 404
    assert crossed.json()["error"]["param"] == "key_id"
    assert (await owner.post(f"/projects/{alpha}/keys/{beta_key}/revoke")).status_code == 404
    assert (await owner.api("GET", f"/api/projects/{alpha}/keys/{beta_key}")).status_code == 404
    async with harness.sessions() as session:
        assert await session.scalar(select(ApiKey.revoked_at).where(ApiKey.external_id == beta_key)) is None


async def test_member_cannot_create_or_revoke_keys(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await add_endpoint(owner, pid)
    key_id, _ = await add_key(owner, pid)
    await harness.user("member@example.com")
    invited = await owner.api("POST", f"/api/projects/{pid}/members", {"email": "member@example.com"})
    assert invited.json()["result"] == "added"
    member = await harness.login("member@example.com")

    page = await member.get(f"/projects/{pid}")
    assert page.status_code == 200
    html = page.text
    assert key_id in html  # members see the keys…
    assert f'action="/projects/{pid}/keys"' not in html  # …but get no controls that change them
    assert "/revoke" not in html and "New API key" not in html
    assert f'action="/projects/{pid}/endpoints' not in html and f'action="/projects/{pid}/members' not in html

    create = await member.api("POST", f"/api/projects/{pid}/keys", {"name": "mine"})
    assert create.status_code == 403
    assert create.json()["error"]["code"] == "permission_denied"
    revoke = await member.api("DELETE", f"/api/projects/{pid}/keys/{key_id}")
    assert revoke.status_code == 403
    assert (await member.post(f"/projects/{pid}/keys", {"name": "mine"})).status_code == 403
    assert (await member.post(f"/projects/{pid}/keys/{key_id}/revoke")).status_code == 403
    assert (await member.api("GET", f"/api/projects/{pid}/keys")).status_code == 200
    assert await harness.count(ApiKey) == 1
    async with harness.sessions() as session:
        assert await session.scalar(select(ApiKey.revoked_at)) is None


async def test_non_member_gets_404_everywhere(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    key_id, _ = await add_key(owner, pid)
    stranger = await harness.signed_in("stranger@example.com")

    for path in (f"/projects/{pid}", f"/projects/{pid}/usage", "/projects/proj_0000000000000000"):
        assert (await stranger.get(path)).status_code == 404
    for method, path in (
        ("GET", f"/api/projects/{pid}"),
        ("GET", f"/api/projects/{pid}/keys"),
        ("POST", f"/api/projects/{pid}/keys"),
        ("DELETE", f"/api/projects/{pid}/keys/{key_id}"),
        ("GET", f"/api/projects/{pid}/usage/recent"),
    ):
        body = {"name": "x"} if method == "POST" else None
        response = await stranger.api(method, path, body)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["type"] == "not_found_error"
    assert (await stranger.post(f"/projects/{pid}/keys/{key_id}/revoke")).status_code == 404
    assert await harness.count(ApiKey) == 1


async def test_unverified_user_cannot_create_projects_or_keys(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await harness.user("new@example.com", verified=False)
    assert (
        await owner.api("POST", f"/api/projects/{pid}/members", {"email": "new@example.com"})
    ).status_code == 201
    unverified = await harness.login("new@example.com")

    page = await unverified.post("/projects", {"name": "Mine", "slug": "mine"})
    assert page.status_code == 403
    api = await unverified.api("POST", "/api/projects", {"name": "Mine", "slug": "mine"})
    assert api.status_code == 403 and api.json()["error"]["code"] == "email_not_verified"
    key = await unverified.api("POST", f"/api/projects/{pid}/keys", {"name": "x"})
    assert key.status_code == 403 and key.json()["error"]["code"] == "email_not_verified"
    # Project access waits for the verified address (the membership came from an unproven claim).
    assert (await unverified.get(f"/projects/{pid}")).status_code == 403
    assert await harness.count(ApiKey) == 0


async def test_bad_key_inputs_change_nothing(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await add_endpoint(owner, pid)
    url = f"/api/projects/{pid}/keys"
    cases: list[tuple[object, str | None]] = [
        ({"name": "x", "allowed_ips": ["10.0.0.0/33"]}, "allowed_ips"),
        ({"name": "x", "allowed_ips": ["not-an-ip"]}, "allowed_ips"),
        ({"name": "x", "expires_in": "5x"}, "expires_in"),
        ({"name": "x", "expires_in": "0d"}, "expires_in"),
        ({"name": "x", "environment": "prod"}, "environment"),
        ({"name": "x", "endpoint": "nope"}, "endpoint"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "allowed_ips": "10.0.0.0/8"}, "allowed_ips"),
        ({"name": "x", "allowed_ips": ["10.0.0.1"] * 101}, "allowed_ips"),
        ({"name": "x", "surprise": True}, "surprise"),
        ({}, "name"),
        ([], None),
    ]
    for body, param in cases:
        response = await owner.api("POST", url, body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"]
        if param is not None:
            assert error["param"] == param, (body, error)
    malformed = await owner.api("POST", url, raw=b'{"name": "x",')
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "invalid_request"

    for fields, message in (
        ({"name": "x", "allowed_ips": "10.0.0.0/8\n300.1.1.1"}, "not an IP address or CIDR"),
        ({"name": "x", "expires_in": "5 days"}, "duration must look like"),
        ({"name": "x", "environment": "qa"}, "environment must be one of"),
        ({"name": "x", "endpoint": "missing"}, "no endpoint"),
        ({"name": ""}, "name must be 1-200 characters"),
    ):
        page = await owner.post(f"/projects/{pid}/keys", fields)
        assert page.status_code == 400, fields
        assert message in page.text
        assert 'id="new-key"' not in page.text
        assert '<details class="create" open>' in page.text  # the key form is open with the values kept
    assert await harness.count(ApiKey) == 0
