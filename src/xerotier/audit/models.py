from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xerotier.db import Base, UTCDateTime


class AuditAction(StrEnum):
    USER_CREATE = "user.create"
    PROJECT_CREATE = "project.create"
    ENDPOINT_CREATE = "endpoint.create"
    ENDPOINT_UPDATE = "endpoint.update"
    API_KEY_CREATE = "api_key.create"
    API_KEY_REVOKE = "api_key.revoke"
    ENDPOINT_DEACTIVATE = "endpoint.deactivate"
    USER_REGISTER = "user.register"
    EMAIL_VERIFY = "user.email_verify"
    SIGN_IN = "auth.sign_in"
    SIGN_IN_FAILED = "auth.sign_in_failed"
    SIGN_IN_THROTTLED = "auth.sign_in_throttled"
    SIGN_OUT = "auth.sign_out"
    PASSWORD_CHANGE = "auth.password_change"
    PASSWORD_RESET_REQUEST = "auth.password_reset_request"
    PASSWORD_RESET = "auth.password_reset"
    PASSWORD_SET_BY_ADMIN = "admin.password_set"
    SESSION_REVOKE = "auth.session_revoke"
    MEMBER_ADD = "project.member_add"
    MEMBER_INVITE = "project.member_invite"
    MEMBER_REMOVE = "project.member_remove"
    INVITATION_CANCEL = "project.invitation_cancel"
    MEMBER_ROLE = "project.member_role"


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(64))
    # NULL actor with actor_label "cli" means an operator at the command line.
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    details: Mapped[str | None] = mapped_column(Text)  # JSON; never secrets


Index("ix_audit_events_actor_created", AuditEvent.actor_user_id, AuditEvent.created_at)
Index("ix_audit_events_created", AuditEvent.created_at)
