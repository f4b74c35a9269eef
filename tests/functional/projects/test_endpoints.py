"""Endpoints from the dashboard: create, edit (write-only upstream key), deactivate — pages and API."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from starlette.types import Message, Receive, Scope, Send

from tests.functional.projects.conftest import BASE, UPSTREAM, Harness, add_endpoint
from xerotier.audit.models import AuditAction, AuditEvent
from xerotier.projects.models import Endpoint

SECRET = "sk-upstream-very-secret-123"


async def _endpoint(h: Harness, slug: str = "chat") -> Endpoint:
    async with h.sessions() as session:
        endpoint = await session.scalar(select(Endpoint).where(Endpoint.slug == slug))
    assert endpoint is not None
    return endpoint


async def test_owner_creates_and_edits_an_endpoint_on_the_page(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await add_endpoint(owner, pid, upstream_model="llama-3", upstream_key=SECRET, rpm="60", tpm="")

    page = await owner.get(f"/projects/{pid}?done=endpoint-created")
    assert "Endpoint created." in page.text
    assert f"https://testserver/{pid}/chat/v1" in page.text
    assert '<td data-label="Upstream key">set</td>' in page.text and SECRET not in page.text
    stored = await _endpoint(harness)
    assert stored.upstream_model == "llama-3" and stored.rpm_limit == 60 and stored.tpm_limit is None
    assert stored.upstream_key_encrypted and SECRET not in stored.upstream_key_encrypted

    edit = await owner.get(f"/projects/{pid}/endpoints/chat")
    assert edit.status_code == 200
    assert "Upstream API key: set" in edit.text and SECRET not in edit.text
    # A new host with the stored key kept is refused: the key would be sent to a server it was not
    # entered for (an owner could read a write-only key that way).
    refused = await owner.post(
        f"/projects/{pid}/endpoints/chat",
        {"upstream_url": "https://models.example.com/v1/", "upstream_model": "", "rpm": "", "tpm": "5000"},
    )
    assert refused.status_code == 400 and "upstream API key again" in refused.text
    assert (await _endpoint(harness)).upstream_url == stored.upstream_url
    saved = await owner.post(
        f"/projects/{pid}/endpoints/chat",
        {"upstream_url": stored.upstream_url + "/", "upstream_model": "", "rpm": "", "tpm": "5000"},
    )
    assert saved.status_code == 303
    stored_after = await _endpoint(harness)
    assert stored_after.upstream_url == stored.upstream_url
    assert stored_after.upstream_model is None and stored_after.rpm_limit is None
    assert stored_after.tpm_limit == 5000
    assert stored_after.upstream_key_encrypted == stored.upstream_key_encrypted  # empty field: kept
    moved = await owner.post(
        f"/projects/{pid}/endpoints/chat",
        {"upstream_url": "https://models.example.com/v1", "upstream_key": "sk-new-host-key-000"},
    )
    assert moved.status_code == 303
    assert (await _endpoint(harness)).upstream_url == "https://models.example.com/v1"

    cleared = await owner.post(
        f"/projects/{pid}/endpoints/chat",
        {"upstream_url": "https://models.example.com/v1", "clear_upstream_key": "1"},
    )
    assert cleared.status_code == 303
    assert (await _endpoint(harness)).upstream_key_encrypted is None
    assert '<td data-label="Upstream key">not set</td>' in (await owner.get(f"/projects/{pid}")).text

    async with harness.sessions() as session:
        rows = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == AuditAction.ENDPOINT_UPDATE))
        ).all()
    assert len(rows) == 3
    assert '"upstream_key":"set"' in (rows[1].details or "")
    assert '"upstream_key":"cleared"' in (rows[2].details or "")
    assert all(SECRET not in (r.details or "") for r in rows)


async def test_deactivate_and_activate(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await add_endpoint(owner, pid)
    page = await owner.get(f"/projects/{pid}")
    assert f'action="/projects/{pid}/endpoints/chat/deactivate" data-confirm=' in page.text

    response = await owner.post(f"/projects/{pid}/endpoints/chat/deactivate")
    assert response.status_code == 303
    assert not (await _endpoint(harness)).is_active
    page = await owner.get(response.headers["location"])
    assert "Endpoint deactivated" in page.text and '<span class="badge off">inactive</span>' in page.text

    assert (await owner.post(f"/projects/{pid}/endpoints/chat/activate")).status_code == 303
    assert (await _endpoint(harness)).is_active
    patched = await owner.api("PATCH", f"/api/projects/{pid}/endpoints/chat", {"active": False})
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert (await owner.post(f"/projects/{pid}/endpoints/nope/activate")).status_code == 404


async def test_endpoint_api(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    created = await owner.api(
        "POST",
        f"/api/projects/{pid}/endpoints",
        {"slug": "embed", "upstream_url": UPSTREAM, "upstream_key": SECRET, "rpm_limit": 10},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["base_url"] == f"https://testserver/{pid}/embed/v1"
    assert body["has_upstream_key"] is True and "upstream_key" not in body and SECRET not in created.text
    assert body["rpm_limit"] == 10 and body["tpm_limit"] is None and body["active"] is True

    patched = await owner.api(
        "PATCH",
        f"/api/projects/{pid}/endpoints/embed",
        {"upstream_model": "bge", "upstream_key": None, "rpm_limit": None, "tpm_limit": 100},
    )
    assert patched.status_code == 200, patched.text
    after = patched.json()
    assert after["upstream_model"] == "bge" and after["has_upstream_key"] is False
    assert after["rpm_limit"] is None and after["tpm_limit"] == 100 and after["upstream_url"] == UPSTREAM

    unchanged = await owner.api("PATCH", f"/api/projects/{pid}/endpoints/embed", {})
    assert unchanged.json() == after
    listed = await owner.api("GET", f"/api/projects/{pid}/endpoints")
    assert [e["slug"] for e in listed.json()] == ["embed"]
    assert (await owner.api("GET", f"/api/projects/{pid}/endpoints/embed")).json() == after
    assert (await owner.api("GET", f"/api/projects/{pid}/endpoints/nope")).status_code == 404
    missing = await owner.api("PATCH", f"/api/projects/{pid}/endpoints/nope", {"tpm_limit": 1})
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "endpoint"


async def test_bad_endpoint_inputs_change_nothing(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await add_endpoint(owner, pid)
    before = await _endpoint(harness)
    url = f"/api/projects/{pid}/endpoints"
    for body, status, param in [
        ({"slug": "chat", "upstream_url": UPSTREAM}, 409, "slug"),
        ({"slug": "Bad_Slug", "upstream_url": UPSTREAM}, 400, "slug"),
        ({"slug": "x", "upstream_url": "ftp://host/v1"}, 400, "upstream_url"),
        ({"slug": "x", "upstream_url": "http://user:pw@host/v1"}, 400, "upstream_url"),
        ({"slug": "x", "upstream_url": "http://host:99999/v1"}, 400, "upstream_url"),
        ({"slug": "x", "upstream_url": "not a url"}, 400, "upstream_url"),
        ({"slug": "x", "upstream_url": "http://h/" + "a" * 2050}, 400, "upstream_url"),
        ({"slug": "x", "upstream_url": UPSTREAM, "rpm_limit": 0}, 400, "rpm_limit"),
        ({"slug": "x", "upstream_url": UPSTREAM, "rpm_limit": "10"}, 400, "rpm_limit"),
        ({"slug": "x", "upstream_url": UPSTREAM, "tpm_limit": 10**12}, 400, "tpm_limit"),
        ({"slug": "x", "upstream_url": UPSTREAM, "upstream_key": "a\nb"}, 400, "upstream_key"),
        ({"slug": "x" * 41, "upstream_url": UPSTREAM}, 400, "slug"),
        ({"slug": "x", "upstream_url": UPSTREAM, "extra": 1}, 400, "extra"),
    ]:
        response = await owner.api("POST", url, body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["param"] == param, (body, response.json())
    for body, param in [
        ({"upstream_url": None}, "upstream_url"),
        ({"active": None}, "active"),
        ({"active": "yes"}, "active"),
        ({"upstream_url": "javascript:alert(1)"}, "upstream_url"),
        ({"rpm_limit": -1}, "rpm_limit"),
        ({"slug": "renamed"}, "slug"),
    ]:
        response = await owner.api("PATCH", f"{url}/chat", body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param, (body, response.json())
    malformed = await owner.api("PATCH", f"{url}/chat", raw=b"{nope")
    assert malformed.status_code == 400 and malformed.json()["error"]["type"] == "invalid_request_error"

    for fields, message in [
        ({"slug": "chat", "upstream_url": UPSTREAM}, "already exists"),
        ({"slug": "-x", "upstream_url": UPSTREAM}, "slug must be"),
        ({"slug": "x", "upstream_url": "ftp://x"}, "upstream URL must be an http(s) URL"),
        ({"slug": "x", "upstream_url": UPSTREAM, "rpm": "ten"}, "rpm must be a whole number"),
        ({"slug": "x", "upstream_url": UPSTREAM, "tpm": "-5"}, "tpm must be a whole number"),
    ]:
        page = await owner.post(f"/projects/{pid}/endpoints", fields)
        assert page.status_code in (400, 409), fields
        assert message in page.text, fields
    edit = await owner.post(f"/projects/{pid}/endpoints/chat", {"upstream_url": "nope", "rpm": "3"})
    assert edit.status_code == 400 and "upstream URL must be" in edit.text
    both = await owner.post(
        f"/projects/{pid}/endpoints/chat",
        {"upstream_url": UPSTREAM, "upstream_key": "k", "clear_upstream_key": "1"},
    )
    assert both.status_code == 400 and "not both" in both.text
    assert await harness.count(Endpoint) == 1
    after = await _endpoint(harness)
    assert (after.upstream_url, after.rpm_limit, after.updated_at) == (
        before.upstream_url,
        before.rpm_limit,
        before.updated_at,
    )


async def test_member_cannot_change_endpoints(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await add_endpoint(owner, pid)
    await harness.user("member@example.com")
    await owner.api("POST", f"/api/projects/{pid}/members", {"email": "member@example.com"})
    member = await harness.login("member@example.com")
    body = {"slug": "x", "upstream_url": UPSTREAM}
    assert (await member.api("POST", f"/api/projects/{pid}/endpoints", body)).status_code == 403
    assert (
        await member.api("PATCH", f"/api/projects/{pid}/endpoints/chat", {"active": False})
    ).status_code == 403
    assert (await member.post(f"/projects/{pid}/endpoints", body)).status_code == 403
    assert (await member.post(f"/projects/{pid}/endpoints/chat/deactivate")).status_code == 403
    assert (await member.get(f"/projects/{pid}/endpoints/chat")).status_code == 403
    assert (await member.api("GET", f"/api/projects/{pid}/endpoints")).status_code == 200
    assert (await _endpoint(harness)).is_active and await harness.count(Endpoint) == 1


async def test_changes_are_committed_before_the_response_starts(harness: Harness) -> None:
    """A browser following the 303, or a script's next call, must already see the change."""
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    seen: list[int] = []

    async def probe(scope: Scope, receive: Receive, send: Send) -> None:
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen.append(await harness.count(Endpoint))
            await send(message)

        await harness.app(scope, receive, watch)

    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, cookies=owner.client.cookies) as client:
        api = await client.post(
            f"/api/projects/{pid}/endpoints",
            json={"slug": "one", "upstream_url": UPSTREAM},
            headers={"x-csrf-token": owner.csrf},
        )
        page = await client.post(
            f"/projects/{pid}/endpoints",
            data={"slug": "two", "upstream_url": UPSTREAM, "csrf_token": owner.csrf},
        )
    assert (api.status_code, page.status_code) == (201, 303)
    assert seen == [1, 2]
