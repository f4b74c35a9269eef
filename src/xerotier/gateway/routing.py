"""In-memory routing table: every project and endpoint, reloaded when the change counter moves.

Projects and endpoints number in the thousands at most, so holding all of them lets the hot path
route without a database read and keeps routing alive while the database is briefly away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from xerotier.gateway.egress import Network, url_denied
from xerotier.projects.models import Endpoint, Project
from xerotier.projects.service import UPSTREAM_KEY_AAD
from xerotier.security.crypto import KeyRing


@dataclass(slots=True)
class EndpointConfig:
    id: int
    project_id: int
    slug: str
    upstream_url: str
    upstream_model: str | None
    upstream_authorization: bytes | None  # b"Bearer …", decrypted once per reload
    rpm_limit: int | None
    tpm_limit: int | None
    active: bool
    created: int  # epoch seconds, shown as the model's `created`
    egress_denied: bool = False  # the URL names an IP literal in a denied network (SSRF guard)
    # Built once per reload rather than per request: rate-limit bucket names, the constant
    # x-ratelimit-limit-* response headers and the headers sent upstream (minus the request id).
    rpm_bucket: str = ""
    tpm_bucket: str = ""
    rpm_limit_header: tuple[bytes, bytes] = (b"", b"")
    tpm_limit_header: tuple[bytes, bytes] = (b"", b"")
    upstream_headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rpm_bucket = f"rpm:{self.id}"
        self.tpm_bucket = f"tpm:{self.id}"
        self.rpm_limit_header = (b"x-ratelimit-limit-requests", b"%d" % (self.rpm_limit or 0))
        self.tpm_limit_header = (b"x-ratelimit-limit-tokens", b"%d" % (self.tpm_limit or 0))
        self.upstream_headers = {"Content-Type": "application/json"}
        if self.upstream_authorization is not None:
            self.upstream_headers["Authorization"] = self.upstream_authorization.decode()


@dataclass(slots=True)
class ProjectConfig:
    id: int
    external_id: str
    slug: str
    endpoints: dict[str, EndpointConfig] = field(default_factory=dict)


@dataclass(slots=True)
class RoutingTable:
    by_external_id: dict[str, ProjectConfig] = field(default_factory=dict)
    by_id: dict[int, ProjectConfig] = field(default_factory=dict)


async def load_routing_table(
    conn: AsyncConnection, key_ring: KeyRing, denied_networks: Sequence[Network] = ()
) -> RoutingTable:
    table = RoutingTable()
    for row in await conn.execute(select(Project.id, Project.external_id, Project.slug)):
        project = ProjectConfig(id=row.id, external_id=row.external_id, slug=row.slug)
        table.by_external_id[project.external_id] = project
        table.by_id[project.id] = project
    for ep in (await conn.execute(select(Endpoint))).all():
        owner = table.by_id.get(ep.project_id)
        if owner is None:
            continue
        auth = None
        if ep.upstream_key_encrypted:
            auth = b"Bearer " + key_ring.decrypt(ep.upstream_key_encrypted, aad=UPSTREAM_KEY_AAD).encode()
        owner.endpoints[ep.slug] = EndpointConfig(
            id=ep.id,
            project_id=ep.project_id,
            slug=ep.slug,
            upstream_url=ep.upstream_url,
            upstream_model=ep.upstream_model,
            upstream_authorization=auth,
            rpm_limit=ep.rpm_limit,
            tpm_limit=ep.tpm_limit,
            active=ep.is_active,
            created=int(ep.created_at.timestamp()),
            egress_denied=url_denied(ep.upstream_url, denied_networks),
        )
    return table
