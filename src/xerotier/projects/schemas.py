"""Request and response bodies of the project JSON API (documented at /api/openapi.json).

Request bodies are strict: unknown fields, wrong JSON types and over-long strings are refused
with 400 before any handler runs. Upstream API keys appear in requests only, never in responses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from xerotier.projects.service import MAX_LIMIT, MAX_UPSTREAM_KEY, MAX_UPSTREAM_MODEL, MAX_UPSTREAM_URL
from xerotier.projects.validation import MAX_CIDRS

Role = Literal["owner", "member"]
EnvironmentName = Literal["development", "staging", "production"]
KeyStatus = Literal["active", "revoked", "expired"]
Slug = Annotated[str, Field(min_length=1, max_length=40)]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
Url = Annotated[str, Field(min_length=1, max_length=MAX_UPSTREAM_URL)]
Model = Annotated[str, Field(max_length=MAX_UPSTREAM_MODEL)]
UpstreamKey = Annotated[str, Field(max_length=MAX_UPSTREAM_KEY, description="Write-only; never returned.")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# -- projects ----------------------------------------------------------------------------------


class ProjectOut(BaseModel):
    id: str = Field(description="External id (proj_…), used in URLs.")
    slug: str
    name: str
    role: Role = Field(description="Your role in the project.")
    created_at: datetime


class ProjectCreate(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    slug: Slug


# -- endpoints ---------------------------------------------------------------------------------


class EndpointOut(BaseModel):
    slug: str
    base_url: str = Field(description="What clients pass to an OpenAI SDK as base_url.")
    upstream_url: str
    upstream_model: str | None
    has_upstream_key: bool
    rpm_limit: int | None
    tpm_limit: int | None
    active: bool
    created_at: datetime
    updated_at: datetime


class EndpointCreate(Body):
    slug: Slug
    upstream_url: Url
    upstream_model: Model | None = None
    upstream_key: UpstreamKey | None = None
    rpm_limit: Limit | None = None
    tpm_limit: Limit | None = None


class EndpointUpdate(Body):
    """Only the fields present change; ``null`` clears the upstream model, key or a limit."""

    upstream_url: Url | None = None
    upstream_model: Model | None = None
    upstream_key: UpstreamKey | None = None
    rpm_limit: Limit | None = None
    tpm_limit: Limit | None = None
    active: bool | None = None


# -- API keys ----------------------------------------------------------------------------------


class KeyOut(BaseModel):
    id: str = Field(description="Key id (key_…); not the key itself.")
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    environment: EnvironmentName
    endpoint: str | None = Field(description="The only endpoint the key works on, if bound.")
    allowed_ips: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None
    revoked_at: datetime | None
    status: KeyStatus


class KeyCreated(KeyOut):
    key: str = Field(description="The full API key. Returned this once; only a digest is stored.")


class KeyCreate(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    environment: EnvironmentName = "development"
    endpoint: Slug | None = Field(default=None, description="Bind the key to this endpoint only.")
    expires_in: Annotated[str, Field(max_length=16)] | None = Field(
        default=None, description="Lifetime such as 7d, 12h or 2w; null or 'never' for no expiry."
    )
    allowed_ips: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=MAX_CIDRS)] = Field(
        default_factory=list, description="Client addresses or CIDR networks; empty allows any."
    )


# -- members -----------------------------------------------------------------------------------


class MemberOut(BaseModel):
    user_id: int
    email: str
    role: Role


class InvitationOut(BaseModel):
    id: int
    email: str
    role: Role
    created_at: datetime


class MembersOut(BaseModel):
    members: list[MemberOut]
    invitations: list[InvitationOut] = Field(description="Pending: applied when the address registers.")


class InviteIn(Body):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    role: Role = "member"


class InviteOut(BaseModel):
    result: Literal["added", "invited", "already"] = Field(
        description="added: an existing user joined now; invited: pending until the address registers; "
        "already: a member or pending invitation exists — a pending invitation takes the requested role, "
        "a member keeps theirs (change it with PATCH)."
    )
    email: str
    role: Role


class RoleIn(Body):
    role: Role


# -- usage -------------------------------------------------------------------------------------


class UsageTotals(BaseModel):
    requests: int
    errors: int = Field(description="Requests answered with status 400 or above.")
    prompt_tokens: int
    completion_tokens: int


class UsagePoint(UsageTotals):
    start: datetime = Field(description="Start of the bucket (UTC).")


class UsageSeriesOut(BaseModel):
    bucket: Literal["hour", "day"]
    start: datetime
    end: datetime
    key: str | None
    endpoint: str | None
    total: UsageTotals
    points: list[UsagePoint]
