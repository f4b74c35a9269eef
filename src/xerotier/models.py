"""Imports every model so ``Base.metadata`` is complete (Alembic and tests use this)."""

from xerotier.accounts.models import EmailToken, User, UserSession
from xerotier.audit.models import AuditEvent
from xerotier.db import Base
from xerotier.projects.models import (
    ApiKey,
    ChangeCounter,
    Endpoint,
    Project,
    ProjectInvitation,
    ProjectMember,
)
from xerotier.usage.models import UsageEvent

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "ChangeCounter",
    "EmailToken",
    "Endpoint",
    "Project",
    "ProjectInvitation",
    "ProjectMember",
    "UsageEvent",
    "User",
    "UserSession",
]
