"""Sign-up, sign-in, email verification, password reset and change — the domain side.

No HTTP here. Answers that could reveal whether an email has an account are the same either way:
registration and reset always "succeed" from the caller's point of view, and an unknown email at
sign-in costs a dummy Argon2 verification so it takes as long as a wrong password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.accounts import email_tokens, sessions
from xerotier.accounts.models import Role, TokenPurpose, User
from xerotier.accounts.service import find_user, normalize_email
from xerotier.accounts.throttle import Action, Throttle
from xerotier.audit import store as audit
from xerotier.audit.models import AuditAction
from xerotier.errors import ErrorCode, ValidationError, XerotierError
from xerotier.mail import messages
from xerotier.mail.outbox import Outbox
from xerotier.projects import members
from xerotier.security import password_policy, passwords


class InvalidCredentials(XerotierError):
    code = ErrorCode.INVALID_CREDENTIALS


class InvalidToken(XerotierError):
    code = ErrorCode.INVALID_TOKEN


@dataclass(frozen=True, slots=True)
class AccountServices:
    """Collaborators of the account flows (passed in; no globals)."""

    outbox: Outbox
    throttle: Throttle
    base_url: str

    def link(self, path: str) -> str:
        return self.base_url + path


def check_policy(password: str, email: str | None) -> None:
    """Raise ``ValidationError`` (with a message for the user) when the password must be refused."""
    try:
        password_policy.check(password, email=email)
    except password_policy.WeakPasswordError as exc:
        raise ValidationError(str(exc), param="password") from None


async def _set_password(session: AsyncSession, user: User, password: str, now: datetime) -> None:
    user.password_hash = await passwords.hash_password(password)
    user.password_changed_at = now
    await email_tokens.void_all(session, user_id=user.id, purpose=TokenPurpose.RESET_PASSWORD, now=now)


async def register(
    session: AsyncSession, svc: AccountServices, *, email: str, password: str, ip: str | None, now: datetime
) -> None:
    address = normalize_email(email)
    await svc.throttle.check(Action.REGISTER, account=address, ip=ip)
    check_policy(password, address)
    await svc.throttle.record(Action.REGISTER, account=address, ip=ip)
    password_hash = await passwords.hash_password(password)  # before the lookup: same cost either way
    existing = await find_user(session, address)
    if existing is not None:
        svc.outbox.send(
            messages.already_registered(address, svc.link("/auth/login"), svc.link("/auth/forgot-password"))
        )
        return
    user = User(
        email=address,
        role=Role.USER,
        password_hash=password_hash,
        is_active=True,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    await session.flush()
    token = await email_tokens.issue(session, user_id=user.id, purpose=TokenPurpose.VERIFY_EMAIL, now=now)
    audit.record(
        session,
        action=AuditAction.USER_REGISTER,
        actor=audit.Actor(user.id, address, ip),
        now=now,
        target=address,
    )
    svc.outbox.send(messages.verify_email(address, svc.link(f"/auth/verify?token={token}")))


async def resend_verification(
    session: AsyncSession, svc: AccountServices, *, user: User, now: datetime
) -> None:
    if user.is_verified:
        return
    token = await email_tokens.issue(session, user_id=user.id, purpose=TokenPurpose.VERIFY_EMAIL, now=now)
    svc.outbox.send(messages.verify_email(user.email, svc.link(f"/auth/verify?token={token}")))


async def verify_email(session: AsyncSession, *, token: str, now: datetime) -> User:
    used = await email_tokens.consume(session, token=token, purpose=TokenPurpose.VERIFY_EMAIL, now=now)
    user = await session.get(User, used.user_id) if used and used.user_id else None
    if user is None:
        raise InvalidToken("This verification link is invalid, expired or already used.")
    if user.email_verified_at is None:
        user.email_verified_at = now
        # Invitations apply only once the address is proven: registering someone else's invited
        # address must not open their projects.
        await members.apply_invitations(session, user=user, now=now)
        audit.record(
            session,
            action=AuditAction.EMAIL_VERIFY,
            actor=audit.Actor(user.id, user.email),
            now=now,
            target=user.email,
        )
    return user


async def authenticate(
    session: AsyncSession, svc: AccountServices, *, email: str, password: str, ip: str | None, now: datetime
) -> User:
    """The user for these credentials, or :class:`InvalidCredentials` / ``Throttled``."""
    account = email.strip().lower()[:320]
    async with svc.throttle.serialized(Action.SIGN_IN, account):
        await svc.throttle.check(Action.SIGN_IN, account=account, ip=ip)
        try:
            user = await find_user(session, account)
        except ValidationError:
            user = None
        ok = await passwords.verify_password(user.password_hash if user else None, password[:4096])
        if not ok or user is None or not user.is_active:
            await svc.throttle.record(Action.SIGN_IN, account=account, ip=ip)
    if not ok or user is None or not user.is_active:
        audit.record(
            session,
            action=AuditAction.SIGN_IN_FAILED,
            actor=audit.Actor(None, "anonymous", ip),
            now=now,
            target=account,
            details={"reason": "bad credentials"},
        )
        raise InvalidCredentials("Incorrect email or password.")
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash_password(password)
    # Any sign-in voids outstanding reset links.
    await email_tokens.void_all(session, user_id=user.id, purpose=TokenPurpose.RESET_PASSWORD, now=now)
    audit.record(
        session,
        action=AuditAction.SIGN_IN,
        actor=audit.Actor(user.id, user.email, ip),
        now=now,
        target=user.email,
        details={"method": "password"},
    )
    return user


async def request_password_reset(
    session: AsyncSession, svc: AccountServices, *, email: str, ip: str | None, now: datetime
) -> None:
    account = email.strip().lower()[:320]
    await svc.throttle.check(Action.RESET, account=account, ip=ip)
    await svc.throttle.record(Action.RESET, account=account, ip=ip)
    try:
        user = await find_user(session, account)
    except ValidationError:
        return
    if user is None or not user.is_active:
        return
    token = await email_tokens.issue(session, user_id=user.id, purpose=TokenPurpose.RESET_PASSWORD, now=now)
    audit.record(
        session,
        action=AuditAction.PASSWORD_RESET_REQUEST,
        actor=audit.Actor(None, "anonymous", ip),
        now=now,
        target=user.email,
    )
    svc.outbox.send(messages.reset_password(user.email, svc.link(f"/auth/reset-password?token={token}")))


async def check_reset_token(session: AsyncSession, *, token: str, now: datetime) -> User:
    found = await email_tokens.peek(session, token=token, purpose=TokenPurpose.RESET_PASSWORD, now=now)
    user = await session.get(User, found.user_id) if found and found.user_id else None
    if user is None:
        raise InvalidToken("This reset link is invalid, expired or already used. Ask for a new one.")
    return user


async def reset_password(
    session: AsyncSession, svc: AccountServices, *, token: str, password: str, ip: str | None, now: datetime
) -> User:
    user = await check_reset_token(session, token=token, now=now)
    check_policy(password, user.email)  # before consuming, so a weak choice does not burn the link
    used = await email_tokens.consume(session, token=token, purpose=TokenPurpose.RESET_PASSWORD, now=now)
    if used is None or used.user_id != user.id:
        raise InvalidToken("This reset link is invalid, expired or already used. Ask for a new one.")
    await _set_password(session, user, password, now)
    await sessions.revoke_all(session, user_id=user.id, now=now)
    audit.record(
        session,
        action=AuditAction.PASSWORD_RESET,
        actor=audit.Actor(user.id, user.email, ip),
        now=now,
        target=user.email,
    )
    svc.outbox.send(messages.password_changed(user.email))
    return user


async def change_password(
    session: AsyncSession,
    svc: AccountServices,
    *,
    user: User,
    current: str,
    new: str,
    keep_session_id: int,
    ip: str | None,
    now: datetime,
) -> None:
    # The signed-in user object comes from the middleware's transaction: change the row in this one.
    user = await session.get(User, user.id, populate_existing=True) or user
    async with svc.throttle.serialized(Action.SIGN_IN, user.email):
        await svc.throttle.check(Action.SIGN_IN, account=user.email, ip=ip)
        ok = await passwords.verify_password(user.password_hash, current[:4096])
        if not ok:
            await svc.throttle.record(Action.SIGN_IN, account=user.email, ip=ip)
    if not ok:
        raise InvalidCredentials("The current password is not correct.")
    check_policy(new, user.email)
    await _set_password(session, user, new, now)
    ended = await sessions.revoke_all(session, user_id=user.id, now=now, keep=keep_session_id)
    audit.record(
        session,
        action=AuditAction.PASSWORD_CHANGE,
        actor=audit.Actor(user.id, user.email, ip),
        now=now,
        target=user.email,
        details={"sessions_ended": ended},
    )
    svc.outbox.send(messages.password_changed(user.email))


async def set_password_by_admin(
    session: AsyncSession, *, user: User, password: str, now: datetime, actor: audit.Actor
) -> int:
    """An administrator's reset: every session of the user ends."""
    check_policy(password, user.email)
    await _set_password(session, user, password, now)
    ended = await sessions.revoke_all(session, user_id=user.id, now=now)
    audit.record(
        session,
        action=AuditAction.PASSWORD_SET_BY_ADMIN,
        actor=actor,
        now=now,
        target=user.email,
        details={"sessions_ended": ended},
    )
    return ended


async def first_admin_needed(session: AsyncSession) -> bool:
    """No administrator yet. (Not "no user": open registration must not be able to block set-up.)"""
    admins = await session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN))
    return int(admins or 0) == 0


async def issue_first_admin_token(session: AsyncSession, *, now: datetime) -> str:
    return await email_tokens.issue(session, user_id=None, purpose=TokenPurpose.FIRST_ADMIN, now=now)


async def create_first_admin(
    session: AsyncSession, *, token: str, email: str, password: str, ip: str | None, now: datetime
) -> User:
    address = normalize_email(email)
    if await email_tokens.peek(session, token=token, purpose=TokenPurpose.FIRST_ADMIN, now=now) is None:
        raise InvalidToken("This set-up link is invalid, expired or already used.")
    check_policy(password, address)
    if not await first_admin_needed(session):
        raise InvalidToken("An administrator already exists.")
    if await email_tokens.consume(session, token=token, purpose=TokenPurpose.FIRST_ADMIN, now=now) is None:
        raise InvalidToken("This set-up link is invalid, expired or already used.")
    user = User(
        email=address,
        role=Role.ADMIN,
        password_hash=await passwords.hash_password(password),
        email_verified_at=now,
        is_active=True,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    await session.flush()
    audit.record(
        session,
        action=AuditAction.USER_CREATE,
        actor=audit.Actor(user.id, address, ip),
        now=now,
        target=address,
        details={"role": "admin", "via": "first-run link"},
    )
    return user
