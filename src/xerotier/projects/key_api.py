"""API keys in the JSON API: list, create (the full key is in the response, once), read, revoke."""

from __future__ import annotations

from datetime import datetime

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from xerotier.projects import access, keys, operations, service
from xerotier.projects.access import Db, Verified
from xerotier.projects.members import Membership
from xerotier.projects.models import ApiKey
from xerotier.projects.schemas import KeyCreate, KeyCreated, KeyOut

router = APIRouter()


def key_fields(record: ApiKey, endpoints: dict[int, str], at: datetime) -> dict[str, object]:
    return {
        "id": record.external_id,
        "name": record.name,
        "prefix": record.prefix,
        "environment": record.environment,
        "endpoint": endpoints.get(record.endpoint_id) if record.endpoint_id else None,
        "allowed_ips": orjson.loads(record.allowed_cidrs) if record.allowed_cidrs else [],
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "last_used_at": record.last_used_at,
        "last_used_ip": record.last_used_ip,
        "revoked_at": record.revoked_at,
        "status": operations.key_status(record, at),
    }


async def _endpoint_slugs(session: Db, owner: Membership) -> dict[int, str]:
    return {e.id: e.slug for e in await service.list_endpoints(session, owner.project)}


@router.get("/{project_id}/keys", response_model=list[KeyOut], summary="List API keys (never the keys)")
async def list_keys(request: Request, session: Db, user: Verified, project_id: str) -> list[KeyOut]:
    found = await access.member(session, user, project_id)
    slugs, at = await _endpoint_slugs(session, found), access.now(request)
    return [
        KeyOut.model_validate(key_fields(k, slugs, at))
        for k in await keys.list_api_keys(session, found.project)
    ]


@router.post(
    "/{project_id}/keys",
    response_model=KeyCreated,
    status_code=201,
    summary="Create an API key; the response holds the full key, shown this once",
)
async def create_key(
    request: Request, session: Db, user: Verified, project_id: str, body: KeyCreate
) -> KeyCreated:
    owner = await access.owner(session, user, project_id)
    created = await operations.create_key(
        request,
        session,
        owner,
        user,
        name=body.name,
        environment=body.environment,
        endpoint=body.endpoint,
        expires_in=body.expires_in,
        allowed_cidrs=body.allowed_ips,
    )
    fields = key_fields(created.record, await _endpoint_slugs(session, owner), access.now(request))
    return KeyCreated.model_validate({**fields, "key": created.secret})


@router.get("/{project_id}/keys/{key_id}", response_model=KeyOut, summary="One API key (never the key)")
async def get_key(request: Request, session: Db, user: Verified, project_id: str, key_id: str) -> KeyOut:
    found = await access.member(session, user, project_id)
    record = await access.key_in(session, found.project, key_id)
    return KeyOut.model_validate(
        key_fields(record, await _endpoint_slugs(session, found), access.now(request))
    )


@router.delete(
    "/{project_id}/keys/{key_id}",
    status_code=204,
    summary="Revoke an API key for good (immediate; repeating it is harmless)",
)
async def revoke_key(request: Request, session: Db, user: Verified, project_id: str, key_id: str) -> Response:
    owner = await access.owner(session, user, project_id)
    await operations.revoke_key(request, session, owner, user, key_id)
    return Response(status_code=204)
