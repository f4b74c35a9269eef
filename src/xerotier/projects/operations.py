"""Changes to a project made from the dashboard, shared by the HTML pages and the JSON API.

Each takes the owner's membership (so the caller has already checked the role) and the request
(for the clock, the server secrets and the key cache) and calls the domain services.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from xerotier.accounts.models import User
from xerotier.accounts.service import normalize_email
from xerotier.accounts.throttle import Action
from xerotier.audit import store as audit
from xerotier.audit.models import AuditAction
from xerotier.errors import NotFoundError, ValidationError
from xerotier.mail import messages
from xerotier.projects import keys, members, service, validation
from xerotier.projects.access import actor, key_in, now
from xerotier.projects.members import Membership
from xerotier.projects.models import ApiKey, Endpoint, ProjectInvitation
from xerotier.web.deps import client_ip, runtime

NEVER = "never"
MAX_CIDR_TEXT = 8000
_SEPARATORS = re.compile(r"[\s,]+")


def parse_expiry(value: str | None) -> timedelta | None:
    """``None``, ``""`` or ``"never"`` mean no expiry; otherwise a duration such as ``30d``."""
    if value is None or value.strip() in ("", NEVER):
        return None
    return validation.duration(value)


def split_cidrs(text: str) -> list[str]:
    """One network per line or comma-separated, as typed into the key form."""
    if len(text) > MAX_CIDR_TEXT:
        raise ValidationError("the allowed IP list is too long", param="allowed_ips")
    return [item for item in _SEPARATORS.split(text) if item]


def parse_limit(text: str, *, what: str) -> int | None:
    """A form's limit field: empty means no limit."""
    text = text.strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        raise ValidationError(f"{what} must be a whole number (or empty for no limit)", param=what)
    return int(text)


def key_status(record: ApiKey, at: datetime) -> str:
    if record.revoked_at is not None:
        return "revoked"
    if record.expires_at is not None and record.expires_at <= at:
        return "expired"
    return "active"


async def create_endpoint(
    request: Request,
    session: AsyncSession,
    owner: Membership,
    user: User,
    *,
    slug: str,
    upstream_url: str,
    upstream_model: str | None,
    upstream_key: str | None,
    rpm_limit: int | None,
    tpm_limit: int | None,
) -> Endpoint:
    return await service.create_endpoint(
        session,
        project=owner.project,
        slug=validation.slug(slug.strip().lower(), what="slug"),
        upstream_url=upstream_url,
        upstream_model=upstream_model,
        upstream_key=upstream_key,
        rpm_limit=rpm_limit,
        tpm_limit=tpm_limit,
        key_ring=runtime(request).secrets.key_ring,
        now=now(request),
        actor=actor(request, user),
    )


async def set_active(
    request: Request, session: AsyncSession, owner: Membership, user: User, slug: str, *, active: bool
) -> Endpoint:
    endpoint = await service.get_endpoint(session, owner.project, slug)
    if endpoint.is_active == active:
        return endpoint
    return await service.set_endpoint_active(
        session, endpoint=endpoint, active=active, now=now(request), actor=actor(request, user)
    )


async def create_key(
    request: Request,
    session: AsyncSession,
    owner: Membership,
    user: User,
    *,
    name: str,
    environment: str,
    endpoint: str | None,
    expires_in: str | None,
    allowed_cidrs: list[str],
) -> keys.CreatedKey:
    bound = None
    if endpoint:
        try:
            bound = await service.get_endpoint(session, owner.project, endpoint)
        except NotFoundError:
            raise ValidationError(f"no endpoint {endpoint!r} in this project", param="endpoint") from None
    return await keys.create_api_key(
        session,
        project=owner.project,
        name=name,
        environment=environment,
        endpoint=bound,
        expires_in=parse_expiry(expires_in),
        allowed_cidrs=allowed_cidrs,
        pepper=runtime(request).secrets.api_key_pepper,
        created_by_user_id=user.id,
        now=now(request),
        actor=actor(request, user),
    )


async def revoke_key(
    request: Request, session: AsyncSession, owner: Membership, user: User, key_id: str
) -> bool:
    """Revoke and commit, then evict the key from this process's cache, so the very next request
    with it is refused. Commits the request's transaction: use the session no further."""
    record = await key_in(session, owner.project, key_id)
    record, changed = await keys.revoke_api_key(
        session, external_id=record.external_id, now=now(request), actor=actor(request, user)
    )
    await session.commit()
    # Other processes learn it from the change counter (revoked_seq) within a poll interval.
    runtime(request).keys.mark_revoked([record.digest])
    return changed


InviteOutcome = Literal["added", "invited", "already"]


@dataclass(frozen=True, slots=True)
class InviteResult:
    outcome: InviteOutcome
    email: str
    role: str


async def invite(
    request: Request, session: AsyncSession, owner: Membership, user: User, *, email: str, role: str
) -> InviteResult:
    address = normalize_email(email)
    throttle = runtime(request).accounts.throttle
    await throttle.check(Action.INVITE, account=user.email, ip=client_ip(request))
    await throttle.record(Action.INVITE, account=user.email, ip=client_ip(request))
    outcome, _existing = await members.invite(
        session,
        project=owner.project,
        email=address,
        role=role,
        inviter=user,
        now=now(request),
        actor=actor(request, user),
    )
    await session.flush()  # a conflicting concurrent invitation fails here, before any mail leaves
    rt = runtime(request)
    name = owner.project.name
    if outcome == "added":
        link = rt.accounts.link(f"/projects/{owner.project.external_id}")
        rt.outbox.send(messages.added_to_project(address, name, user.email, link))
    elif outcome == "invited":
        rt.outbox.send(messages.invitation(address, name, user.email, rt.accounts.link("/auth/register")))
    return InviteResult(outcome=cast(InviteOutcome, outcome), email=address, role=role)


async def cancel_invitation(
    request: Request, session: AsyncSession, owner: Membership, user: User, invitation_id: int
) -> None:
    invitation = await session.scalar(
        select(ProjectInvitation).where(
            ProjectInvitation.id == invitation_id, ProjectInvitation.project_id == owner.project.id
        )
    )
    if invitation is None:
        raise NotFoundError("No such invitation in this project.", param="invitation_id")
    await members.cancel_invitation(session, project=owner.project, invitation_id=invitation_id)
    audit.record(
        session,
        action=AuditAction.INVITATION_CANCEL,
        actor=actor(request, user),
        now=now(request),
        target=invitation.email,
        project_id=owner.project.id,
    )
