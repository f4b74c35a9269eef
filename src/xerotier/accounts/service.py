"""User management that needs no web: creation and lookup."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.accounts.models import Role, User
from xerotier.audit import store as audit
from xerotier.audit.models import AuditAction
from xerotier.errors import AlreadyExistsError, NotFoundError, ValidationError

# Deliberately loose: the verification email (dashboard issue) is the real check.
_EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")  # used with fullmatch


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    printable = all(ch.isprintable() for ch in value)  # no NUL, controls, line or format characters
    if len(value) > 320 or not printable or not _EMAIL_RE.fullmatch(value):
        raise ValidationError(f"not a valid email address: {email!r}", param="email")
    return value


async def find_user(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalize_email(email)))


async def get_user(session: AsyncSession, email: str) -> User:
    user = await find_user(session, email)
    if user is None:
        raise NotFoundError(f"no user with email {email!r}", param="email")
    return user


async def create_user(
    session: AsyncSession, *, email: str, admin: bool, verified: bool, now: datetime, actor: audit.Actor
) -> User:
    address = normalize_email(email)
    if await session.scalar(select(User.id).where(User.email == address)) is not None:
        raise AlreadyExistsError(f"a user with email {address!r} already exists", param="email")
    user = User(
        email=address,
        role=Role.ADMIN if admin else Role.USER,
        email_verified_at=now if verified else None,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    audit.record(
        session,
        action=AuditAction.USER_CREATE,
        actor=actor,
        now=now,
        target=address,
        details={"role": user.role},
    )
    return user
