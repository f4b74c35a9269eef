"""Projects: list, create, the project page and the OpenAPI description of the project API."""

from __future__ import annotations

import pytest

from tests.conftest import DATABASES
from tests.functional.projects.conftest import Harness, add_endpoint, add_key
from xerotier.projects.models import Project


async def test_create_project_on_the_page_and_see_it(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner, "alpha", "Alpha & Co")
    listed = await owner.get("/projects")
    assert f'<a href="/projects/{pid}">Alpha &amp; Co</a>' in listed.text

    page = await owner.get(f"/projects/{pid}")
    html = page.text
    assert page.status_code == 200
    for section in ('id="endpoints"', 'id="keys"', 'id="members"', f'href="/projects/{pid}/usage"'):
        assert section in html
    assert "create-and-swap" in html and "development, staging or production" in html
    for control in ("New endpoint", "New API key", "Invite someone"):
        assert control in html
    assert " style=" not in html and "<script>" not in html


async def test_project_form_errors(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    await harness.project(owner, "alpha")
    taken = await owner.post("/projects", {"name": "Again", "slug": "alpha"})
    assert taken.status_code == 409 and "is taken" in taken.text and 'value="Again"' in taken.text
    bad = await owner.post("/projects", {"name": "X", "slug": "Not Valid!"})
    assert bad.status_code == 400 and "slug must be" in bad.text
    empty = await owner.post("/projects", {"name": "", "slug": "ok"})
    assert empty.status_code == 400 and "name must be 1-200 characters" in empty.text
    assert await harness.count(Project) == 1


@pytest.mark.parametrize("database", DATABASES)
async def test_project_api(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    created = await owner.api("POST", "/api/projects", {"name": "Beta", "slug": "beta"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("proj_") and body["role"] == "owner" and body["slug"] == "beta"
    assert (await owner.api("GET", f"/api/projects/{body['id']}")).json() == body
    assert (await owner.api("GET", "/api/projects")).json() == [body]
    await add_endpoint(owner, body["id"])
    await add_key(owner, body["id"])

    for payload in (
        {"name": "B", "slug": "beta"},
        {"name": "B", "slug": "UPPER"},
        {"name": "B"},
        {"slug": 1},
    ):
        response = await owner.api("POST", "/api/projects", payload)
        assert response.status_code in (400, 409), payload
    assert (await owner.api("GET", "/api/projects/proj_unknown")).status_code == 404
    no_csrf = await owner.client.post("/api/projects", json={"name": "C", "slug": "c"})
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
    anonymous = harness.browser()
    assert (await anonymous.api("GET", "/api/projects")).status_code == 401
    assert (await anonymous.get(f"/projects/{body['id']}")).status_code == 303
    assert await harness.count(Project) == 1


async def test_notices_come_from_a_fixed_list(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    assert "Endpoint saved." in (await owner.get(f"/projects/{pid}?done=endpoint-updated")).text
    crafted = await owner.get(f"/projects/{pid}?done=Your+account+is+locked")
    assert crafted.status_code == 200 and "account is locked" not in crafted.text


async def test_unverified_users_see_no_projects(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await harness.user("pending@example.com", verified=False)
    await owner.api("POST", f"/api/projects/{pid}/members", {"email": "pending@example.com"})
    pending = await harness.login("pending@example.com")
    listed = await pending.get("/projects")
    assert pid not in listed.text and "once your email address is verified" in listed.text
    assert (await pending.api("GET", "/api/projects")).status_code == 403


async def test_openapi_documents_the_project_api(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    spec = (await owner.client.get("/api/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        "/api/projects": {"get", "post"},
        "/api/projects/{project_id}": {"get"},
        "/api/projects/{project_id}/endpoints": {"get", "post"},
        "/api/projects/{project_id}/endpoints/{slug}": {"get", "patch"},
        "/api/projects/{project_id}/keys": {"get", "post"},
        "/api/projects/{project_id}/keys/{key_id}": {"get", "delete"},
        "/api/projects/{project_id}/members": {"get", "post"},
        "/api/projects/{project_id}/members/{user_id}": {"patch", "delete"},
        "/api/projects/{project_id}/invitations/{invitation_id}": {"delete"},
        "/api/projects/{project_id}/usage/series": {"get"},
        "/api/projects/{project_id}/usage/recent": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        assert all(paths[path][m]["tags"] == ["projects"] for m in methods)
    schemas = spec["components"]["schemas"]
    assert "key" in schemas["KeyCreated"]["properties"] and "key" not in schemas["KeyOut"]["properties"]
    assert "upstream_key" not in schemas["EndpointOut"]["properties"]
    assert schemas["KeyCreate"]["additionalProperties"] is False
    assert not any(p.startswith("/projects") for p in paths)  # pages stay out of the API description
