"""Members: invite (existing users join at once, new addresses when they register), roles, removal."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.functional.projects.conftest import PASSWORD, Harness
from xerotier.projects.models import ProjectInvitation, ProjectMember


async def _roles(h: Harness) -> dict[int, str]:
    async with h.sessions() as session:
        return {m.user_id: m.role for m in (await session.scalars(select(ProjectMember))).all()}


async def test_inviting_an_existing_user_adds_them_at_once(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner, name="Alpha Lab")
    await harness.user("dev@example.com")

    response = await owner.post(f"/projects/{pid}/members", {"email": " Dev@Example.com ", "role": "member"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/projects/{pid}?done=member-added#members"
    page = await owner.get(response.headers["location"])
    assert "added to the project" in page.text and "dev@example.com" in page.text
    mail = await harness.wait_for_mail("dev@example.com", "You were added to Alpha Lab")
    assert f"https://testserver/projects/{pid}" in mail.text and "owner@example.com" in mail.text

    dev = await harness.login("dev@example.com")
    shown = await dev.get(f"/projects/{pid}")
    assert shown.status_code == 200 and 'your role <span class="badge">member</span>' in shown.text
    assert [p["id"] for p in (await dev.api("GET", "/api/projects")).json()] == [pid]
    again = await owner.api("POST", f"/api/projects/{pid}/members", {"email": "dev@example.com"})
    assert again.status_code == 200 and again.json()["result"] == "already"


async def test_a_new_address_is_invited_and_joins_once_verified(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner, name="Alpha Lab")
    invited = await owner.api(
        "POST", f"/api/projects/{pid}/members", {"email": "new@example.com", "role": "owner"}
    )
    assert invited.status_code == 201
    assert invited.json() == {"result": "invited", "email": "new@example.com", "role": "owner"}
    mail = await harness.wait_for_mail("new@example.com", "You were invited to Alpha Lab")
    assert "https://testserver/auth/register" in mail.text

    listed = (await owner.api("GET", f"/api/projects/{pid}/members")).json()
    assert [m["email"] for m in listed["members"]] == ["owner@example.com"]
    assert [(i["email"], i["role"]) for i in listed["invitations"]] == [("new@example.com", "owner")]
    assert "Pending invitations" in (await owner.get(f"/projects/{pid}")).text

    newcomer = harness.browser()
    await newcomer.get("/auth/register")
    registered = await newcomer.post("/auth/register", {"email": "new@example.com", "password": PASSWORD})
    assert registered.status_code == 200
    # Registering an invited address proves nothing: the invitation waits for verification.
    assert await harness.count(ProjectInvitation) == 1
    assert len(await _roles(harness)) == 1

    signed_in = await harness.login("new@example.com")
    assert (await signed_in.get(f"/projects/{pid}")).status_code == 403
    assert (await signed_in.api("GET", f"/api/projects/{pid}")).json()["error"][
        "code"
    ] == "email_not_verified"
    verify = await harness.wait_for_mail("new@example.com", "Verify your email")
    token = re.search(r"token=([A-Za-z0-9_\-]+)", verify.text)
    assert token
    await signed_in.get(f"/auth/verify?token={token.group(1)}")
    assert (await signed_in.post("/auth/verify", {"token": token.group(1)})).status_code == 200
    assert await harness.count(ProjectInvitation) == 0
    assert "owner" in (await _roles(harness)).values()
    project = await signed_in.api("GET", f"/api/projects/{pid}")
    assert project.status_code == 200 and project.json()["role"] == "owner"
    listed = (await owner.api("GET", f"/api/projects/{pid}/members")).json()
    assert sorted(m["email"] for m in listed["members"]) == ["new@example.com", "owner@example.com"]
    assert listed["invitations"] == []


async def test_roles_removal_and_the_last_owner(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    dev_id = await harness.user("dev@example.com")
    await owner.api("POST", f"/api/projects/{pid}/members", {"email": "dev@example.com"})
    assert owner.user_id is not None

    last = await owner.api("PATCH", f"/api/projects/{pid}/members/{owner.user_id}", {"role": "member"})
    assert last.status_code == 400 and "at least one owner" in last.json()["error"]["message"]
    page = await owner.post(f"/projects/{pid}/members/{owner.user_id}/remove")
    assert page.status_code == 400 and "at least one owner" in page.text

    promoted = await owner.api("PATCH", f"/api/projects/{pid}/members/{dev_id}", {"role": "owner"})
    assert promoted.status_code == 200
    assert promoted.json() == {"user_id": dev_id, "email": "dev@example.com", "role": "owner"}
    demoted = await owner.post(f"/projects/{pid}/members/{dev_id}/role", {"role": "member"})
    assert demoted.status_code == 303
    assert (await _roles(harness))[dev_id] == "member"

    removed = await owner.api("DELETE", f"/api/projects/{pid}/members/{dev_id}")
    assert removed.status_code == 204
    assert dev_id not in await _roles(harness)
    assert (await owner.api("DELETE", f"/api/projects/{pid}/members/{dev_id}")).status_code == 404
    assert (
        await owner.api("PATCH", f"/api/projects/{pid}/members/999", {"role": "owner"})
    ).status_code == 404
    dev = await harness.login("dev@example.com")
    assert (await dev.get(f"/projects/{pid}")).status_code == 404


async def test_cancel_invitation(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await owner.post(f"/projects/{pid}/members", {"email": "later@example.com", "role": "member"})
    await owner.api("POST", f"/api/projects/{pid}/members", {"email": "other@example.com"})
    invitations = (await owner.api("GET", f"/api/projects/{pid}/members")).json()["invitations"]
    first, second = (i["id"] for i in invitations)

    page = await owner.get(f"/projects/{pid}")
    assert f'action="/projects/{pid}/invitations/{first}/cancel" data-confirm=' in page.text
    assert (await owner.post(f"/projects/{pid}/invitations/{first}/cancel")).status_code == 303
    assert (await owner.api("DELETE", f"/api/projects/{pid}/invitations/{second}")).status_code == 204
    assert (await owner.api("DELETE", f"/api/projects/{pid}/invitations/{second}")).status_code == 404
    assert await harness.count(ProjectInvitation) == 0


async def test_members_cannot_manage_members(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await harness.user("dev@example.com")
    await owner.api("POST", f"/api/projects/{pid}/members", {"email": "dev@example.com"})
    dev = await harness.login("dev@example.com")
    assert owner.user_id is not None

    page = (await dev.get(f"/projects/{pid}")).text
    assert "Invite someone" not in page and "/remove" not in page and "/role" not in page
    assert (
        await dev.api("POST", f"/api/projects/{pid}/members", {"email": "x@example.com"})
    ).status_code == 403
    assert (await dev.api("DELETE", f"/api/projects/{pid}/members/{owner.user_id}")).status_code == 403
    patch = await dev.api("PATCH", f"/api/projects/{pid}/members/{dev.user_id}", {"role": "owner"})
    assert patch.status_code == 403
    assert (await dev.post(f"/projects/{pid}/members", {"email": "x@example.com"})).status_code == 403
    assert (
        await dev.post(f"/projects/{pid}/members/{dev.user_id}/role", {"role": "owner"})
    ).status_code == 403
    assert (await dev.api("GET", f"/api/projects/{pid}/members")).status_code == 200
    assert await harness.count(ProjectInvitation) == 0
    assert sorted((await _roles(harness)).values()) == ["member", "owner"]


async def test_bad_member_inputs_change_nothing(harness: Harness) -> None:
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    url = f"/api/projects/{pid}/members"
    for body, param in [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b.c", "role": "admin"}, "role"),
        ({"email": "x" * 330 + "@example.com"}, "email"),
        ({"email": ["a@example.com"]}, "email"),
        ({"email": "a@example.com", "extra": 1}, "extra"),
    ]:
        response = await owner.api("POST", url, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param
    assert (await owner.api("POST", url, raw=b"[")).status_code == 400
    assert (await owner.api("PATCH", f"{url}/abc", {"role": "owner"})).status_code == 400
    assert (await owner.api("PATCH", f"{url}/{owner.user_id}", {"role": "boss"})).status_code == 400

    bad_email = await owner.post(f"/projects/{pid}/members", {"email": "nope", "role": "member"})
    assert bad_email.status_code == 400 and "not a valid email address" in bad_email.text
    assert 'value="nope"' in bad_email.text
    bad_role = await owner.post(f"/projects/{pid}/members", {"email": "a@example.com", "role": "admin"})
    assert bad_role.status_code == 400 and "role must be owner or member" in bad_role.text
    assert await harness.count(ProjectInvitation) == 0
    assert len(await _roles(harness)) == 1
    assert harness.mail.sent == [] or all("invited" not in m.subject for m in harness.mail.sent)


async def test_invitations_are_throttled_per_inviter(harness: Harness) -> None:
    """Invites send mail and reveal whether an address has an account: 20 an hour per inviter."""
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    statuses = []
    for n in range(21):
        response = await owner.api(
            "POST", f"/api/projects/{pid}/members", {"email": f"someone{n}@example.com", "role": "member"}
        )
        statuses.append(response.status_code)
    assert statuses[:20] == [201] * 20
    assert statuses[20] == 429
    assert await harness.count(ProjectInvitation) == 20
