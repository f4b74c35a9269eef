"""FastAPI dependencies shared by dashboard pages and the JSON API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from xerotier.accounts.models import User
from xerotier.errors import ErrorCode, XerotierError
from xerotier.web.auth_state import auth_of

if TYPE_CHECKING:
    from xerotier.app import Runtime


class SignInRequired(XerotierError):
    code = ErrorCode.INVALID_CREDENTIALS


class VerificationRequired(XerotierError):
    code = ErrorCode.EMAIL_NOT_VERIFIED


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def db(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed when the handler returns normally."""
    async with runtime(request).sessions() as session, session.begin():
        yield session


def current_user(request: Request) -> User:
    user = auth_of(request).user
    if user is None:
        raise SignInRequired("Sign in to continue.")
    return user


def verified_user(request: Request) -> User:
    user = current_user(request)
    if not user.is_verified:
        raise VerificationRequired("Verify your email address first.")
    return user


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# scope="function": the transaction commits before the response is sent, so a client that acts on
# the response (follows the post-login redirect, uses a just-revoked key) sees the change.
Db = Annotated[AsyncSession, Depends(db, scope="function")]

# Integer ids in paths: bounded to the id columns' range (32-bit INTEGER on PostgreSQL), so a huge
# id is a 400, not a database error.
IntId = Annotated[int, Path(ge=1, le=2**31 - 1)]
