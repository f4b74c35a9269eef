"""API key forms: create (the full key is on the POST response, once) and revoke."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Form
from starlette.requests import Request
from starlette.responses import Response

from xerotier.errors import ValidationError
from xerotier.projects import access, operations
from xerotier.projects.access import Db, Verified
from xerotier.projects.project_pages import back, render_project
from xerotier.web.deps import runtime

router = APIRouter(include_in_schema=False)
Short = Annotated[str, Form(max_length=100)]


@router.post("/projects/{project_id}/keys")
async def create_key(
    request: Request,
    session: Db,
    user: Verified,
    project_id: str,
    name: Annotated[str, Form(max_length=1000)] = "",
    environment: Short = "development",
    expires_in: Short = "never",
    endpoint: Short = "",
    allowed_ips: Annotated[str, Form(max_length=operations.MAX_CIDR_TEXT)] = "",
) -> Response:
    owner = await access.owner(session, user, project_id)
    try:
        created = await operations.create_key(
            request,
            session,
            owner,
            user,
            name=name,
            environment=environment,
            endpoint=endpoint.strip() or None,
            expires_in=expires_in,
            allowed_cidrs=operations.split_cidrs(allowed_ips),
        )
    except ValidationError as exc:
        values = {
            "name": name,
            "environment": environment,
            "expires_in": expires_in,
            "endpoint": endpoint,
            "allowed_ips": allowed_ips,
        }
        return await render_project(
            request, session, owner, user, status=400, error=exc.message, form="key", values=values
        )
    # Rendered on the POST response itself (no redirect, so the key is in no URL and no history
    # entry can show it again); the security headers mark every page no-store.
    return runtime(request).templates.render(
        request,
        "projects/key_created.html",
        project=owner.project,
        record=created.record,
        secret=created.secret,
        endpoint=endpoint.strip() or None,
        networks=orjson.loads(created.record.allowed_cidrs) if created.record.allowed_cidrs else [],
        inference_base=runtime(request).accounts.link(f"/{owner.project.external_id}"),
    )


@router.post("/projects/{project_id}/keys/{key_id}/revoke")
async def revoke_key(request: Request, session: Db, user: Verified, project_id: str, key_id: str) -> Response:
    owner = await access.owner(session, user, project_id)
    await operations.revoke_key(request, session, owner, user, key_id)
    return back(project_id, "key-revoked", "keys")
