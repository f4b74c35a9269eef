"""Endpoint forms: create, edit (upstream, model, limits, upstream key), activate and deactivate.

The upstream API key is write-only: forms never echo it back and pages only say whether one is set.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from starlette.requests import Request
from starlette.responses import Response

from xerotier.errors import AlreadyExistsError, ValidationError
from xerotier.projects import access, operations, service
from xerotier.projects.access import Db, Verified
from xerotier.projects.models import Endpoint, Project
from xerotier.projects.project_pages import back, render_project, status_of
from xerotier.web.deps import runtime

router = APIRouter(include_in_schema=False)
Slug = Annotated[str, Form(max_length=100)]
Url = Annotated[str, Form(max_length=4096)]
Text = Annotated[str, Form(max_length=1000)]
Secret = Annotated[str, Form(max_length=8192)]
Number = Annotated[str, Form(max_length=40)]


@router.post("/projects/{project_id}/endpoints")
async def create_endpoint(
    request: Request,
    session: Db,
    user: Verified,
    project_id: str,
    slug: Slug = "",
    upstream_url: Url = "",
    upstream_model: Text = "",
    upstream_key: Secret = "",
    rpm: Number = "",
    tpm: Number = "",
) -> Response:
    owner = await access.owner(session, user, project_id)
    try:
        await operations.create_endpoint(
            request,
            session,
            owner,
            user,
            slug=slug,
            upstream_url=upstream_url,
            upstream_model=upstream_model,
            upstream_key=upstream_key,
            rpm_limit=operations.parse_limit(rpm, what="rpm"),
            tpm_limit=operations.parse_limit(tpm, what="tpm"),
        )
    except (ValidationError, AlreadyExistsError) as exc:
        values = {"slug": slug, "upstream_url": upstream_url, "upstream_model": upstream_model}
        return await render_project(
            request,
            session,
            owner,
            user,
            status=status_of(exc),
            error=exc.message,
            form="endpoint",
            values={**values, "rpm": rpm, "tpm": tpm},
        )
    return back(project_id, "endpoint-created", "endpoints")


def _edit_page(
    request: Request,
    endpoint: Endpoint,
    project: Project,
    values: dict[str, str],
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    return runtime(request).templates.render(
        request,
        "projects/endpoint_edit.html",
        status=status,
        error=error,
        project=project,
        project_id=project.external_id,
        endpoint=endpoint,
        values=values,
    )


@router.get("/projects/{project_id}/endpoints/{slug}")
async def edit_endpoint_page(
    request: Request, session: Db, user: Verified, project_id: str, slug: str
) -> Response:
    owner = await access.owner(session, user, project_id)
    endpoint = await service.get_endpoint(session, owner.project, slug)
    values = {
        "upstream_url": endpoint.upstream_url,
        "upstream_model": endpoint.upstream_model or "",
        "rpm": str(endpoint.rpm_limit or ""),
        "tpm": str(endpoint.tpm_limit or ""),
    }
    return _edit_page(request, endpoint, owner.project, values)


@router.post("/projects/{project_id}/endpoints/{slug}")
async def update_endpoint(
    request: Request,
    session: Db,
    user: Verified,
    project_id: str,
    slug: str,
    upstream_url: Url = "",
    upstream_model: Text = "",
    upstream_key: Secret = "",
    clear_upstream_key: Annotated[str, Form(max_length=10)] = "",
    rpm: Number = "",
    tpm: Number = "",
) -> Response:
    owner = await access.owner(session, user, project_id)
    endpoint = await service.get_endpoint(session, owner.project, slug)
    new_key: str | service.Keep | None = service.KEEP
    try:
        if clear_upstream_key and upstream_key.strip():
            raise ValidationError("Either enter a new upstream key or remove the stored one, not both.")
        if clear_upstream_key:
            new_key = None
        elif upstream_key.strip():
            new_key = upstream_key
        await service.update_endpoint(
            session,
            endpoint=endpoint,
            key_ring=runtime(request).secrets.key_ring,
            now=access.now(request),
            actor=access.actor(request, user),
            upstream_url=upstream_url,
            upstream_model=upstream_model,
            upstream_key=new_key,
            rpm_limit=operations.parse_limit(rpm, what="rpm"),
            tpm_limit=operations.parse_limit(tpm, what="tpm"),
        )
    except ValidationError as exc:
        values = {"upstream_url": upstream_url, "upstream_model": upstream_model, "rpm": rpm, "tpm": tpm}
        return _edit_page(request, endpoint, owner.project, values, status=400, error=exc.message)
    return back(project_id, "endpoint-updated", "endpoints")


@router.post("/projects/{project_id}/endpoints/{slug}/activate")
async def activate(request: Request, session: Db, user: Verified, project_id: str, slug: str) -> Response:
    owner = await access.owner(session, user, project_id)
    await operations.set_active(request, session, owner, user, slug, active=True)
    return back(project_id, "endpoint-activated", "endpoints")


@router.post("/projects/{project_id}/endpoints/{slug}/deactivate")
async def deactivate(request: Request, session: Db, user: Verified, project_id: str, slug: str) -> Response:
    owner = await access.owner(session, user, project_id)
    await operations.set_active(request, session, owner, user, slug, active=False)
    return back(project_id, "endpoint-deactivated", "endpoints")
