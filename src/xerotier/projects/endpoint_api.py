"""Endpoints in the JSON API: list, create, read, change (PATCH). The upstream key is write-only."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request

from xerotier.errors import ValidationError
from xerotier.projects import access, operations, service
from xerotier.projects.access import Db, Verified
from xerotier.projects.models import Endpoint, Project
from xerotier.projects.schemas import EndpointCreate, EndpointOut, EndpointUpdate
from xerotier.web.deps import runtime

router = APIRouter()


def endpoint_out(request: Request, project: Project, endpoint: Endpoint) -> EndpointOut:
    return EndpointOut(
        slug=endpoint.slug,
        base_url=runtime(request).accounts.link(f"/{project.external_id}/{endpoint.slug}/v1"),
        upstream_url=endpoint.upstream_url,
        upstream_model=endpoint.upstream_model,
        has_upstream_key=endpoint.upstream_key_encrypted is not None,
        rpm_limit=endpoint.rpm_limit,
        tpm_limit=endpoint.tpm_limit,
        active=endpoint.is_active,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


@router.get("/{project_id}/endpoints", response_model=list[EndpointOut], summary="List endpoints")
async def list_endpoints(request: Request, session: Db, user: Verified, project_id: str) -> list[EndpointOut]:
    found = await access.member(session, user, project_id)
    rows = await service.list_endpoints(session, found.project)
    return [endpoint_out(request, found.project, e) for e in rows]


@router.post(
    "/{project_id}/endpoints", response_model=EndpointOut, status_code=201, summary="Create an endpoint"
)
async def create_endpoint(
    request: Request, session: Db, user: Verified, project_id: str, body: EndpointCreate
) -> EndpointOut:
    owner = await access.owner(session, user, project_id)
    endpoint = await operations.create_endpoint(
        request,
        session,
        owner,
        user,
        slug=body.slug,
        upstream_url=body.upstream_url,
        upstream_model=body.upstream_model,
        upstream_key=body.upstream_key,
        rpm_limit=body.rpm_limit,
        tpm_limit=body.tpm_limit,
    )
    return endpoint_out(request, owner.project, endpoint)


@router.get("/{project_id}/endpoints/{slug}", response_model=EndpointOut, summary="One endpoint")
async def get_endpoint(
    request: Request, session: Db, user: Verified, project_id: str, slug: str
) -> EndpointOut:
    found = await access.member(session, user, project_id)
    return endpoint_out(request, found.project, await service.get_endpoint(session, found.project, slug))


@router.patch("/{project_id}/endpoints/{slug}", response_model=EndpointOut, summary="Change an endpoint")
async def update_endpoint(
    request: Request, session: Db, user: Verified, project_id: str, slug: str, body: EndpointUpdate
) -> EndpointOut:
    owner = await access.owner(session, user, project_id)
    endpoint = await service.get_endpoint(session, owner.project, slug)
    given = body.model_fields_set
    for required in ("upstream_url", "active"):
        if required in given and getattr(body, required) is None:
            raise ValidationError(f"{required} cannot be null", param=required)
    changes = {name: getattr(body, name) for name in given if name != "active"}
    await service.update_endpoint(
        session,
        endpoint=endpoint,
        key_ring=runtime(request).secrets.key_ring,
        now=access.now(request),
        actor=access.actor(request, user),
        **changes,
    )
    if body.active is not None:
        endpoint = await operations.set_active(request, session, owner, user, slug, active=body.active)
    return endpoint_out(request, owner.project, endpoint)
