"""Imports every model so ``Base.metadata`` is complete (Alembic and tests use this)."""

from xerotier.accounts.models import User
from xerotier.audit.models import AuditEvent
from xerotier.db import Base
from xerotier.projects.models import ApiKey, ChangeCounter, Endpoint, Project, ProjectMember
from xerotier.usage.models import UsageEvent

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "ChangeCounter",
    "Endpoint",
    "Project",
    "ProjectMember",
    "UsageEvent",
    "User",
]
