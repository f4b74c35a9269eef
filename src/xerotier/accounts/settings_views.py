"""Account settings: sessions (list, revoke) and password change — pages and JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xerotier.accounts import auth, sessions
from xerotier.accounts.models import User, UserSession
from xerotier.audit import store as audit
from xerotier.audit.models import AuditAction
from xerotier.errors import NotFoundError, ValidationError
from xerotier.web import cookies
from xerotier.web.auth_state import auth_of
from xerotier.web.deps import Db, IntId, client_ip, current_user, runtime
from xerotier.web.session_middleware import csrf_token_for

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/account", tags=["account"])
SignedIn = Annotated[User, Depends(current_user)]


class SessionOut(BaseModel):
    id: int
    ip: str | None
    user_agent: str | None
    created_at: str
    last_seen_at: str
    current: bool


async def _sessions_page(
    request: Request,
    session: AsyncSession,
    user: User,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    rows = await sessions.list_live(session, user_id=user.id, now=runtime(request).clock())
    return runtime(request).templates.render(
        request, "account/index.html", status=status, sessions=rows, error=error, notice=notice
    )


@pages.get("/account")
async def account(request: Request, session: Db, user: SignedIn) -> Response:
    return await _sessions_page(request, session, user)


@pages.post("/account/password")
async def change_password(
    request: Request,
    session: Db,
    user: SignedIn,
    current_password: Annotated[str, Form(max_length=4096)],
    new_password: Annotated[str, Form(max_length=4096)],
) -> Response:
    rt = runtime(request)
    state = auth_of(request)
    assert state.session is not None
    try:
        await auth.change_password(
            session,
            rt.accounts,
            user=user,
            current=current_password,
            new=new_password,
            keep_session_id=state.session.id,
            ip=client_ip(request),
            now=rt.clock(),
        )
    except (auth.InvalidCredentials, ValidationError) as exc:
        return await _sessions_page(request, session, user, status=400, error=exc.message)
    # This browser stays signed in, but under a new session id: the old one is dead everywhere.
    now = rt.clock()
    await sessions.revoke(session, session_id=state.session.id, user_id=user.id, now=now)
    token, row = await sessions.create(
        session, user=user, ip=client_ip(request), user_agent=request.headers.get("user-agent"), now=now
    )
    state.session = row
    state.csrf_token = csrf_token_for(rt.secrets.csrf_key, session_token=token, presession=None)
    response = await _sessions_page(
        request, session, user, notice="Password changed. Other sessions were signed out."
    )
    response.headers.append("set-cookie", cookies.header(cookies.SESSION, token).decode())
    return response


async def _revoke(request: Request, session: AsyncSession, user: User, session_id: int) -> bool:
    now = runtime(request).clock()
    done = await sessions.revoke(session, session_id=session_id, user_id=user.id, now=now)
    if done:
        audit.record(
            session,
            action=AuditAction.SESSION_REVOKE,
            actor=audit.Actor(user.id, user.email, client_ip(request)),
            now=now,
            target=f"session:{session_id}",
        )
    return done


@pages.post("/account/sessions/{session_id}/revoke")
async def revoke_session(request: Request, session: Db, user: SignedIn, session_id: IntId) -> Response:
    await _revoke(request, session, user, session_id)
    state = auth_of(request)
    if state.session is not None and state.session.id == session_id:
        return RedirectResponse("/auth/login", status_code=303)
    return RedirectResponse("/account", status_code=303)


def _out(row: UserSession, current: UserSession | None) -> SessionOut:
    return SessionOut(
        id=row.id,
        ip=row.ip,
        user_agent=row.user_agent,
        created_at=row.created_at.isoformat(),
        last_seen_at=row.last_seen_at.isoformat(),
        current=current is not None and row.id == current.id,
    )


@api.get("/sessions", response_model=list[SessionOut], summary="List your active sessions")
async def list_sessions(request: Request, session: Db, user: SignedIn) -> list[SessionOut]:
    rows = await sessions.list_live(session, user_id=user.id, now=runtime(request).clock())
    return [_out(r, auth_of(request).session) for r in rows]


@api.delete("/sessions/{session_id}", status_code=204, summary="Sign a session out")
async def delete_session(request: Request, session: Db, user: SignedIn, session_id: IntId) -> Response:
    if not await _revoke(request, session, user, session_id):
        raise NotFoundError("No such active session.", param="session_id")
    return Response(status_code=204)
