"""The project page: endpoints, API keys and members. Members see it all; owners also get the forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xerotier.accounts.models import User
from xerotier.errors import AlreadyExistsError, XerotierError
from xerotier.projects import access, keys, members, service
from xerotier.projects.access import Db, Verified
from xerotier.projects.members import Membership
from xerotier.projects.models import ApiKey, KeyEnvironment, MemberRole
from xerotier.projects.operations import key_status
from xerotier.web.deps import runtime

router = APIRouter(include_in_schema=False)

EXPIRY_CHOICES = [
    ("never", "Never"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("365d", "1 year"),
]
# Messages after a redirect come from this fixed list, so a crafted link cannot put words on the page.
NOTICES = {
    "endpoint-created": "Endpoint created.",
    "endpoint-updated": "Endpoint saved.",
    "endpoint-activated": "Endpoint activated: it serves requests again.",
    "endpoint-deactivated": "Endpoint deactivated: requests to it now get 503 endpoint_inactive.",
    "key-revoked": "API key revoked. Requests with it are refused from now on.",
    "member-added": "The user was added to the project and notified by email.",
    "member-invited": "Invitation sent. It applies when that address creates an account.",
    "member-already": "That address is already a member or invited; nothing changed except the role "
    "of a pending invitation.",
    "role-changed": "Role changed.",
    "member-removed": "Member removed.",
    "invitation-cancelled": "Invitation cancelled.",
}


def empty_forms() -> dict[str, dict[str, str]]:
    return {
        "endpoint": {"slug": "", "upstream_url": "", "upstream_model": "", "rpm": "", "tpm": ""},
        "key": {
            "name": "",
            "environment": "development",
            "expires_in": "never",
            "endpoint": "",
            "allowed_ips": "",
        },
        "invite": {"email": "", "role": "member"},
    }


@dataclass(slots=True)
class KeyRow:
    record: ApiKey
    status: str
    endpoint: str | None
    networks: list[str] = field(default_factory=list)


def status_of(exc: XerotierError) -> int:
    return 409 if isinstance(exc, AlreadyExistsError) else 400


async def render_project(
    request: Request,
    session: AsyncSession,
    found: Membership,
    user: User,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    form: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    """The page, optionally with an error and the values of the form that caused it (``form``)."""
    project = found.project
    endpoints = await service.list_endpoints(session, project)
    slugs = {e.id: e.slug for e in endpoints}
    at = access.now(request)
    key_rows = [
        KeyRow(
            record=k,
            status=key_status(k, at),
            endpoint=slugs.get(k.endpoint_id) if k.endpoint_id else None,
            networks=orjson.loads(k.allowed_cidrs) if k.allowed_cidrs else [],
        )
        for k in reversed(await keys.list_api_keys(session, project))
    ]
    forms = empty_forms()
    if form is not None and values is not None:
        forms[form].update(values)
    context: dict[str, Any] = {
        "project": project,
        "role": found.role,
        "is_owner": found.is_owner,
        "endpoints": endpoints,
        "inference_base": runtime(request).accounts.link(f"/{project.external_id}"),
        "keys": key_rows,
        "members": await members.list_members(session, project),
        "invitations": await members.list_invitations(session, project),
        "forms": forms,
        "open_form": form,
        "environments": [e.value for e in KeyEnvironment],
        "expiry_choices": EXPIRY_CHOICES,
        "roles": [r.value for r in MemberRole],
    }
    return runtime(request).templates.render(
        request, "projects/project.html", status=status, error=error, notice=notice, **context
    )


def back(project_id: str, done: str, anchor: str) -> Response:
    return RedirectResponse(f"/projects/{project_id}?done={done}#{anchor}", status_code=303)


@router.get("/projects/{project_id}")
async def project_page(
    request: Request, session: Db, user: Verified, project_id: str, done: str = ""
) -> Response:
    found = await access.member(session, user, project_id)
    return await render_project(request, session, found, user, notice=NOTICES.get(done))
